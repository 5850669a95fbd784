"""Simulated meters: a PV producer with battery, a household consumer with battery, a prosumer.

Deterministic for a seed and a timestamp (noise is drawn from (seed, second)), so a community
simulation replays identically. The relay state file written by the relay's simulated GPIO backend
makes it physically coherent: a consumer supplied by a seller draws its load plus battery charge
from the seller (all of it metered as consumed) and a seller supplying someone discharges.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import struct
from pathlib import Path

from oracle.clock import Clock
from oracle.drivers import Sample

log = logging.getLogger(__name__)
BATTERY = struct.Struct("<dd")  # (state of charge in Wh, time of the last sample)


def solar_fraction(hour: float) -> float:
    """Clear-sky PV output as a fraction of peak: a half sine between 06:00 and 18:00."""
    return max(0.0, math.sin(math.pi * (hour - 6.0) / 12.0)) if 6.0 < hour < 18.0 else 0.0


def load_shape(hour: float) -> float:
    """Household load on top of the base load, as a fraction of the evening peak:
    a small breakfast bump and the evening peak around 19:30."""
    return 0.3 * math.exp(-((hour - 7.5) ** 2) / 0.5) + math.exp(-((hour - 19.5) ** 2) / 2.0)


# path -> ((inode, mtime_ns, size), supply): the meters of a street share one parse of their board.
# The relay replaces the file (new inode) on every write, so a change is never missed.
_boards: dict[Path, tuple[tuple[int, int, int], dict]] = {}


def _board_supply(path: Path) -> dict:
    stat = path.stat()
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _boards.get(path)
    if cached is None or cached[0] != key:
        cached = _boards[path] = (key, json.loads(path.read_text()).get("supply", {}))
    return cached[1]


def relay_supply(path: Path | None, member: str | None) -> tuple[str, bool]:
    """(source of `member`: "own" | "seller", whether `member` is currently supplying a buyer).
    A missing or garbled file means own source: the relay's safe state."""
    if path is None or member is None:
        return "own", False
    try:
        supply = _board_supply(Path(path))
        mine = supply.get(member) or {}
        source = "seller" if mine.get("source") == "seller" else "own"
        selling = any(
            isinstance(v, dict) and v.get("source") == "seller" and str(v.get("seller", "")).lower() == member.lower()
            for v in supply.values()
        )
        return source, selling
    except (OSError, ValueError, AttributeError):
        return "own", False


class SimulatedMeter:
    def __init__(self, settings, clock: Clock):
        self.s = settings
        self.clock = clock
        self.soc_wh = settings.battery_wh * settings.initial_soc_permille / 1000
        self.last_t: float | None = None
        self._resume()
        has_pv = settings.profile in ("producer", "prosumer")
        has_load = settings.profile in ("consumer", "prosumer")
        self.pv_peak = settings.pv_peak_w if has_pv else 0.0
        self.load_base = settings.base_load_w if has_load else min(settings.base_load_w, 50.0)
        self.load_peak = settings.evening_peak_w if has_load else 0.0

    def _noise(self, t: float) -> random.Random:
        return random.Random(f"{self.s.seed}:{int(t)}")

    def read(self) -> Sample:
        t = self.clock.now()
        hour = ((t / 3600.0) + self.s.utc_offset_hours) % 24.0
        rng = self._noise(t)
        cloud = 0.6 + 0.4 * rng.random()
        pv = self.pv_peak * solar_fraction(hour) * cloud
        load = max(0.0, (self.load_base + self.load_peak * load_shape(hour)) * (0.9 + 0.2 * rng.random()))
        source, selling = relay_supply(self.s.relay_state_file, self.s.member)

        # Power into the battery (W, negative = discharge); the meter counts what flows in.
        if source == "seller":
            charge = self.s.charge_from_seller_w
            consumed = load + charge
            battery = pv + charge
        else:
            consumed = load
            battery = pv - load
        if selling:
            battery -= self.s.charge_from_seller_w  # what the buyer draws comes out of our battery
        self._integrate(t, battery)
        soc = round(1000 * self.soc_wh / self.s.battery_wh)
        return Sample(timestamp=t, produced_w=round(pv, 3), consumed_w=round(consumed, 3), soc_permille=soc)

    def _integrate(self, t: float, battery_w: float) -> None:
        if self.last_t is not None and t > self.last_t:
            hours = (t - self.last_t) / 3600.0
            self.soc_wh = min(self.s.battery_wh, max(0.0, self.soc_wh + battery_w * hours))
        self.last_t = t
        if self._battery_fd is not None:
            # One 16-byte write in place per sample (no open/rename: a gateway samples many meters).
            os.pwrite(self._battery_fd, BATTERY.pack(self.soc_wh, t), 0)

    def _resume(self) -> None:
        """A real battery keeps its charge while the oracle restarts: so does the simulated one."""
        self._battery_fd = None
        if self.s.battery_state_file is None:
            return
        self._battery_fd = os.open(self.s.battery_state_file, os.O_RDWR | os.O_CREAT, 0o644)
        saved = os.pread(self._battery_fd, BATTERY.size, 0)
        if len(saved) != BATTERY.size:  # new (or torn): start from initial_soc_permille
            return
        soc_wh, last_t = BATTERY.unpack(saved)
        # A garbled file must not become a charge: NaN would be clamped to an empty battery.
        if math.isfinite(last_t) and math.isfinite(soc_wh) and 0 <= soc_wh <= self.s.battery_wh:
            self.soc_wh, self.last_t = soc_wh, last_t
        else:
            log.warning("simulated battery %s holds %r Wh at %r: implausible, starting from %d permille",
                        self.s.battery_state_file, soc_wh, last_t, self.s.initial_soc_permille)

    def close(self) -> None:
        if self._battery_fd is not None:
            os.close(self._battery_fd)
            self._battery_fd = None
