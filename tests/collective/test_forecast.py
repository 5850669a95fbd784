"""Day-ahead forecasts: baselines on hand-made series, no look-ahead, reproducibility, scores, keys."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from collective import forecast as fc
from collective.allocate import SHARE_TOLERANCE
from collective.forecast_data import community

PARIS = fc.Site(48.85, 2.35, "Europe/Paris")


def timeline(days: int, per_day: int, start="2025-06-01", tz="UTC") -> fc.Timeline:
    step = pd.Timedelta("1D") / per_day
    index = pd.date_range(pd.Timestamp(start, tz=tz) + step, periods=days * per_day, freq=step).tz_convert("UTC")
    return fc.Timeline.of(index, step, tz)


@pytest.fixture(scope="module")
def month():
    return community("2025-05-20", "2025-06-20", consumers=6, producers=2, step="30min", seed=3)


# -- baselines on tiny series --------------------------------------------------------------------------------

def test_persistence_is_the_same_slot_yesterday():
    tl = timeline(2, 4)
    out = fc.persistence(np.array([1.0, 2, 3, 4, 5, 6, 7, 8]), tl)
    assert np.isnan(out[:4]).all() and out[4:].tolist() == [1, 2, 3, 4]


def test_seasonal_naive_is_the_same_slot_last_week():
    tl = timeline(8, 2)
    values = np.arange(16.0)
    out = fc.seasonal_naive(values, tl)
    assert np.isnan(out[:14]).all() and out[14:].tolist() == [0, 1]


def test_smart_persistence_carries_yesterdays_clear_sky_index_onto_todays_clear_sky():
    tl = timeline(2, 4)
    energy = np.array([0, 1, 2, 0, 0, 9, 9, 0.0])
    p_cs = np.array([0, 2, 4, 0, 0, 4, 4, 0.0])  # yesterday k = 0.5 at both daylight slots
    assert fc.smart_persistence(energy, p_cs, tl)[4:].tolist() == [0, 2, 2, 0]


def test_climatology_is_the_mean_of_the_earlier_days_of_the_month_at_that_slot():
    tl = timeline(3, 2)
    out = fc.climatology(np.array([1.0, 10, 3, 20, 100, 100]), tl)
    assert np.isnan(out[:2]).all() and out[2:].tolist() == [1, 10, 2, 15]


def test_climatology_falls_back_on_the_slots_mean_when_the_month_has_no_past_day():
    tl = timeline(2, 2, start="2025-06-30")
    assert fc.climatology(np.array([4.0, 6, 0, 0]), tl)[2:].tolist() == [4, 6]


def test_a_lag_never_reads_the_forecast_day_even_on_the_25_hour_autumn_day():
    tl = timeline(4, 24, start="2025-10-24", tz="Europe/Paris")
    position = np.arange(len(tl.index), dtype=np.float64)
    fall_back = tl.day == tl.day_of("2025-10-26")
    assert fall_back.sum() == 25
    for lag in (tl.per_day, 2 * tl.per_day):
        source = fc.lagged(position, tl, lag)
        assert (np.isnan(source) | (source < tl.start)).all()
    assert np.isfinite(fc.persistence(position, tl)[fall_back]).all()  # t − 48 h where t − 24 h is that day


# -- clear-sky index -----------------------------------------------------------------------------------------

def test_clear_sky_index_is_finite_and_zero_at_night():
    tl = timeline(2, 96, start="2025-06-20", tz="Europe/Paris")
    ghi = fc.clear_sky_ghi(tl.index, tl.step, PARIS)
    energy = np.where(ghi > 0, ghi / 1000 * 0.25, 0.0)
    with np.errstate(all="raise"):
        k = fc.clear_sky_index(energy, fc.clear_sky_power(energy, ghi))
    night = ghi == 0
    assert night.sum() > 40 and np.isfinite(k).all() and (k[night] == 0).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e4, allow_subnormal=False), st.floats(0, 1e4, allow_subnormal=False)),
                min_size=1, max_size=50))
def test_clear_sky_index_is_finite_and_bounded_for_any_energy_and_clear_sky(pairs):
    energy, p_cs = np.array(pairs).T
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        k = fc.clear_sky_index(energy, p_cs)
    assert np.isfinite(k).all() and (k >= 0).all() and (k <= fc.K_MAX).all()


# -- learned: no look-ahead, reproducibility -----------------------------------------------------------------

def test_the_forecast_of_a_day_does_not_change_when_that_day_and_after_change(month):
    day = "2025-06-15"
    before = fc.day_ahead(month.production, month.consumption, PARIS, day=day)
    end_of_history = pd.Timestamp(day, tz="Europe/Paris").tz_convert("UTC")
    later = month.consumption.index > end_of_history
    tampered = [fc.Curves(c.index, c.meters, np.where(later[:, None], c.kwh * 3 + 1, c.kwh), c.step)
                for c in (month.production, month.consumption)]
    after = fc.day_ahead(*tampered, PARIS, day=day)
    assert np.array_equal(before.pv, after.pv) and np.array_equal(before.load, after.load)
    assert np.array_equal(before.shares, after.shares)


def test_rolling_forecasts_up_to_a_day_ignore_that_days_truth(month):
    tl = fc.Timeline.of(month.consumption.index, month.consumption.step, "Europe/Paris")
    total = month.consumption.kwh.sum(axis=1)
    days = tl.days()[-6:]
    run = lambda y: fc.rolling(y, tl, days, fc.load_methods(y, tl), refit_days=3, bands=False)  # noqa: E731
    changed = total.copy()
    changed[tl.day == days[1]] *= 5
    a, b = run(total), run(changed)
    upto = tl.day <= days[1]
    for name in fc.LOAD_METHODS:
        assert np.array_equal(a[name].mean[upto], b[name].mean[upto], equal_nan=True), name
    assert not np.allclose(a["persistence"].mean[tl.day == days[2]], b["persistence"].mean[tl.day == days[2]])


def test_rolling_pv_forecasts_up_to_a_day_ignore_that_days_truth(month):
    tl = fc.Timeline.of(month.production.index, month.production.step, "Europe/Paris")
    days = tl.days()[-6:]
    ghi = fc.clear_sky_ghi(tl.index, tl.step, PARIS)

    def run(energy):
        p_cs = fc.clear_sky_power(energy, ghi, before=int(np.flatnonzero(tl.day == days[0])[0]))
        return fc.rolling(energy, tl, days, fc.pv_methods(energy, p_cs, tl), refit_days=3, slot=tl.utc_slot)
    energy = month.production.kwh[:, 0]
    changed = np.where(tl.day >= days[1], energy * 2 + 0.5, energy)
    a, b = run(energy), run(changed)
    upto = tl.day <= days[1]
    for name in fc.PV_METHODS:
        for part in ("mean", "p10", "p90"):
            assert np.array_equal(getattr(a[name], part)[upto], getattr(b[name], part)[upto], equal_nan=True), name


def test_same_seed_same_forecast(month):
    one = fc.day_ahead(month.production, month.consumption, PARIS, seed=4)
    two = fc.day_ahead(month.production, month.consumption, PARIS, seed=4)
    assert one.day == "2025-06-20"
    assert np.array_equal(one.pv, two.pv) and np.array_equal(one.load, two.load)


def test_member_shares_are_each_ones_part_of_the_last_7_days_at_that_instant(month):
    f = fc.day_ahead(month.production, month.consumption, PARIS, method="seasonal_naive")
    c = month.consumption.frame()
    t = f.index[20]
    week = c.loc[[t - pd.Timedelta(days=j) for j in range(1, 8)]].sum()
    assert np.allclose(f.shares[20], (week / week.sum()).to_numpy())
    assert np.allclose(f.shares.sum(axis=1), 1.0)


def test_bands_hold_the_forecast(month):
    f = fc.day_ahead(month.production, month.consumption, PARIS)
    assert (f.pv[:, 0] <= f.pv[:, 1]).all() and (f.pv[:, 1] <= f.pv[:, 2]).all()
    assert (f.load[0] <= f.load[1]).all() and (f.load[1] <= f.load[2]).all() and (f.load[0] >= 0).all()


def test_the_band_calibrated_on_the_latest_days_follows_a_growing_spread():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (6000, 1))
    sigma = np.where(np.arange(6000) < 2000, 0.1, 0.3)  # the spread triples after the first third
    y = 1 + x[:, 0] + rng.normal(0, 1, 6000) * sigma
    problem = fc.Problem(x, y, np.ones(6000, bool), lambda pred, rows: pred)
    train, test = np.arange(6000) < 3000, np.arange(3000, 6000)

    def coverage(latest):
        band = fc._fit_predict(problem, train, test, fc.Learner(), latest)
        assert (band[:, 0] <= band[:, 1]).all() and (band[:, 1] <= band[:, 2]).all()
        return ((band[:, 0] <= y[test]) & (y[test] <= band[:, 2])).mean()
    assert coverage(np.zeros(6000, bool)) < 0.6  # the quantile models alone: the calm past narrows them
    assert 0.75 < coverage(train & (np.arange(6000) >= 2000)) < 0.9  # conformalised on the latest rows


def test_too_little_history_is_a_clear_error(month):
    with pytest.raises(ValueError, match="at least 8 days of history"):
        fc.day_ahead(month.production, month.consumption, PARIS, day="2025-05-25")


# -- scores ---------------------------------------------------------------------------------------------------

def test_scores_give_rmse_nmae_and_skill_against_the_reference():
    truth = np.array([0.0, 2, 4, 0])
    ref = fc.Forecast(np.array([0.0, 4, 2, 0]), np.zeros(4), np.full(4, 5.0))
    half = fc.Forecast(np.array([0.0, 3, 3, 0]), np.zeros(4), np.zeros(4))
    table = fc.scores(truth, {"ref": ref, "half": half}, "ref")
    assert table.loc["ref", "rmse"] == pytest.approx(np.sqrt(2)) and table.loc["ref", "nmae"] == pytest.approx(4 / 6)
    assert table.loc["half", "skill_vs_ref"] == pytest.approx(0.5) and table.loc["ref", "skill_vs_ref"] == 0
    assert table.loc["ref", "coverage_p10_p90"] == 1 and table.loc["half", "coverage_p10_p90"] == 0


# -- uses: keys, cheap hours, viewer file --------------------------------------------------------------------

def hand_made(pv, load, shares) -> fc.DayAhead:
    n = len(load)
    index = pd.date_range("2025-06-02 00:00", periods=n, freq="30min", tz="UTC")
    pv = np.array(pv, dtype=float)
    return fc.DayAhead("2025-06-02", index, pd.Timedelta("30min"), "Europe/Paris", "learned", ("P1",),
                       np.stack([pv * 0.5, pv, pv * 1.5])[None], np.stack([np.array(load, float)] * 3),
                       ("A", "B"), np.array(shares, dtype=float))


def test_suggested_keys_are_the_forecast_shares_floored_and_never_over_100_percent():
    f = hand_made([0, 1, 5], [2, 2, 2], [[0.5, 0.5], [1 / 3, 2 / 3], [0.25, 0.75]])
    keys = fc.suggested_keys(f)
    assert keys.percent.tolist() == [[50, 50], [33.33, 66.66], [25, 75]]
    assert (keys.percent.sum(axis=1) <= 100 * (1 + SHARE_TOLERANCE)).all()


def test_cheap_local_hours_are_the_best_covered_slots_merged_into_runs():
    f = hand_made([0, 1, 2, 2, 0, 1], [2, 2, 2, 4, 2, 4], [[0.5, 0.5]] * 6)
    runs = fc.cheap_local_hours(f, hours=1.0)  # shares 0, .5, 1, .5, 0, .25: slots 2 then 1 (first of the ties)
    assert runs == [{"start": "2025-06-02T00:00:00Z", "end": "2025-06-02T01:00:00Z", "local_share": 0.75}]


def test_forecast_json_has_exactly_the_viewers_shape():
    f = hand_made([0, 1, 2], [2, 2, 2], [[0.5, 0.5]] * 3)
    doc = fc.forecast_json(f, {"pv": 0.12345, "load": float("nan")})
    assert set(doc) == {"generated_at", "day", "timezone", "step_s", "method", "skill", "slots", "cheap_local_hours"}
    assert doc["skill"] == {"pv": 0.1235, "load": None} and doc["step_s"] == 1800
    assert set(doc["slots"][0]) == {"start", "end", "pv_kwh", "pv_p10", "pv_p90", "load_kwh", "load_p10", "load_p90"}
    assert doc["slots"][1] == {"start": "2025-06-02T00:00:00Z", "end": "2025-06-02T00:30:00Z", "pv_kwh": 1.0,
                               "pv_p10": 0.5, "pv_p90": 1.5, "load_kwh": 2.0, "load_p10": 2.0, "load_p90": 2.0}


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=pd.Timestamp("2024-01-01").date(), max_value=pd.Timestamp("2026-12-01").date()),
       st.sampled_from([24, 48, 96]), st.sampled_from(["Europe/Paris", "America/Denver", "UTC"]), st.integers(1, 8))
def test_a_lag_of_whole_days_only_reads_intervals_over_before_the_day_starts(start, per_day, tz, days):
    tl = timeline(10, per_day, start=str(start), tz=tz)
    source = fc.lagged(np.arange(len(tl.index), dtype=np.float64), tl, days * per_day)
    assert (np.isnan(source) | (source < tl.start)).all()
