"""Shared by the collective suite: curves built from plain rows."""
from __future__ import annotations

import numpy as np
import pandas as pd

from collective.curves import Curves

START = "2025-06-01 10:00"  # UTC end of the first interval (12:00 in Paris, summer time)


def curves(columns: dict[str, list[float]] | None = None, *, kwh=None, meters=None,
           start: str = START, step: str = "30min") -> Curves:
    """Curves from {meter: values per step}, or from an array `kwh` (steps × meters) and `meters`."""
    if columns is not None:
        meters, kwh = tuple(columns), np.array(list(columns.values()), dtype=np.float64).T
    kwh = np.asarray(kwh, dtype=np.float64)
    meters = tuple(meters) if meters is not None else tuple(f"m{i}" for i in range(kwh.shape[1]))
    index = pd.date_range(start, periods=kwh.shape[0], freq=step, tz="UTC")
    return Curves(index, meters, kwh.reshape(len(index), len(meters)), pd.Timedelta(step))
