"""The month of a community built from the real series in the pvanalytics and demandlib wheels."""
import numpy as np
import pandas as pd
import pytest

from collective.dataset import community_month


@pytest.fixture(scope="module")
def july():
    return community_month(consumers=30, producers=3, month="2025-07", step="30min", seed=7)


def test_same_seed_same_month_and_another_seed_other_households(july):
    again = community_month(consumers=30, producers=3, month="2025-07", step="30min", seed=7)
    other = community_month(consumers=30, producers=3, month="2025-07", step="30min", seed=8)
    assert np.array_equal(july.consumption.kwh, again.consumption.kwh)
    assert np.array_equal(july.production.kwh, again.production.kwh)
    assert not np.array_equal(july.consumption.kwh, other.consumption.kwh)


@pytest.mark.parametrize("month, step, intervals", [("2025-07", "30min", 31 * 48), ("2025-03", "30min", 31 * 48 - 2),
                                                    ("2025-10", "30min", 31 * 48 + 2), ("2025-03", "15min", 31 * 96 - 4)])
def test_a_month_has_the_intervals_of_its_local_days(month, step, intervals):
    m = community_month(consumers=2, producers=1, month=month, step=step)
    local = m.consumption.index.tz_convert("Europe/Paris")
    assert len(m.consumption.index) == intervals
    assert local[0] == pd.Timestamp(month, tz="Europe/Paris") + pd.Timedelta(step)  # the first interval's end
    assert local[-1] == pd.Timestamp(month, tz="Europe/Paris") + pd.offsets.MonthBegin(1)  # the last one's


def test_values_are_energies_a_household_and_a_roof_would_have(july):
    consumption, production = july.consumption.kwh, july.production.kwh
    assert (consumption > 0).all() and (production >= 0).all()
    monthly = consumption.sum(axis=0)
    assert 100 < np.median(monthly) < 600  # kWh a month for ~3 500 kWh a year
    hours = july.production.index.tz_convert("Europe/Paris").hour
    assert production[(hours >= 0) & (hours < 4)].max() < 1e-3  # no sun at night (an inverter's standby)
    assert 400 < production.sum(axis=0).min() and production.sum(axis=0).max() < 2_000  # 3-9 kWp in July


def test_neighbours_share_the_weather(july):
    p = july.production.kwh
    assert np.corrcoef(p[:, 0], p[:, 1])[0, 1] > 0.95
