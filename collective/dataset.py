"""A reproducible month (or any span of days) of an energy community, from real data shipped inside PyPI wheels.

- Production: the real AC output of a ~3.5 kWp PV system, 15-min, 2011-04 → 2013-12
  (pvanalytics 0.2.2, `data/system_50_ac_power_2_full_DST.parquet`, MIT). Each producer is that
  system scaled to its own peak power (seeded), with a little per-producer noise: neighbours share
  the weather, so their outputs move together as on a real street.
- Consumption: BDEW's standard household profile H0 (demandlib 0.2.1,
  `bdew/bdew_data/selp_series.csv`; 0.2.2's h25 needs numpy 2, which the Ape set forbids), scaled to
  each household's annual demand (lognormal around 3 500 kWh), shifted by up to ±30 min and
  multiplied by correlated noise (AR(1) in log space), all seeded per household.

Both sources are read by local wall-clock time: a target month's local day d, hh:mm takes the source's
day d (same month of the chosen source year), hh:mm. The result is keyed like every series of this
package: interval ends in UTC on a regular grid, so DST days have 46/50 half-hours.
"""
from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from collective.curves import Curves

SOURCE_STEP = pd.Timedelta("15min")
PV_SOURCE_YEAR = 2012  # a whole year of the series
PV_SOURCE_PEAK_KW = 3.5


@dataclass(frozen=True)
class CommunityMonth:
    production: Curves  # one column per producer ("P01", ...)
    consumption: Curves  # one column per household ("C001", ...)


def pv_watts() -> pd.Series:
    """The PV system's AC power (W) as recorded, NaN where the logger has nothing, on a regular 15-min
    grid indexed by the local wall-clock START time (America/Denver: the file's "-07:00" label is the
    wall clock, DST included)."""
    path = importlib.resources.files("pvanalytics") / "data" / "system_50_ac_power_2_full_DST.parquet"
    frame = pd.read_parquet(path)
    watts = frame.set_index("measured_on")["ac_power_2"].astype(np.float64)
    watts.index = watts.index.tz_localize(None)  # keep the wall clock the panels saw
    return watts[~watts.index.duplicated()].resample(SOURCE_STEP).asfreq()


@lru_cache(maxsize=1)
def pv_source() -> pd.Series:
    """The PV system's output in kWh per 15-min interval, indexed by its local wall-clock START time."""
    watts = pv_watts().interpolate(limit=4, limit_area="inside")  # the logger's short gaps, up to an hour
    day = int(pd.Timedelta("1D") / SOURCE_STEP)
    for days in (1, -1, 2, -2, 3, -3):  # longer outages: the same time on the nearest day that has it
        watts = watts.fillna(watts.shift(days * day))
    return watts.clip(lower=0) / 1000.0 * (SOURCE_STEP / pd.Timedelta("1h"))


@lru_cache(maxsize=4)
def household_source(year: int) -> pd.Series:
    """BDEW H0 for `year` in kWh per 15-min interval for 1 kWh a year, by local wall-clock START time."""
    from demandlib import bdew  # imported late: it reads its tables at import

    profile = bdew.ElecSlp(year).get_profile({"h0": 1.0})["h0"]  # average kW per quarter-hour
    return profile / profile.sum()  # kWh per quarter-hour, a year summing to 1 kWh


def _grid(first: str, last: str, step: pd.Timedelta, tz: str) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """Interval ends in UTC covering the local days `first` to `last` (excluded), and each 15-min
    sub-interval's local START."""
    start, end = pd.Timestamp(first).tz_localize(tz), pd.Timestamp(last).tz_localize(tz)
    if end <= start:
        raise ValueError(f"the span {first} to {last} is empty")
    ends = pd.date_range(start.tz_convert("UTC") + step, end.tz_convert("UTC"), freq=step)
    quarter_starts = pd.date_range(start.tz_convert("UTC"), end.tz_convert("UTC") - SOURCE_STEP, freq=SOURCE_STEP)
    return ends, quarter_starts.tz_convert(tz).tz_localize(None)


def _by_wall_clock(source: pd.Series, local_starts: pd.DatetimeIndex, source_year: int | None) -> np.ndarray:
    """The source's value at the same month, day and wall-clock time of `source_year` (None: the same
    year); the autumn hour that repeats takes the same value twice, the spring hour that does not
    exist is skipped."""
    wanted = local_starts if source_year is None else local_starts.map(lambda t: t.replace(year=source_year))
    values = source.reindex(wanted).to_numpy()
    if np.isnan(values).any():
        missing = wanted[np.isnan(values)][0]
        raise ValueError(f"the source has no value at {missing} (choose another month or source year)")
    return values


def _pv_by_wall_clock(local_starts: pd.DatetimeIndex) -> np.ndarray:
    """The PV source by wall clock in PV_SOURCE_YEAR; where that year's logger has a long outage, the
    same instant of the series' other years (2013, then 2011)."""
    source = pv_source()
    wanted = local_starts.map(lambda t: t.replace(year=PV_SOURCE_YEAR))
    values = source.reindex(wanted).to_numpy()
    for year in (2013, 2011):
        missing = np.flatnonzero(np.isnan(values))
        if not missing.size:
            break
        values[missing] = source.reindex(wanted[missing].map(lambda t: t.replace(year=year, day=min(t.day, 28))
                                                              if t.month == 2 and t.day == 29 else
                                                              t.replace(year=year))).to_numpy()
    if np.isnan(values).any():
        raise ValueError(f"the PV source has no value at {wanted[np.isnan(values)][0]}")
    return values


