"""The data every step of the pipeline hands to the next: energy per interval, per meter."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Curves:
    """Energy (kWh) per interval, one column per meter.

    `index` holds each interval's END instant in UTC (the interval ending 00:00 belongs to the day
    before), strictly increasing with a regular `step`; `kwh[t, m]` is meter `meters[m]`'s energy in
    the interval ending at `index[t]`, NaN where it is missing. Vectorised code works on `kwh`
    directly; `frame()` is the pandas view for people and files.
    """

    index: pd.DatetimeIndex
    meters: tuple[str, ...]
    kwh: np.ndarray
    step: pd.Timedelta

    def __post_init__(self):
        if self.index.tz is None or str(self.index.tz) != "UTC":
            raise ValueError("Curves.index must be tz-aware UTC")
        if self.kwh.shape != (len(self.index), len(self.meters)):
            raise ValueError(f"kwh has shape {self.kwh.shape}, expected {(len(self.index), len(self.meters))}")
        if len(set(self.meters)) != len(self.meters):
            raise ValueError("duplicate meter ids")
        if len(self.index) > 1 and not (np.diff(self.index.asi8) == self.step.value).all():
            raise ValueError(f"index is not regular at step {self.step}")

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, step: pd.Timedelta | str | None = None) -> "Curves":
        """From a wide frame (UTC end-of-interval index, one column per meter, kWh)."""
        step = pd.Timedelta(step) if step is not None else pd.Timedelta(frame.index[1] - frame.index[0])
        return cls(pd.DatetimeIndex(frame.index), tuple(str(c) for c in frame.columns),
                   frame.to_numpy(dtype=np.float64, copy=True), step)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.kwh, index=self.index, columns=list(self.meters))

    def select(self, meters) -> "Curves":
        """The columns of `meters`, in that order (KeyError names a missing one)."""
        position = {m: i for i, m in enumerate(self.meters)}
        columns = [position[m] for m in meters]
        return Curves(self.index, tuple(meters), self.kwh[:, columns], self.step)

    def totals(self) -> dict[str, float]:
        """Each meter's energy over the whole period (missing intervals count as 0)."""
        return dict(zip(self.meters, np.nansum(self.kwh, axis=0).tolist()))
