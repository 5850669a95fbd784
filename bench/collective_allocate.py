"""Allocation keys at community scale: 1 000 consumers, 5 PV producers, a year at 30 min (17 520 steps)
and at 15 min (35 040), one process, one thread (no BLAS in the hot path: ufuncs, einsum, argsort).

Times are wall clock, the median of REPEATS runs of `allocate(production, consumption, key)` (key
construction included: the full dynamic key checks its 5 × T × N shares there). Peak memory is what
`tracemalloc` sees allocated during one more run (outputs and temporaries; the inputs, built before, are
excluded and given in the note), so it measures the allocation, not the data set.

    python -m bench collective_allocate
"""
from __future__ import annotations

import io
import platform
import resource
import statistics
import time
import tracemalloc

import numpy as np
import pandas as pd

from bench import Figure
from collective.allocate import DefaultDynamic, FullDynamic, Static, allocate, key_file
from collective.curves import Curves

CONSUMERS, PRODUCERS_KWP = 1_000, (100, 250, 36, 500, 60)  # ~1 MWp for 1 000 homes: noon surplus in summer
REPEATS = 3
MB = 2 ** 20


def community(step: str, seed: int = 1) -> tuple[Curves, Curves]:
    """A year of seeded synthetic data: lognormal household load on a morning/evening profile (~4 MWh a
    year each, 5 % of members joining mid-year), and PV production on a seasonal clear-sky bell with daily
    and per-step clouds."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-01-01", "2026-01-01", freq=step, tz="UTC", inclusive="right")
    hours = pd.Timedelta(step) / pd.Timedelta("1h")
    mid = ((index - pd.Timedelta(step) / 2).hour + (index - pd.Timedelta(step) / 2).minute / 60).to_numpy()
    day = (index - pd.Timedelta(step) / 2).dayofyear.to_numpy()
    profile = 0.35 + 0.5 * np.exp(-((mid - 8) / 1.5) ** 2) + 0.9 * np.exp(-((mid - 19.5) / 2.5) ** 2)
    size = rng.lognormal(0, 0.5, CONSUMERS)
    load = profile[:, None] * size * rng.lognormal(-0.2, 0.6, (len(index), CONSUMERS)) * hours * 0.55
    joined = rng.integers(0, len(index), CONSUMERS) * (rng.random(CONSUMERS) < 0.05)
    load[np.arange(len(index))[:, None] < joined] = 0.0  # absent before joining: C = 0
    half_day = 6 + 2.2 * np.cos(2 * np.pi * (day - 172) / 365)  # hours from solar noon to sunset
    sun = np.clip(np.cos(np.pi / 2 * (mid - 13) / half_day), 0, None) ** 1.3
    sun *= 0.75 + 0.25 * np.cos(2 * np.pi * (day - 172) / 365)
    clouds = rng.uniform(0.2, 1, 366)[day - 1][:, None] * rng.uniform(0.7, 1, (len(index), len(PRODUCERS_KWP)))
    pv = sun[:, None] * np.array(PRODUCERS_KWP) * clouds * hours
    return (Curves(index, tuple(f"PV{k}" for k in range(len(PRODUCERS_KWP))), pv, pd.Timedelta(step)),
            Curves(index, tuple(f"PRM{i:04d}" for i in range(CONSUMERS)), load, pd.Timedelta(step)))


def full_dynamic_shares(production: Curves, consumption: Curves, seed: int = 2) -> dict[str, Curves]:
    """What a PMO might send: each producer shares among consumers in proportion to their load weighted by
    a fixed per-pair affinity (distance, contract), so Σ_i β_ik = 1 and each producer's β is its own array."""
    rng = np.random.default_rng(seed)
    demand = consumption.kwh
    shares = {}
    for producer in production.meters:
        weighted = demand * rng.uniform(0.2, 1, demand.shape[1])
        total = weighted.sum(axis=1, keepdims=True)
        np.divide(weighted, total, out=weighted, where=total > 0)
        shares[producer] = Curves(consumption.index, consumption.meters, weighted, consumption.step)
    return shares


def timed(run, repeats: int = REPEATS) -> tuple[float, float]:
    """(median, min) wall time of `run()` in seconds; the result is dropped before the next run."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def peak_mb(run) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


def resolution(step: str, label: str, scale: float) -> list[Figure]:
    production, consumption = community(step)
    shares = full_dynamic_shares(production, consumption)
    steps = len(consumption.index)
    alpha = consumption.kwh.sum(axis=0)
    static = dict(zip(consumption.meters, (alpha / alpha.sum()).tolist()))
    p, demand = production.kwh.sum(axis=1), consumption.kwh.sum(axis=1)
    contested = float(((p > 0) & (p < demand)).mean())
    inputs_mb = (production.kwh.nbytes + consumption.kwh.nbytes) / MB
    shares_mb = sum(s.kwh.nbytes for s in shares.values()) / MB
    runs = {
        "default_dynamic": (lambda: allocate(production, consumption, DefaultDynamic()), 0.3),
        "static_unlimited": (lambda: allocate(production, consumption, Static(static, max_rounds=None)), 1.5),
        "full_dynamic": (lambda: allocate(production, consumption, FullDynamic(shares)), 3.0),
    }
    figures, peaks = [], {}
    size = f"{CONSUMERS} consumers x {steps} steps x {len(production.meters)} producers"
    for name, (run, target) in runs.items():
        median, fastest = timed(run)
        peaks[name] = peak_mb(run)
        note = f"{size}; median of {REPEATS}, min {fastest:.3f} s"
        if name == "static_unlimited":
            note += f"; {100 * contested:.0f} % of steps contested (0 < P < sum C), the others skip the sort"
        figures.append(Figure(f"{name}_{label}", median, "s", f"<= {target * scale:g}", note))
    worst = Curves(production.index, ("flat",), 0.5 * demand[:, None], production.step)  # every step contested
    median, _ = timed(lambda: allocate(worst, consumption, Static(static, max_rounds=None)), 1)
    figures.append(Figure(f"static_unlimited_all_contested_{label}", median, "s",
                          note="P = half of sum C at every step: the sort runs on every step"))
    median, _ = timed(lambda: allocate(production, consumption, Static(static, max_rounds=8)), 1)
    figures.append(Figure(f"static_8_rounds_{label}", median, "s", note="max_rounds=8, vectorised over steps"))
    al = runs["default_dynamic"][0]()
    median, _ = timed(lambda: key_file(al), 1)
    figures.append(Figure(f"key_file_{label}", median, "s", note="floored to 0.01 %"))
    keys = key_file(al)
    median, _ = timed(lambda: keys.write(io.StringIO()), 1)
    figures.append(Figure(f"key_file_csv_{label}", median, "s", note="Horodate;PRM... text, in memory"))
    worst_key = max(peaks, key=peaks.get)
    figures.append(Figure(
        f"allocation_peak_{label}", peaks[worst_key], "MB", "<= 1024",
        f"tracemalloc during allocate(), worst key {worst_key} "
        f"({', '.join(f'{k} {v:.0f}' for k, v in peaks.items())} MB); inputs excluded: curves "
        f"{inputs_mb:.0f} MB, full dynamic shares {shares_mb:.0f} MB"))
    return figures


def run() -> list[Figure]:
    figures = resolution("30min", "30min", 1.0) + resolution("15min", "15min", 2.0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    figures.append(Figure("process_max_rss", rss, "MB",
                          note=f"whole bench process, inputs included; numpy {np.__version__}, "
                               f"{platform.processor() or platform.machine()}, BLAS never called "
                               "(under gdb no cblas_* breakpoint is hit)"))
    return figures
