"""`daisee-collective forecast` end to end on the real-data community (pvanalytics PV, BDEW households)."""
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from collective.cli import main
from collective.forecast_data import SERF_EAST, serf_east, system_50, typical_weather


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Three weeks of June 2025 for 5 households and 2 roofs (the real-data `dataset` command)."""
    out = tmp_path_factory.mktemp("history")
    result = run("dataset", "--month", "2025-06", "--consumers", "5", "--producers", "2", "--seed", "2", "--out", out)
    assert result.exit_code == 0, result.output
    for name in ("production", "consumption"):  # keep the first 21 days: a small history
        frame = pd.read_csv(out / f"{name}.csv")
        frame.iloc[: 21 * 48].to_csv(out / f"{name}.csv", index=False)
    return out


@pytest.fixture(scope="module")
def forecast(history, tmp_path_factory):
    out = tmp_path_factory.mktemp("forecast")
    result = run("forecast", "--production", history / "production.csv", "--consumption", history / "consumption.csv",
                 "--evaluate", "3", "--weather", "723170TYA.CSV", "--out", out)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_forecast_writes_tomorrows_json_for_the_viewer(forecast):
    doc = json.loads((forecast[0] / "forecast.json").read_text())
    assert doc["day"] == "2025-06-22" and doc["timezone"] == "Europe/Paris" and doc["step_s"] == 1800
    assert doc["method"] == "learned" and set(doc["skill"]) == {"pv", "load"}
    assert all(isinstance(v, float) for v in doc["skill"].values())  # --evaluate gave them
    slots = doc["slots"]
    assert len(slots) == 48
    assert slots[0]["start"] == "2025-06-21T22:00:00Z" and slots[-1]["end"] == "2025-06-22T22:00:00Z"
    assert all(s["pv_p10"] <= s["pv_kwh"] <= s["pv_p90"] and s["load_p10"] <= s["load_kwh"] <= s["load_p90"]
               for s in slots)
    assert sum(s["pv_kwh"] for s in slots) > 5 and all(s["pv_kwh"] == 0 for s in slots[:6])  # a June day, dark at 1 am


def test_forecast_suggests_keys_for_every_slot_of_tomorrow(forecast):
    keys = pd.read_csv(forecast[0] / "keys.csv", sep=";", decimal=",")
    assert list(keys.columns) == ["Horodate", "C001", "C002", "C003", "C004", "C005"]
    assert keys["Horodate"].iloc[0] == "22/06/2025 00:30" and len(keys) == 48
    total = keys.iloc[:, 1:].sum(axis=1)
    assert (total <= 100).all() and (total > 99.9).all()


def test_forecast_lists_cheap_local_hours_within_the_day(forecast):
    runs = json.loads((forecast[0] / "forecast.json").read_text())["cheap_local_hours"]
    spans = [pd.Timestamp(r["end"]) - pd.Timestamp(r["start"]) for r in runs]
    assert sum(spans, pd.Timedelta(0)) == pd.Timedelta("4h")  # --cheap-hours 4 by default
    assert all(0 < r["local_share"] <= 1 for r in runs)


def test_evaluate_prints_each_methods_scores(forecast):
    output = forecast[1]
    for method in ("persistence", "smart_persistence", "climatology", "seasonal_naive", "learned"):
        assert method in output
    assert "skill_vs_smart_persistence" in output and "skill_vs_seasonal_naive" in output


def test_a_day_inside_the_history_uses_only_the_days_before_it(history, tmp_path):
    result = run("forecast", "--production", history / "production.csv", "--consumption", history / "consumption.csv",
                 "--day", "2025-06-15", "--method", "smart-persistence", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "forecast.json").read_text())
    assert doc["day"] == "2025-06-15" and doc["skill"] == {"pv": None, "load": None}


def test_too_short_a_history_is_one_clear_line(history, tmp_path):
    result = run("forecast", "--production", history / "production.csv", "--consumption", history / "consumption.csv",
                 "--day", "2025-06-05", "--out", tmp_path)
    assert result.exit_code == 1 and "at least 8 days of history" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_weather_file_is_one_clear_line(history, tmp_path):
    result = run("forecast", "--production", history / "production.csv", "--consumption", history / "consumption.csv",
                 "--weather", tmp_path / "none.csv", "--out", tmp_path)
    assert result.exit_code == 1 and "no weather file" in result.output


# -- the real series the bench scores on ---------------------------------------------------------------------

def test_serf_east_and_its_weather_share_one_utc_grid():
    energy, weather = serf_east()
    assert len(energy) == 10_000 and energy.index.tz is not None and not energy.isna().any()
    assert weather.index.equals(energy.index) and (weather["ghi"] <= weather["ghi_clear"] + 1).mean() > 0.95
    hours = (energy.index - pd.Timedelta("15min")).tz_convert(SERF_EAST.tz).hour
    assert energy[(hours < 4) | (hours >= 21)].max() < 0.01  # the night is dark in the site's standard time


def test_system_50_is_a_regular_utc_series_of_2_7_years_with_its_gaps_kept():
    energy = system_50()
    assert (np.diff(energy.index.asi8) == 15 * 60 * 10**9).all()
    assert 2.6 < (energy.index[-1] - energy.index[0]).days / 365 < 2.8 and energy.isna().sum() > 0


def test_a_typical_year_gives_weather_by_local_month_day_and_hour():
    lookup = typical_weather("723170TYA.CSV")
    index = pd.date_range("2025-07-01 10:30", periods=4, freq="30min", tz="UTC")  # 12:00 .. 13:30 in Paris
    values = lookup(index)
    assert values.shape == (4, 2) and (values[:, 0] > 0).all() and np.isfinite(values).all()


def test_a_day_beyond_tomorrow_is_refused(history, tmp_path):
    result = run("forecast", "--production", history / "production.csv", "--consumption", history / "consumption.csv",
                 "--day", "2025-06-30", "--out", tmp_path)
    assert result.exit_code == 1 and "day-ahead forecasts go up to 2025-06-22" in result.output
