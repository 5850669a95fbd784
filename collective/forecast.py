"""Day-ahead forecasts of local PV production and of a community's consumption, scored against baselines.

Advisory only: forecasts suggest tomorrow's dynamic keys and "cheap local hours"; they never enter billing.

Series are energy per interval (kWh) on a regular UTC end-of-interval grid, like `Curves`. A forecast for
the local day D (midnight to midnight in `tz`) uses only values of intervals that END at or before D's
first instant: every feature goes through `lagged` (the value `lag` steps back, or NaN if that interval
is not over by D's start, as on the 25-hour autumn day) or through per-day sums of days before D.

Methods (`PV_METHODS`, `LOAD_METHODS`):
- `persistence`: the value at t − 24 h (t − 48 h where t − 24 h is not yet known).
- `smart_persistence` (PV): k(t − 24 h)·P_cs(t), with the clear-sky index k = P/P_cs. P_cs is pvlib's
  Ineichen clear-sky GHI (`Location.get_clearsky`, interval midpoints) times a scale that makes k ≈ 1
  on clear noons (the scale cancels in every PV forecast). Where P_cs is below `NIGHT` of its maximum,
  k is defined as 0 (no division at night); k is clipped to [0, `K_MAX`].
- `climatology`: the mean of the days before D at the same slot and calendar month (any year; the
  slot's mean over all months when the month has no past day yet).
- `seasonal_naive` (load): the value at t − 7 days.
- `learned`: scikit-learn `HistGradientBoostingRegressor`. PV: target k on daylight slots, features
  UTC slot, day of year, P_cs, k at lags 24/48/168 h, yesterday's and last week's daily k (ΣP/ΣP_cs),
  the slot's mean k over the last 7 days and its climatology; forecast k̂·P_cs. Load: target y/level,
  level = mean of the last 7 days, features local slot, weekday, day of year, lags 24/48/168 h,
  yesterday's mean, the slot's last-7-day mean and its mean on the same weekday of the last 4 weeks,
  all over level. Optional weather columns (a forecast for D, so known in advance) are appended to
  both. p10/p90 from two more models with the quantile loss, conformalised (CQR) on the last
  `CALIBRATION_DAYS` of the training window.
  Baselines' p10/p90: their own past errors' 10/90 % quantiles per slot over the 28 days before D.
- Rolling origin (`rolling`): test days in order; the model is refitted every `refit_days` on the
  `history_days` before the block (no shuffling), each day's features from the days before it.

Metrics: RMSE, nMAE = Σ|ŷ − y| / Σy (no MAPE: PV is 0 at night), skill = 1 − RMSE/RMSE_reference
(smart persistence for PV, seasonal naive for load), on the intervals where the truth and every
method's forecast exist.

Real data for these: `collective.forecast_data`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from collective.curves import Curves

DAY = pd.Timedelta("1D")
NIGHT = 0.01  # P_cs below 1 % of its maximum: night, k := 0
K_MAX = 3.0  # clear-sky index bound (low sun on a tilted array gives large but finite ratios)
BAND_DAYS = 28  # days of past errors behind a baseline's p10/p90
CALIBRATION_DAYS = 28  # the learned band is conformalised on the last 28 days of its training window
QUANTILES = (0.1, 0.9)
PV_METHODS = ("persistence", "smart_persistence", "climatology", "learned")
LOAD_METHODS = ("persistence", "seasonal_naive", "climatology", "learned")
REFERENCE = {"pv": "smart_persistence", "load": "seasonal_naive"}


@dataclass(frozen=True)
class Site:
    """Where the panels are: clear-sky model input, and the civil time whose midnights bound a day."""

    latitude: float
    longitude: float
    tz: str = "Europe/Paris"
    altitude: float | None = None


@dataclass(frozen=True)
class Learner:
    """HistGradientBoosting settings (seeded: same seed, same forecast). The defaults are PV's: small,
    well-filled leaves, since day-ahead weather lags are weak and larger trees overfit them; load, whose
    calendar shape is strong, takes `LOAD_LEARNER`."""

    max_iter: int = 80
    learning_rate: float = 0.05
    max_leaf_nodes: int = 7
    min_samples_leaf: int = 300
    l2_regularization: float = 1.0
    seed: int = 0
    threads: int | None = 1  # OpenMP threads per fit (None: all); a day-ahead fit is small, and on a busy
    #                          machine OpenMP's waiting threads cost more than they bring (25 s against 2 s)

    def model(self, loss: str = "squared_error", quantile: float | None = None):
        from sklearn.ensemble import HistGradientBoostingRegressor

        extra = {"quantile": quantile} if loss == "quantile" else {}
        return HistGradientBoostingRegressor(
            loss=loss, max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization, early_stopping=False,
            random_state=self.seed, **extra)


PV_LEARNER = Learner()
LOAD_LEARNER = Learner(max_iter=200, max_leaf_nodes=31, min_samples_leaf=50)


# -- the days of a series --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timeline:
    """A regular UTC end-of-interval index cut into local days of `tz` (an interval belongs to the day of
    its start). `day[t]` counts days since 1970-01-01 (local), `start[t]` is the position of the first
    interval of t's day, `slot[t]` the local wall-clock slot (minutes since midnight // step)."""

    index: pd.DatetimeIndex
    step: pd.Timedelta
    tz: str
    day: np.ndarray = field(repr=False)
    start: np.ndarray = field(repr=False)
    slot: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, index: pd.DatetimeIndex, step: pd.Timedelta, tz: str) -> "Timeline":
        local = (index - step).tz_convert(tz).tz_localize(None).asi8
        day = np.floor_divide(local, DAY.value)
        slot = (local - day * DAY.value) // step.value
        return cls(index, step, tz, day, np.searchsorted(day, day, side="left"), slot)

    @property
    def per_day(self) -> int:
        return int(DAY / self.step)

    @property
    def utc_slot(self) -> np.ndarray:
        start = (self.index - self.step).asi8
        return (start % DAY.value) // self.step.value

    def local(self) -> pd.DatetimeIndex:
        return (self.index - self.step).tz_convert(self.tz)

    def date(self, day: int) -> str:
        return str(pd.Timestamp(int(day) * DAY.value).date())

    def day_of(self, date) -> int:
        return int(pd.Timestamp(date).value // DAY.value)

    def days(self) -> np.ndarray:
        return np.unique(self.day)

    def complete_days(self) -> np.ndarray:
        """Days with all their intervals (a DST day's 23 or 25 hours included)."""
        days, counts = np.unique(self.day, return_counts=True)
        return days[counts >= self.per_day - int(pd.Timedelta("1h") / self.step)]


def lagged(values: np.ndarray, tl: Timeline, lag: int) -> np.ndarray:
    """values[t − lag] where that interval ended by the start of t's day, else NaN (rows: time)."""
    source = np.arange(len(tl.day)) - lag
    ok = (source >= 0) & (source < tl.start)
    out = np.full(values.shape, np.nan)
    out[ok] = values[source[ok]]
    return out


def _daily(values: np.ndarray, tl: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """Per position: the sum of `values` (NaN skipped) over the day before, and over the 7 days before."""
    d = tl.day - tl.day[0]
    sums = np.bincount(d, weights=np.nan_to_num(values), minlength=d[-1] + 1)
    before = np.concatenate([[0.0], np.cumsum(sums)])  # before[j] = Σ of days < j
    week = before[d] - before[np.maximum(d - 7, 0)]
    return (before[d] - before[np.maximum(d - 1, 0)]), week


def _lag_mean(values: np.ndarray, tl: Timeline, days: int, every: int = 1) -> np.ndarray:
    """The mean of the values at the same instant on each of the `days` days before, one in `every`
    (every=7: the same weekday of the last weeks), NaN skipped."""
    lags = [lagged(values, tl, j * every * tl.per_day) for j in range(1, days + 1)]
    total = sum(np.nan_to_num(x) for x in lags)
    count = sum(np.isfinite(x).astype(np.float64) for x in lags)
    return _ratio(total, count)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.full(np.shape(a), np.nan), where=b > 0)


# -- clear sky -------------------------------------------------------------------------------------------

def clear_sky_ghi(index: pd.DatetimeIndex, step: pd.Timedelta, site: Site) -> np.ndarray:
    """pvlib's Ineichen clear-sky GHI (W/m²) at each interval's midpoint."""
    from pvlib.location import Location

    location = Location(site.latitude, site.longitude, tz="UTC", altitude=site.altitude)
    return location.get_clearsky(index - step / 2, model="ineichen")["ghi"].to_numpy(dtype=np.float64)


def clear_sky_power(energy: np.ndarray, ghi: np.ndarray, before: int | None = None) -> np.ndarray:
    """P_cs: clear-sky GHI scaled to the system (99th percentile of energy over that of GHI), the scale
    taken from the first `before` intervals only (those before the first forecast: no look-ahead)."""
    energy, known = energy[:before], ghi[:before]
    scale = _ratio(np.nanquantile(energy, 0.99), np.nanquantile(known, 0.99)) if np.isfinite(energy).any() else np.nan
    return ghi * (scale if np.isfinite(scale) and scale > 0 else 1.0)


def clear_sky_index(energy: np.ndarray, p_cs: np.ndarray) -> np.ndarray:
    """k = P/P_cs in [0, K_MAX]; 0 where P_cs < NIGHT·max (night), NaN only where P is missing."""
    day = p_cs >= NIGHT * np.max(p_cs, initial=0.0)
    k = np.divide(energy, p_cs, out=np.zeros_like(p_cs, dtype=np.float64), where=day & (p_cs > 0))
    k[np.isnan(energy)] = np.nan
    return np.clip(k, 0.0, K_MAX)


# -- baselines (all positions at once; each uses only the days before its own) ----------------------------

def persistence(values: np.ndarray, tl: Timeline) -> np.ndarray:
    """The same instant yesterday (t − 24 h), or the day before where that is not over yet."""
    out = lagged(values, tl, tl.per_day)
    return np.where(np.isnan(out), lagged(values, tl, 2 * tl.per_day), out)


def seasonal_naive(values: np.ndarray, tl: Timeline) -> np.ndarray:
    """The same instant last week (t − 7 days)."""
    return lagged(values, tl, 7 * tl.per_day)


def smart_persistence(energy: np.ndarray, p_cs: np.ndarray, tl: Timeline) -> np.ndarray:
    """Yesterday's clear-sky index times today's clear sky: k(t − 24 h)·P_cs(t)."""
    return persistence(clear_sky_index(energy, p_cs), tl) * p_cs


def climatology(values: np.ndarray, tl: Timeline, slot: np.ndarray | None = None) -> np.ndarray:
    """Mean over the days before at the same slot and calendar month; the slot's mean where the month
    has no past value yet."""
    slot = tl.slot if slot is None else slot
    month = tl.local().month.to_numpy()
    out = _expanding_mean(values, tl.day, month * 10_000 + slot)
    return np.where(np.isnan(out), _expanding_mean(values, tl.day, slot), out)


def _expanding_mean(values: np.ndarray, day: np.ndarray, key: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame({"key": key, "day": day, "y": values, "n": np.isfinite(values).astype(np.float64)})
    per_day = frame.groupby(["key", "day"], sort=True)[["y", "n"]].sum()  # NaN skipped
    before = per_day.groupby(level="key").cumsum().groupby(level="key").shift(1, fill_value=0.0)  # earlier days
    mean = _ratio(before["y"].to_numpy(), before["n"].to_numpy())
    lookup = pd.Series(mean, index=per_day.index)
    return lookup.reindex(pd.MultiIndex.from_arrays([key, day])).to_numpy()


# -- learned ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """What a learner sees: features X (rows: positions), target y, and how to map a predicted target
    back to energy (`to_energy(pred, rows)`); `trainable` marks rows the model may learn from. No sample
    weights: sklearn's binning with weights is ~10× slower, and the skill did not need them."""

    X: np.ndarray
    y: np.ndarray
    trainable: np.ndarray
    to_energy: Callable[[np.ndarray, np.ndarray], np.ndarray]
    learner: Learner = PV_LEARNER


def _with_weather(columns: list[np.ndarray], weather: np.ndarray | None, n: int) -> np.ndarray:
    if weather is not None:
        weather = np.asarray(weather, dtype=np.float64).reshape(n, -1)
        columns = columns + [weather[:, j] for j in range(weather.shape[1])]
    return np.column_stack(columns)


def pv_problem(energy: np.ndarray, p_cs: np.ndarray, tl: Timeline, weather: np.ndarray | None = None) -> Problem:
    """The PV learner's problem: clear-sky index on daylight slots (module docstring for the features)."""
    k = clear_sky_index(energy, p_cs)
    day = p_cs >= NIGHT * np.max(p_cs, initial=0.0)
    L = tl.per_day
    yesterday_p, week_p = _daily(energy, tl)
    known = np.where(np.isnan(energy), 0.0, p_cs)  # clear sky only where P was measured
    yesterday_cs, week_cs = _daily(known, tl)
    slot_week = _lag_mean(k, tl, 7)
    doy = tl.local().dayofyear.to_numpy()
    scale = np.max(p_cs, initial=0.0) or 1.0
    X = _with_weather([tl.utc_slot, doy, p_cs / scale, lagged(k, tl, L), lagged(k, tl, 2 * L),
                       lagged(k, tl, 7 * L), _ratio(yesterday_p, yesterday_cs), _ratio(week_p, week_cs), slot_week,
                       climatology(np.where(day, k, np.nan), tl, tl.utc_slot)], weather, len(k))

    def to_energy(pred, rows):
        return np.where(day[rows], np.clip(pred, 0.0, K_MAX) * p_cs[rows], 0.0)
    return Problem(X, k, day & np.isfinite(k), to_energy)


def load_problem(load: np.ndarray, tl: Timeline, weather: np.ndarray | None = None) -> Problem:
    """The load learner's problem: load over its last-week level, calendar and lags (module docstring)."""
    L = tl.per_day
    n = np.isfinite(load).astype(np.float64)
    yesterday, week = _daily(load, tl)
    yesterday_n, week_n = _daily(n, tl)
    level = _ratio(week, week_n)
    slot_week = _lag_mean(load, tl, 7)
    local = tl.local()
    X = _with_weather([tl.slot, local.dayofweek.to_numpy(), local.dayofyear.to_numpy(),
                       lagged(load, tl, L) / level, lagged(load, tl, 2 * L) / level, lagged(load, tl, 7 * L) / level,
                       _ratio(yesterday, yesterday_n) / level, slot_week / level,
                       _lag_mean(load, tl, 4, every=7) / level], weather, len(load))
    y = load / level

    def to_energy(pred, rows):
        return np.clip(pred, 0.0, None) * level[rows]
    return Problem(X, y, np.isfinite(y), to_energy, LOAD_LEARNER)


def _fit_predict(problem: Problem, train: np.ndarray, test: np.ndarray, learner: Learner,
                 calibration: np.ndarray | None) -> np.ndarray:
    """(rows of `test`, 3): p10, mean, p90 in energy, from models fitted on the `train` rows (a mask).

    With `calibration` (a mask of the latest training rows), the quantile band is conformalised (CQR):
    quantile models fitted without those rows give the scores max(q10 − y, y − q90) there, and the band
    of the models fitted on all rows is widened (or narrowed) by their 80 % quantile, so that about 80 %
    of outcomes fall inside it. Without, only the mean model is fitted (p10 = p90 = mean)."""
    from threadpoolctl import threadpool_limits

    def fit(loss, q, rows):
        model = learner.model(loss, q)  # sklearn (and its OpenMP) loaded before the limit below
        with threadpool_limits(limits=learner.threads, user_api="openmp"):
            return model.fit(problem.X[rows], problem.y[rows])

    mean = problem.to_energy(fit("squared_error", None, train).predict(problem.X[test]), test)
    if calibration is None:
        return np.column_stack([mean] * 3)
    lo, hi = (fit("quantile", q, train).predict(problem.X[test]) for q in QUANTILES)
    held = train & calibration
    if held.sum() >= 20 and (train & ~held).sum() >= held.sum():  # enough left to fit on without them
        y = problem.y[held]
        lo_c, hi_c = (fit("quantile", q, train & ~held).predict(problem.X[held]) for q in QUANTILES)
        score = np.maximum(lo_c - y, y - hi_c)
        level = min(1.0, (QUANTILES[1] - QUANTILES[0]) * (1 + 1 / len(score)))
        width = float(np.quantile(score, level))
        lo, hi = lo - width, hi + width
    band = np.column_stack([problem.to_energy(lo, test), mean, problem.to_energy(hi, test)])
    return np.sort(band, axis=1)  # p10 ≤ mean ≤ p90 (quantile crossing rearranged)


# -- rolling origin --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Forecast:
    """Per position: p10, mean and p90 (NaN outside the forecast days)."""

    mean: np.ndarray
    p10: np.ndarray
    p90: np.ndarray


def _band(truth: np.ndarray, point: np.ndarray, tl: Timeline, rows: np.ndarray, origin: int,
          slot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A baseline's p10/p90 for `rows`: its errors' 10/90 % quantiles per slot over BAND_DAYS before `origin`."""
    past = (tl.day < origin) & (tl.day >= origin - BAND_DAYS) & np.isfinite(truth) & np.isfinite(point)
    errors = pd.DataFrame({"slot": slot[past], "e": (truth - point)[past]}).groupby("slot")["e"]
    lo = errors.quantile(QUANTILES[0]).reindex(slot[rows]).fillna(0.0).to_numpy()
    hi = errors.quantile(QUANTILES[1]).reindex(slot[rows]).fillna(0.0).to_numpy()
    return np.clip(point[rows] + lo, 0.0, None), np.clip(point[rows] + hi, 0.0, None)


def rolling(truth: np.ndarray, tl: Timeline, test_days, methods: Mapping[str, np.ndarray | Problem], *,
            refit_days: int = 7, history_days: int = 365, seed: int = 0, learner: Learner | None = None,
            bands: bool = True, slot: np.ndarray | None = None) -> dict[str, Forecast]:
    """Forecasts of `test_days` (local day numbers, in order) per method: an array (a baseline, already
    computed for every position) or a `Problem` (fitted every `refit_days` on the `history_days` before,
    with `learner` or the problem's own, seeded with `seed`)."""
    test_days = np.asarray(sorted(test_days))
    slot = tl.slot if slot is None else slot
    out = {}
    for name, method in methods.items():
        mean, p10, p90 = (np.full(len(truth), np.nan) for _ in range(3))
        for first in range(0, len(test_days), refit_days):
            block = test_days[first:first + refit_days]
            origin = int(block[0])
            rows = np.flatnonzero(np.isin(tl.day, block))
            if isinstance(method, Problem):
                train = method.trainable & (tl.day < origin) & (tl.day >= origin - history_days)
                if train.sum() < 3 * tl.per_day:
                    raise ValueError(f"{name}: too little history before {tl.date(origin)} to learn from "
                                     f"({int(train.sum())} usable intervals)")
                model = replace(learner or method.learner, seed=seed)
                latest = (tl.day >= origin - CALIBRATION_DAYS) if bands else None
                p10[rows], mean[rows], p90[rows] = _fit_predict(method, train, rows, model, latest).T
            else:
                mean[rows] = method[rows]
                if bands:
                    p10[rows], p90[rows] = _band(truth, method, tl, rows, origin, slot)
        out[name] = Forecast(mean, p10, p90)
    return out


def pv_methods(energy: np.ndarray, p_cs: np.ndarray, tl: Timeline, weather=None,
               names=PV_METHODS) -> dict[str, np.ndarray | Problem]:
    every = {"persistence": lambda: persistence(energy, tl),
             "smart_persistence": lambda: smart_persistence(energy, p_cs, tl),
             "climatology": lambda: climatology(energy, tl, tl.utc_slot),
             "learned": lambda: pv_problem(energy, p_cs, tl, weather)}
    return {name: every[name]() for name in names}


def load_methods(load: np.ndarray, tl: Timeline, weather=None, names=LOAD_METHODS) -> dict[str, np.ndarray | Problem]:
    every = {"persistence": lambda: persistence(load, tl), "seasonal_naive": lambda: seasonal_naive(load, tl),
             "climatology": lambda: climatology(load, tl), "learned": lambda: load_problem(load, tl, weather)}
    return {name: every[name]() for name in names}


# -- scores ----------------------------------------------------------------------------------------------

def scores(truth: np.ndarray, forecasts: Mapping[str, Forecast], reference: str,
           also: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per method: RMSE, nMAE, skill against `reference` (and each of `also`), p10–p90 coverage (share of
    outcomes above NIGHT of the largest inside the band), on the intervals where the truth and every
    method's forecast exist (`n`)."""
    ok = np.isfinite(truth)
    for f in forecasts.values():
        ok &= np.isfinite(f.mean)
    y = truth[ok]
    rmse = {m: float(np.sqrt(np.mean((f.mean[ok] - y) ** 2))) for m, f in forecasts.items()}
    rows = {}
    for m, f in forecasts.items():
        row = {"rmse": rmse[m], "nmae": float(np.abs(f.mean[ok] - y).sum() / y.sum()) if y.sum() > 0 else np.nan}
        for ref in (reference,) + tuple(also):
            row[f"skill_vs_{ref}"] = 1 - rmse[m] / rmse[ref] if rmse.get(ref) else np.nan
        inside = (y >= f.p10[ok]) & (y <= f.p90[ok])
        # PV nights are trivially inside a [0, 0] band, and the night's edges (P_cs < NIGHT) have a [0, 0]
        # band around a few watts: coverage where the outcome is above NIGHT of the largest
        positive = y > NIGHT * y.max(initial=0.0)
        row["coverage_p10_p90"] = float(inside[positive].mean()) if positive.any() else np.nan
        rows[m] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.attrs["n"] = int(ok.sum())
    return table


# -- day-ahead for a community ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DayAhead:
    """Tomorrow, per interval: each producer's PV, their total, the community's load (p10/mean/p90 each)
    and each consumer's share of the load (rows sum to 1 where anyone consumed in the past week)."""

    day: str
    index: pd.DatetimeIndex
    step: pd.Timedelta
    tz: str
    method: str
    producers: tuple[str, ...]
    pv: np.ndarray  # producers × 3 × intervals (p10, mean, p90)
    load: np.ndarray  # 3 × intervals
    consumers: tuple[str, ...]
    shares: np.ndarray  # intervals × consumers

    @property
    def pv_total(self) -> np.ndarray:
        """3 × intervals: the producers' sum (their errors move together under one sky, so quantiles add)."""
        return self.pv.sum(axis=0)

    def consumption(self) -> Curves:
        """Each consumer's forecast: their share times the community's mean forecast."""
        return Curves(self.index, self.consumers, self.shares * self.load[1][:, None], self.step)

    def production(self) -> Curves:
        return Curves(self.index, self.producers, self.pv[:, 1, :].T.copy(), self.step)


def _extended(curves: Curves, tz: str, day: str | None) -> tuple[Timeline, np.ndarray, int]:
    """The curves' timeline extended (NaN) to the end of the local `day` (default: the day after the last
    complete one), the values, and that day's number. Data from `day` on is dropped (never seen)."""
    tl = Timeline.of(curves.index, curves.step, tz)
    complete = tl.complete_days()
    if not len(complete):
        raise ValueError("no complete local day of history")
    target = tl.day_of(day) if day is not None else int(complete[-1]) + 1
    if target > complete[-1] + 1:
        raise ValueError(f"the history's last complete day is {tl.date(complete[-1])}: day-ahead forecasts go "
                         f"up to {tl.date(complete[-1] + 1)}, not {tl.date(target)}")
    end = pd.Timestamp(tl.date(target + 1)).tz_localize(tz).tz_convert("UTC")
    if end <= curves.index[0] + 8 * DAY:
        raise ValueError(f"forecasting {tl.date(target)} needs at least 8 days of history before it")
    index = pd.date_range(curves.index[0], end, freq=curves.step)
    values = np.full((len(index), curves.kwh.shape[1]), np.nan)
    keep = min(len(curves.index), len(index))
    values[:keep] = curves.kwh[:keep]
    tl = Timeline.of(index, curves.step, tz)
    values[tl.day >= target] = np.nan  # the forecast day and after: not known
    return tl, values, target


def _member_shares(values: np.ndarray, tl: Timeline, rows: np.ndarray) -> np.ndarray:
    """Each consumer's share of the total at the same instant over the last 7 days (ratio of sums)."""
    past = np.zeros((len(rows), values.shape[1]))
    for j in range(1, 8):
        source = rows - j * tl.per_day  # as `lagged`, for these rows only (the day's, not the year's)
        ok = (source >= 0) & (source < tl.start[rows])
        past[ok] += np.nan_to_num(values[source[ok]])
    total = past.sum(axis=1, keepdims=True)
    uniform = np.full_like(past, 1.0 / values.shape[1])
    return np.divide(past, total, out=uniform, where=total > 0)


def day_ahead(production: Curves, consumption: Curves, site: Site, day: str | None = None,
              method: str = "learned", weather: np.ndarray | Callable | None = None,
              history_days: int = 365, seed: int = 0) -> DayAhead:
    """Tomorrow's (or `day`'s) forecast from the history before it. `weather`: a callable (UTC index ->
    array rows × columns) giving the weather known in advance for any interval (learned method only)."""
    if production.step != consumption.step:
        raise ValueError(f"production at {production.step}, consumption at {consumption.step}")
    if method not in set(PV_METHODS) | set(LOAD_METHODS):
        raise ValueError(f"unknown method {method!r}")
    tl, pk, target = _extended(production, site.tz, day)
    ctl, c, ctarget = _extended(consumption, site.tz, tl.date(target))
    rows = np.flatnonzero(tl.day == target)
    crows = np.flatnonzero(ctl.day == target)
    if not ctl.index[crows].equals(tl.index[rows]):
        raise ValueError("production and consumption do not cover the same intervals of the day")
    meteo = weather(tl.index) if callable(weather) else None
    cmeteo = weather(ctl.index) if callable(weather) else None
    ghi = clear_sky_ghi(tl.index, tl.step, site)
    pv_method = {"seasonal_naive": "persistence"}.get(method, method)
    load_method = {"smart_persistence": "persistence"}.get(method, method)
    pv = np.empty((pk.shape[1], 3, len(rows)))
    for k in range(pk.shape[1]):
        energy = pk[:, k]
        p_cs = clear_sky_power(energy, ghi)
        f = rolling(energy, tl, [target], pv_methods(energy, p_cs, tl, meteo, (pv_method,)),
                    history_days=history_days, seed=seed, slot=tl.utc_slot)[pv_method]
        pv[k] = np.nan_to_num(np.vstack([f.p10[rows], f.mean[rows], f.p90[rows]]))
    total = np.nansum(c, axis=1)
    total[np.isnan(c).all(axis=1)] = np.nan
    f = rolling(total, ctl, [target], load_methods(total, ctl, cmeteo, (load_method,)),
                history_days=history_days, seed=seed)[load_method]
    load = np.nan_to_num(np.vstack([f.p10[crows], f.mean[crows], f.p90[crows]]))
    return DayAhead(tl.date(target), tl.index[rows], tl.step, site.tz, method, production.meters, pv, load,
                    consumption.meters, _member_shares(c, ctl, crows))


def suggested_keys(forecast: DayAhead, precision: float = 0.01):
    """Dynamic-simple keys for the day: each consumer's share of the forecast community consumption
    (Σ = 100 %, so the whole production is keyed whatever the PV forecast's error). Computed by
    `collective.allocate`: the forecast consumption allocated with `DynamicSimple(shares)` gives each
    member exactly its forecast, and `key_file` floors a_i/Σa to `precision` percent."""
    from collective.allocate import DynamicSimple, allocate, key_file

    consumption = forecast.consumption()
    shares = Curves(forecast.index, forecast.consumers, forecast.shares, forecast.step)
    whole = Curves(forecast.index, ("forecast",), consumption.kwh.sum(axis=1, keepdims=True), forecast.step)
    return key_file(allocate(whole, consumption, DynamicSimple(shares)), precision=precision)


def cheap_local_hours(forecast: DayAhead, hours: float = 4.0) -> list[dict]:
    """The `hours` of the day where the forecast PV covers the forecast load best (share = min(1, P/L),
    slots with some PV only), merged into runs: start/end (UTC ISO 8601), local share of the run (ΣmIn/ΣL)."""
    pv, load = forecast.pv_total[1], forecast.load[1]
    share = np.divide(np.minimum(pv, load), load, out=np.zeros_like(pv), where=load > 0)
    n = int(round(pd.Timedelta(hours=hours) / forecast.step))
    candidates = np.flatnonzero(share > 0)
    best = np.sort(candidates[np.argsort(-share[candidates], kind="stable")[:n]])
    runs = np.split(best, np.flatnonzero(np.diff(best) > 1) + 1) if len(best) else []
    starts = forecast.index - forecast.step
    return [{"start": _iso(starts[r[0]]), "end": _iso(forecast.index[r[-1]]),
             "local_share": round(float(np.minimum(pv[r], load[r]).sum() / load[r].sum()), 4)} for r in runs]


def _iso(t: pd.Timestamp) -> str:
    return t.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def forecast_json(forecast: DayAhead, skill: Mapping[str, float | None] | None = None,
                  hours: float = 4.0, now: datetime | None = None) -> dict:
    """The viewer's forecast.json (shape fixed with the viewer; kWh per interval, 4 decimals)."""
    skill = dict(skill or {})
    pv, load = forecast.pv_total, forecast.load
    starts = forecast.index - forecast.step

    def num(v):
        return round(float(v), 4)
    return {
        "generated_at": (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "day": forecast.day,
        "timezone": forecast.tz,
        "step_s": int(forecast.step.total_seconds()),
        "method": forecast.method,
        "skill": {"pv": _maybe(skill.get("pv")), "load": _maybe(skill.get("load"))},
        "slots": [{"start": _iso(s), "end": _iso(e), "pv_kwh": num(pv[1, i]), "pv_p10": num(pv[0, i]),
                   "pv_p90": num(pv[2, i]), "load_kwh": num(load[1, i]), "load_p10": num(load[0, i]),
                   "load_p90": num(load[2, i])} for i, (s, e) in enumerate(zip(starts, forecast.index))],
        "cheap_local_hours": cheap_local_hours(forecast, hours),
    }


def _maybe(v) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 4)


def evaluate_community(production: Curves, consumption: Curves, site: Site, days: int = 14,
                       refit_days: int = 7, history_days: int = 365, seed: int = 0,
                       weather: Callable | None = None) -> dict[str, pd.DataFrame]:
    """Rolling-origin scores over the last `days` complete days of the history: PV (the producers' total)
    against smart persistence and persistence, load (the community total) against seasonal naive."""
    tl = Timeline.of(production.index, production.step, site.tz)
    complete = tl.complete_days()
    if len(complete) < days + 8:
        raise ValueError(f"--evaluate over {days} days needs at least {days + 8} complete days of history "
                         f"(there are {len(complete)})")
    test = complete[-days:].tolist()
    meteo = weather(tl.index) if callable(weather) else None
    energy = np.nansum(production.kwh, axis=1)
    energy[np.isnan(production.kwh).all(axis=1)] = np.nan
    p_cs = clear_sky_power(energy, clear_sky_ghi(tl.index, tl.step, site), tl.start[tl.day == test[0]][0])
    pv = rolling(energy, tl, test, pv_methods(energy, p_cs, tl, meteo), refit_days=refit_days,
                 history_days=history_days, seed=seed, slot=tl.utc_slot)
    ctl = Timeline.of(consumption.index, consumption.step, site.tz)
    total = np.nansum(consumption.kwh, axis=1)
    load = rolling(total, ctl, [d for d in test if d in set(ctl.day)],
                   load_methods(total, ctl, weather(ctl.index) if callable(weather) else None),
                   refit_days=refit_days, history_days=history_days, seed=seed)
    return {"pv": scores(energy, pv, REFERENCE["pv"], ("persistence",)),
            "load": scores(total, load, REFERENCE["load"], ("persistence",))}
