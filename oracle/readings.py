"""From samples to readings: plausibility checks, then power integrated over real elapsed time
into cumulative Wh counters (what a real meter keeps; they never go back to zero)."""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from daisee.chain import pack_reading
from oracle.drivers import Sample

MAX_TIMESTAMP = 2**40 - 1  # uint40 on-chain


@dataclass(frozen=True)
class MeterState:
    """What the oracle remembers of a meter between samples (persisted with every reading)."""

    seq: int = 0
    timestamp: float = 0.0  # last accepted sample, or the chain's last reading when seeded
    produced_w: float | None = None  # None: no previous sample to integrate from
    consumed_w: float | None = None
    produced_wh: float = 0.0
    consumed_wh: float = 0.0
    soc_permille: int | None = None


@dataclass(frozen=True)
class Reading:
    """One row of the queue, as the contract's Reading struct."""

    meter_id: int
    seq: int
    timestamp: int
    produced_wh: int
    consumed_wh: int
    soc_permille: int

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        return (self.meter_id, self.seq, self.timestamp, self.produced_wh, self.consumed_wh, self.soc_permille)

    def packed(self) -> int:
        """The contract's one-word reading."""
        return pack_reading(*self.as_tuple())


def rejection(sample: Sample, state: MeterState, limits, now: float, recent: Sequence[Sample] = ()) -> str | None:
    """Why `sample` cannot be a reading, or None when it is plausible. `recent`: the samples read
    from the meter just before it, accepted or not (newest last), which can confirm a power step."""
    if sample.fault is not None:
        return sample.fault
    values = {"timestamp": sample.timestamp, "produced_w": sample.produced_w, "consumed_w": sample.consumed_w}
    for name, value in values.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{name} is not a finite number ({value!r})"
    for name in ("produced_w", "consumed_w"):
        value = values[name]
        if value < 0:
            return f"{name} is negative ({value} W)"
        if value > limits.max_power_w:
            return f"{name} {value} W above max_power_w {limits.max_power_w} W"
        previous = getattr(state, name)
        jumped = previous is not None and abs(value - previous) > limits.max_step_w
        if jumped and not _held(recent, name, value, limits):
            return (f"{name} jumped from {previous} W to {value} W (max_step_w {limits.max_step_w} W), "
                    f"not yet held for {limits.step_confirm_samples} sample(s)")
    soc = sample.soc_permille
    if soc is not None and (not isinstance(soc, int) or not 0 <= soc <= 1000):
        return f"soc_permille {soc!r} outside 0..1000"
    if sample.timestamp < state.timestamp:
        return f"clock went backwards: {sample.timestamp:.3f} < last {state.timestamp:.3f}"
    if sample.timestamp > now + limits.max_future_s or sample.timestamp > MAX_TIMESTAMP:
        return f"timestamp {sample.timestamp:.3f} in the future (now {now:.3f})"
    return None


def _held(recent: Sequence[Sample], name: str, value: float, limits) -> bool:
    """Whether the last `step_confirm_samples` samples read already showed `value`'s level: then
    a step away from the last accepted sample is real, not a spike. The reference stays the last
    accepted sample (one spike does not move it), yet a lasting step cannot be quarantined forever."""
    held = list(recent)[-limits.step_confirm_samples:]
    return len(held) == limits.step_confirm_samples and all(
        isinstance(level := getattr(s, name), (int, float)) and abs(level - value) <= limits.max_step_w for s in held)


def next_state(state: MeterState, sample: Sample, limits, now: float, recent: deque[Sample],
               unknown_soc: int) -> MeterState | str:
    """The meter's state after `sample`, or why it is rejected; `sample` joins `recent` (a deque of
    maxlen `limits.step_confirm_samples`, kept by the caller for each meter) either way."""
    reason = rejection(sample, state, limits, now, recent)
    recent.append(sample)
    return reason if reason is not None else advance(state, sample, limits.max_gap_s, unknown_soc)


def advance(state: MeterState, sample: Sample, max_gap_s: float, unknown_soc: int) -> MeterState:
    """The state after a valid `sample`: its mean power times the elapsed time added to the
    counters. A gap longer than `max_gap_s` (outage) is not integrated: what flowed then is unknown."""
    produced_wh, consumed_wh = state.produced_wh, state.consumed_wh
    elapsed = sample.timestamp - state.timestamp
    if state.produced_w is not None and 0 < elapsed <= max_gap_s:
        hours = elapsed / 3600.0
        produced_wh += sample.produced_w * hours
        consumed_wh += sample.consumed_w * hours
    soc = sample.soc_permille if sample.soc_permille is not None else state.soc_permille
    return replace(
        state,
        seq=state.seq + 1,
        timestamp=sample.timestamp,
        produced_w=sample.produced_w,
        consumed_w=sample.consumed_w,
        produced_wh=produced_wh,
        consumed_wh=consumed_wh,
        soc_permille=soc if soc is not None else unknown_soc,
    )


def reading_of(meter_id: int, state: MeterState) -> Reading:
    return Reading(
        meter_id=meter_id,
        seq=state.seq,
        timestamp=int(state.timestamp),
        produced_wh=int(state.produced_wh),
        consumed_wh=int(state.consumed_wh),
        soc_permille=int(state.soc_permille),
    )
