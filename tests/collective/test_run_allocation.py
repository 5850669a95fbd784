"""The demo's allocation of a run's readings goes on when one meter's data is bad or missing."""
import numpy as np
import pandas as pd

from collective.check import CheckSettings, check
from collective.io import read_meter_readings
from simulation.collective import run_curves

STEP = pd.Timedelta("15min")
START = int(pd.Timestamp("2025-07-01 04:00", tz="UTC").timestamp())


def events(meter_id: int, produced_w: float, consumed_w: float, skip=(), backwards_at=None, first=0):
    """A meter's MeterReading fields every 15 min over 8 hours (from reading `first`), counters from
    constant powers."""
    out, produced, consumed = [], 0, 0
    for k in range(first, 33):
        if k == backwards_at:
            consumed -= 500  # a counter going backwards: check flags it, the allocation must not stop
        if k not in skip:
            out.append({"meterId": meter_id, "seq": k + 1, "timestamp": START + 900 * k,
                        "producedWh": produced, "consumedWh": consumed})
        produced += int(produced_w / 4)
        consumed += int(consumed_w / 4)
    return out


def test_bad_and_missing_readings_of_one_meter_do_not_stop_the_others():
    good = events(1, 2_000, 400) + events(2, 0, 800)
    bad = events(3, 0, 600, skip=range(10, 20), backwards_at=25)  # a silent hour, then a counter backwards
    late = events(4, 0, 400, first=8)  # joins two hours into the run
    readings = read_meter_readings(good + bad + late, STEP)
    report = check(readings, CheckSettings(step=STEP))
    production, consumption = run_curves(readings, report)
    assert len(consumption.index) == 32  # the whole run, not shortened by the late meter
    assert not np.isnan(consumption.kwh).any() and (consumption.kwh >= 0).all()
    assert production.meters == ("1:production",)
    assert np.allclose(consumption.select(["2:consumption"]).kwh[:, 0], 0.2)  # 800 W x 15 min, untouched
    late_curve = consumption.select(["4:consumption"]).kwh[:, 0]
    assert (late_curve[:8] == 0).all() and np.allclose(late_curve[8:], 0.1)  # absent before it joined
    flagged = report.flags[report.flags["meter"].astype(str) == "3:consumption"]["code"].astype(str)
    assert {"COUNTER_BACKWARDS", "FILLED_LINEAR"} <= set(flagged)  # removed and filled, both said
