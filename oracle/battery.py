"""State of charge from a battery voltage (lead-acid/LFP curves are configured, not hard-coded).

A voltage far outside the curve is a broken wire or a wrong divider, not an empty or full battery:
clamped, 0 V would read as SoC 0 and make the contract buy energy for a battery that may be full.
Such a voltage gives no SoC and a fault, which gets the sample quarantined (oracle.readings)."""
from __future__ import annotations

import math


def battery_soc(battery, volts: float | None) -> tuple[int | None, str | None]:
    """(SoC permille, None), or (None, why not) for a missing or implausible voltage, under
    `battery` (oracle.settings.BatterySettings). (None, None) unless its source is a voltage curve."""
    if battery.source != "voltage_curve":
        return None, None
    points = sorted(battery.curve)
    low, high = points[0][0] - battery.margin_v, points[-1][0] + battery.margin_v
    if volts is None:
        return None, "no battery voltage in the reading (battery.source is voltage_curve)"
    if not isinstance(volts, (int, float)) or not math.isfinite(volts) or volts <= 0 or not low <= volts <= high:
        return None, (f"battery voltage {volts!r} V implausible (curve {points[0][0]}..{points[-1][0]} V, "
                      f"margin_v {battery.margin_v} V): wiring fault?")
    if volts <= points[0][0]:
        return points[0][1], None
    for (v0, s0), (v1, s1) in zip(points, points[1:]):
        if volts <= v1:
            return round(s0 + (s1 - s0) * (volts - v0) / (v1 - v0)), None
    return points[-1][1], None
