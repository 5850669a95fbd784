"""State of charge from a battery voltage (lead-acid/LFP curves are configured, not hard-coded)."""
from __future__ import annotations

import math


def soc_from_voltage(curve: list[tuple[float, int]], volts: float) -> int | None:
    """Permille by linear interpolation on (volts, permille) points, clamped to the curve ends.
    A missing or non-finite voltage gives None (the validator will reject the sample)."""
    if volts is None or not math.isfinite(volts):
        return None
    points = sorted(curve)
    if volts <= points[0][0]:
        return points[0][1]
    for (v0, s0), (v1, s1) in zip(points, points[1:]):
        if volts <= v1:
            return round(s0 + (s1 - s0) * (volts - v0) / (v1 - v0))
    return points[-1][1]
