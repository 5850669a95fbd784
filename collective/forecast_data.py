"""Real series for the forecasts, read offline from files inside the installed wheels.

- `serf_east()`: NREL's SERF East fixed-tilt system (Golden, Colorado; 39.742 N, 105.1727 W, tilt 45°,
  azimuth 158°), AC power, 15-min means labelled by their END, 2016-07-01 → 2016-10-13 (10 000 rows),
  in UTC−7: pvanalytics 0.2.2 `data/serf_east_15min_ac_power.csv` (W), with the NSRDB PSM3 weather
  of the same site and instants `data/serf_east_psm3_data.csv` (ghi, ghi_clear in W/m², temp_air °C).
- `system_50()`: PVDAQ system 50 (NREL, 39.7406 N, 105.1775 W), AC power 2011-04-15 → 2013-12-31
  (2.7 years, 15 min): pvanalytics 0.2.2 `data/system_50_ac_power_2_full_DST.parquet` (W), read by
  `collective.dataset.pv_watts`. Its clock is the local wall clock (America/Denver, DST included,
  whatever the "-07:00" label says); the spring hour that does not exist and the autumn hour that
  repeats are dropped, the logger's gaps stay NaN (never filled: the scores use measured values only).
- `community(...)`: households and roofs from `collective.dataset.community` (demandlib 0.2.1
  BDEW H0 `bdew/bdew_data/selp_series.csv` with seeded per-household scale, ±30 min shift and AR(1)
  noise; PV from system 50).
- `typical_weather(path)`: a pvlib typical-year file as optional weather (pvlib 0.16.1
  `data/723170TYA.CSV` or `data/703165TY.csv`, TMY3, or `data/12839.tm2`, TMY2), hourly ghi and
  temp_air looked up by local month, day and hour: a stand-in for a weather forecast, not the weather
  that happened.
"""
from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from collective.forecast import Site

STEP = pd.Timedelta("15min")
SERF_EAST = Site(39.742, -105.1727, tz="Etc/GMT+7")  # MST all year, as the files
SYSTEM_50 = Site(39.7406, -105.1775, tz="America/Denver")
TMY_FILES = ("723170TYA.CSV", "703165TY.csv", "12839.tm2")


def _pvanalytics(name: str):
    return importlib.resources.files("pvanalytics") / "data" / name


def serf_east() -> tuple[pd.Series, pd.DataFrame]:
    """kWh per 15 min by UTC end of interval, and the PSM3 weather (ghi, ghi_clear, temp_air) on it."""
    power = pd.read_csv(_pvanalytics("serf_east_15min_ac_power.csv"), index_col=0, parse_dates=True)["ac_power"]
    weather = pd.read_csv(_pvanalytics("serf_east_psm3_data.csv"), index_col=0, parse_dates=True)
    index = pd.DatetimeIndex(power.index).tz_convert("UTC")
    grid = pd.date_range(index[0], index[-1], freq=STEP)
    energy = pd.Series(power.to_numpy(np.float64), index=index).clip(lower=0) / 1000 * 0.25
    weather.index = pd.DatetimeIndex(weather.index).tz_convert("UTC")
    return energy.reindex(grid), weather[["ghi", "ghi_clear", "temp_air"]].astype(np.float64).reindex(grid)


def system_50() -> pd.Series:
    """kWh per 15 min by UTC end of interval (NaN where the logger has nothing)."""
    from collective.dataset import pv_watts

    watts = pv_watts()
    local = watts.index.tz_localize(SYSTEM_50.tz, ambiguous="NaT", nonexistent="NaT")
    kept = ~local.isna()
    ends = local[kept].tz_convert("UTC") + STEP
    energy = pd.Series(watts.to_numpy()[kept] / 1000 * 0.25, index=ends).clip(lower=0)
    return energy.reindex(pd.date_range(ends[0], ends[-1], freq=STEP))


def community(first: str, last: str, consumers: int, producers: int = 1, step: str = "30min", seed: int = 1,
              tz: str = "Europe/Paris"):
    """`collective.dataset.community` (households from BDEW H0, roofs from system 50)."""
    from collective.dataset import community as build

    return build(first, last, consumers=consumers, producers=producers, step=step, seed=seed, tz=tz)


def typical_weather(path: str | Path, tz: str = "Europe/Paris") -> Callable[[pd.DatetimeIndex], np.ndarray]:
    """A function of a UTC end-of-interval index giving (ghi W/m², temp_air °C) per row from a TMY3/TMY2
    file: the typical year's hour with the same local month, day and hour as the interval's start
    (29 February takes the 28th)."""
    import pvlib

    path = Path(path)
    if not path.exists():
        path = Path(pvlib.__file__).parent / "data" / str(path)
    if not path.exists():
        raise ValueError(f"no weather file {path}")
    reader = pvlib.iotools.read_tmy2 if path.suffix.lower() == ".tm2" else pvlib.iotools.read_tmy3
    try:
        data, _ = reader(str(path), map_variables=True)
    except Exception as exc:  # a file that is not TMY: one clear line
        raise ValueError(f"{path}: not a TMY2/TMY3 file ({exc})") from exc
    # TMY hours are labelled by their end: the hour starting at h is labelled h + 1
    start = data.index - pd.Timedelta("1h")
    key = (start.month * 100 + start.day) * 100 + start.hour
    table = pd.DataFrame({"ghi": data["ghi"].to_numpy(np.float64), "temp_air": data["temp_air"].to_numpy(np.float64)},
                         index=key).groupby(level=0).mean()

    def lookup(index: pd.DatetimeIndex) -> np.ndarray:
        local = (index - pd.Timedelta(index.freq or (index[1] - index[0]))).tz_convert(tz)
        day = np.where((local.month == 2) & (local.day == 29), 28, local.day)
        wanted = (local.month * 100 + day) * 100 + local.hour
        return table.reindex(wanted).to_numpy()
    return lookup
