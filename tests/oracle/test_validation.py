"""Every implausible sample is rejected with its reason before anything is queued; a power
spike is, a lasting step is not (for long)."""
from __future__ import annotations

from collections import deque

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from oracle.drivers import Sample
from oracle.readings import MeterState, next_state, rejection
from oracle.settings import Limits

NOW = 1_700_000_000.0
PREVIOUS = MeterState(seq=3, timestamp=NOW - 10, produced_w=100.0, consumed_w=200.0)
LIMITS = Limits(max_power_w=10_000, max_step_w=5_000, max_future_s=5)

CORPUS = [
    (Sample(NOW, float("nan"), 10.0, 500), "produced_w is not a finite number"),
    (Sample(NOW, 10.0, float("inf"), 500), "consumed_w is not a finite number"),
    (Sample(float("nan"), 10.0, 10.0, 500), "timestamp is not a finite number"),
    (Sample(NOW, -5.0, 10.0, 500), "produced_w is negative"),
    (Sample(NOW, 10.0, 10_001.0, 500), "above max_power_w"),
    (Sample(NOW, 5_200.0, 200.0, 500), "produced_w jumped"),
    (Sample(NOW - 11, 100.0, 200.0, 500), "clock went backwards"),
    (Sample(NOW + 6, 100.0, 200.0, 500), "in the future"),
    (Sample(NOW, 100.0, 200.0, 1001), "soc_permille 1001 outside"),
    (Sample(NOW, 100.0, 200.0, -1), "soc_permille -1 outside"),
    (Sample(NOW, 100.0, 200.0, None, fault="battery voltage 0.0 V implausible"), "battery voltage 0.0 V implausible"),
]


@pytest.mark.parametrize("sample, reason", CORPUS, ids=[r for _, r in CORPUS])
def test_bad_sample_is_rejected_with_its_reason(sample, reason):
    assert reason in rejection(sample, PREVIOUS, LIMITS, NOW)


def test_plausible_sample_is_accepted():
    assert rejection(Sample(NOW, 4_000.0, 300.0, None), PREVIOUS, LIMITS, NOW) is None


def test_first_sample_has_no_jump_to_check():
    assert rejection(Sample(NOW, 9_000.0, 0.0, 10), MeterState(), LIMITS, NOW) is None


# ---------------------------------------------------------------- power steps

MAX_POWER = 20_000.0
power = st.floats(0, MAX_POWER)
limits = st.builds(Limits, max_power_w=st.just(MAX_POWER), max_step_w=st.floats(100, 9_000),
                   step_confirm_samples=st.integers(1, 4))


def run(limits: Limits, produced: list[float]) -> list[str | None]:
    """Each sample's rejection reason (None: accepted), fed one a second as the service does."""
    state, recent, reasons = MeterState(), deque(maxlen=limits.step_confirm_samples), []
    for i, watts in enumerate(produced):
        outcome = next_state(state, Sample(NOW + i, watts, 500.0, 500), limits, NOW + i, recent, 1000)
        reasons.append(outcome if isinstance(outcome, str) else None)
        state = state if isinstance(outcome, str) else outcome
    return reasons


def stepped(limits: Limits, level: float, other: float) -> bool:
    return abs(other - level) > limits.max_step_w


@given(limits, power, power, st.integers(1, 5), st.integers(1, 5))
def test_a_single_spike_is_rejected_and_the_level_around_it_accepted(limits, level, spike, before, after):
    assume(stepped(limits, level, spike))
    reasons = run(limits, [level] * before + [spike] + [level] * after)
    assert "produced_w jumped" in reasons[before]
    assert reasons[:before] + reasons[before + 1:] == [None] * (before + after)


@given(limits, power, power, st.integers(1, 5), st.integers(0, 5))
def test_a_sustained_step_is_accepted_once_held_for_step_confirm_samples(limits, level, new, before, after):
    assume(stepped(limits, level, new))
    n = limits.step_confirm_samples
    reasons = run(limits, [level] * before + [new] * (n + 1 + after))
    assert all("produced_w jumped" in r for r in reasons[before:before + n])
    assert reasons[:before] + reasons[before + n:] == [None] * (before + 1 + after)


@given(limits, st.lists(st.floats(-1_000, 30_000) | st.just(float("nan")), max_size=12),
       power, st.lists(st.floats(-0.5, 0.5), min_size=5, max_size=5))
def test_a_stream_never_gets_stuck(limits, history, level, noise):
    """Whatever came before, a level held (within max_step_w) for step_confirm_samples + 1 samples is accepted."""
    held = [min(MAX_POWER, max(0.0, level + x * limits.max_step_w)) for x in noise[:limits.step_confirm_samples + 1]]
    assert run(limits, history + held)[-1] is None
