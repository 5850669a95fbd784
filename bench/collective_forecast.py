"""Day-ahead forecasts scored honestly on real data (collective.forecast; files in collective.forecast_data).

- PV, PVDAQ system 50 (pvanalytics `system_50_ac_power_2_full_DST.parquet`, 2011-04 → 2013-12): the first
  365 days are history only; every later day is forecast day-ahead (features from the days before it),
  the learned model refitted every 28 days on the 365 days before. Skill = 1 − RMSE/RMSE_ref against
  smart persistence and against persistence, no weather forecast. Goal: learned ≥ 0.10 over smart
  persistence (published day-ahead results without NWP: 0.05–0.20).
- PV, SERF East (pvanalytics `serf_east_15min_ac_power.csv`, 2016-07 → 10): first 30 days history, refit
  weekly; plus the learned model given the day's actual PSM3 irradiance (`serf_east_psm3_data.csv`) as a
  perfect weather forecast: an upper bound of what weather inputs could bring, not a forecast.
- Load: a community of 200 households (demandlib BDEW H0 with seeded per-household variation), 2024 as
  history, every day of 2025 forecast day-ahead at 30 min (refit every 28 days): nMAE (goal ≤ 8 %) and
  skill over seasonal naive (same slot last week).
- Time: `day_ahead` for 1 000 households and one producer with a year of history at 30 min (3 models
  for PV, 3 for load, the members' shares), the key file and forecast.json, one thread. Goal ≤ 60 s.

    python -m bench collective_forecast
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bench import Figure
from collective import forecast as fc
from collective.forecast_data import SERF_EAST, SYSTEM_50, community, serf_east, system_50

STEP = pd.Timedelta("15min")


def _pv(energy: np.ndarray, tl: fc.Timeline, site: fc.Site, history: int, refit: int,
        weather: np.ndarray | None = None) -> tuple[pd.DataFrame, dict]:
    days = tl.days()
    test = [d for d in days[history:] if d < days[-1]]
    first = int(np.flatnonzero(tl.day == test[0])[0])
    p_cs = fc.clear_sky_power(energy, fc.clear_sky_ghi(tl.index, tl.step, site), before=first)
    methods = fc.pv_methods(energy, p_cs, tl)
    if weather is not None:
        methods["learned_perfect_weather"] = fc.pv_problem(energy, p_cs, tl, weather)
    forecasts = fc.rolling(energy, tl, test, methods, refit_days=refit, slot=tl.utc_slot)
    return fc.scores(energy, forecasts, "smart_persistence", ("persistence",)), {"days": len(test)}


def pv_figures(label: str, table: pd.DataFrame, days: int) -> list[Figure]:
    figures = []
    note = f"{days} days day-ahead, {table.attrs['n']} intervals scored"
    for method, row in table.iterrows():
        if method == "smart_persistence":
            continue
        target = ">= 0.1" if method == "learned" else ""
        figures.append(Figure(f"pv_{label}_{method}_skill_vs_smart_persistence", row["skill_vs_smart_persistence"],
                              "", target, note))
    for method, row in table.iterrows():
        if method != "persistence":
            figures.append(Figure(f"pv_{label}_{method}_skill_vs_persistence", row["skill_vs_persistence"], ""))
    learned = table.loc["learned"]
    figures.append(Figure(f"pv_{label}_learned_nmae", 100 * learned["nmae"], "%",
                          note=f"smart persistence {100 * table.loc['smart_persistence', 'nmae']:.1f} %"))
    figures.append(Figure(f"pv_{label}_learned_p10_p90_coverage", 100 * learned["coverage_p10_p90"], "%",
                          note="outcomes above 1 % of the largest inside the band (80 % if calibrated)"))
    return figures


def load_figures(consumers: int = 200) -> list[Figure]:
    m = community("2024-01-01", "2026-01-01", consumers=consumers, producers=1, step="30min", seed=11)
    tl = fc.Timeline.of(m.consumption.index, m.consumption.step, "Europe/Paris")
    total = m.consumption.kwh.sum(axis=1)
    test = [d for d in tl.days() if d >= tl.day_of("2025-01-01")]
    forecasts = fc.rolling(total, tl, test, fc.load_methods(total, tl), refit_days=28)
    table = fc.scores(total, forecasts, "seasonal_naive", ("persistence",))
    note = f"{consumers} households, {len(test)} days of 2025 day-ahead at 30 min"
    figures = [Figure("load_learned_nmae", 100 * table.loc["learned", "nmae"], "%", "<= 8", note)]
    for method in ("persistence", "seasonal_naive", "climatology"):
        figures.append(Figure(f"load_{method}_nmae", 100 * table.loc[method, "nmae"], "%"))
    for method in ("learned", "climatology", "persistence"):
        figures.append(Figure(f"load_{method}_skill_vs_seasonal_naive", table.loc[method, "skill_vs_seasonal_naive"],
                              "", note="same slot last week is the reference"))
    figures.append(Figure("load_learned_p10_p90_coverage", 100 * table.loc["learned", "coverage_p10_p90"], "%",
                          note="80 % if calibrated"))
    return figures


def timing_figures(consumers: int = 1_000) -> list[Figure]:
    from threadpoolctl import threadpool_limits

    m = community("2024-07-01", "2025-07-01", consumers=consumers, producers=1, step="30min", seed=5)
    site = fc.Site(48.85, 2.35, "Europe/Paris")
    with threadpool_limits(1):  # BLAS too (fits use one OpenMP thread: fc.Learner.threads)
        started = time.perf_counter()
        result = fc.day_ahead(m.production, m.consumption, site)
        fc.suggested_keys(result)
        fc.forecast_json(result)
        seconds = time.perf_counter() - started
    return [Figure("day_ahead_1000_households_1_producer", seconds, "s", "<= 60",
                   f"{consumers} households + 1 producer, {len(m.consumption.index)} steps of history (a year at "
                   "30 min), p10/mean/p90 models for PV and load, shares, keys, json; one thread")]


def run() -> list[Figure]:
    s50 = system_50()
    tl = fc.Timeline.of(s50.index, STEP, SYSTEM_50.tz)
    table, info = _pv(s50.to_numpy(), tl, SYSTEM_50, history=365, refit=28)
    figures = pv_figures("system50", table, info["days"])
    energy, weather = serf_east()
    tl = fc.Timeline.of(energy.index, STEP, SERF_EAST.tz)
    clearness = np.column_stack([fc._ratio(weather["ghi"].to_numpy(), weather["ghi_clear"].to_numpy()),
                                 weather["temp_air"].to_numpy()])
    table, info = _pv(energy.to_numpy(), tl, SERF_EAST, history=30, refit=7, weather=clearness)
    figures += pv_figures("serf_east", table, info["days"])
    return figures + load_figures() + timing_figures()