def _to_step(quarters: np.ndarray, step: pd.Timedelta) -> np.ndarray:
    """Sum consecutive quarter-hours into `step` intervals (rows: time, columns: meters)."""
    per = int(step / SOURCE_STEP)
    if per < 1 or step % SOURCE_STEP:
        raise ValueError(f"step {step} is not a multiple of 15 min")
    return quarters.reshape(-1, per, quarters.shape[1]).sum(axis=1)


def community_month(consumers: int = 20, producers: int = 2, month: str = "2025-07", step: str = "30min",
                    seed: int = 1, tz: str = "Europe/Paris") -> CommunityMonth:
    """`consumers` households and `producers` PV roofs for the local calendar `month`, at `step`."""
    first = pd.Timestamp(month)
    return community(first, first + pd.offsets.MonthBegin(1), consumers, producers, step, seed, tz)


def community(first, last, consumers: int = 20, producers: int = 2, step: str = "30min", seed: int = 1,
              tz: str = "Europe/Paris") -> CommunityMonth:
    """`consumers` households and `producers` PV roofs over the local days `first` to `last` (excluded),
    at `step`; the PV source year is repeated for every year of the span."""
    rng = np.random.default_rng(seed)
    step = pd.Timedelta(step)
    ends, local_starts = _grid(str(pd.Timestamp(first).date()), str(pd.Timestamp(last).date()), step, tz)
    pv = _pv_by_wall_clock(local_starts)
    peaks = rng.uniform(3.0, 9.0, producers)  # kWp of each roof
    noise = rng.normal(1.0, 0.03, (len(pv), producers)).clip(0.8, 1.2)
    production = pv[:, None] * (peaks / PV_SOURCE_PEAK_KW) * noise
    load = households(rng, local_starts, consumers)

    def curves(values: np.ndarray, prefix: str, width: int) -> Curves:
        names = tuple(f"{prefix}{i + 1:0{width}d}" for i in range(values.shape[1]))
        return Curves(ends, names, _to_step(values, step), step)

    return CommunityMonth(curves(production, "P", 2), curves(load, "C", 3))


def households(rng: np.random.Generator, local_starts: pd.DatetimeIndex, consumers: int) -> np.ndarray:
    """kWh per 15-min interval starting at each wall-clock time of `local_starts` (rows) for `consumers`
    households (columns): BDEW H0 of the same year scaled, shifted and noised as the module says."""
    years = range(local_starts[0].year, local_starts[-1].year + 1)
    h0 = pd.concat([household_source(year) for year in years])
    annual = rng.lognormal(np.log(3_500.0), 0.35, consumers)
    shifts = rng.integers(-2, 3, consumers)  # quarter-hours
    base = _by_wall_clock(h0, local_starts, None)
    load = np.stack([np.roll(base, s) for s in shifts], axis=1) * annual
    load *= np.exp(_ar1(rng, len(base), consumers, phi=0.8, sigma=0.25))
    return load


def _ar1(rng: np.random.Generator, length: int, columns: int, phi: float, sigma: float) -> np.ndarray:
    """Log-space noise with autocorrelation `phi`, stationary standard deviation `sigma`, mean 1 after exp."""
    shocks = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), (length, columns))
    out = np.empty_like(shocks)
    out[0] = rng.normal(0.0, sigma, columns)
    for t in range(1, length):  # ~3 000 steps a month: a loop over time, vectorised over households
        out[t] = phi * out[t - 1] + shocks[t]
    return out - sigma**2 / 2


def sample_contracts(month: CommunityMonth, seed: int = 1) -> dict:
    """Contracts for `month`'s members, ready for `collective.bill.Contracts` (and YAML): households on the
    TURPE C5 short-use formula with a base or peak/off-peak supplier price (about half on the
    self-consumption option), producers selling locally at 10–12 c€/kWh and their surplus at 4 c€/kWh.
    Supplier prices are the energy part only (grid, CTA and excise are billed as their own lines)."""
    rng = np.random.default_rng(seed)
    members = {}
    for meter in month.consumption.meters:
        peak_offpeak = bool(rng.random() < 0.6)
        members[meter] = {
            "role": "consumer", "kva": int(rng.choice([6, 9, 12])),
            "fta": "BTINFCU4" if peak_offpeak else "BTINFCUST",
            "tariff_option": "acc" if peak_offpeak and rng.random() < 0.5 else "standard",
            "supplier": {"name": "supplier", "subscription_eur_month": "4.50",
                         "prices": {"hp": "0.1420", "hc": "0.1080"} if peak_offpeak else {"base": "0.1300"}}}
    for meter in month.production.meters:
        members[meter] = {"role": "producer", "local_price": f"{rng.choice([0.10, 0.11, 0.12]):.2f}",
                          "feed_in_price": "0.0400", "surplus_buyer": "EDF OA"}
    return {"pmo": "pmo", "pmo_fee_bps": 200, "timezone": "Europe/Paris", "members": members}
