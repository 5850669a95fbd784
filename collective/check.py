"""Conformity: long readings (collective.io) -> a report per meter per local civil day, and clean `Curves`.

`check(readings, settings)` works on the regular UTC grid of `settings.step` (multiples of the step
since the Unix epoch) covering every local civil day the readings touch, one row per meter
(meter-major arrays, M x T), with numpy only: no Python loop over rows, days or meters (the
Hampel filter goes through the meters in blocks that fit in cache).

A day's expected count is the number of grid intervals in it: the local day's true length / step
(48/46/50 at 30 min, 96/92/100 at 15 min on ordinary/spring/autumn days). The interval ending at
local 00:00 belongs to the day before.

Flags (`CODES`: code -> severity), one per reading or interval concerned, each with its UTC instant
(the interval end) and value (kWh as read, or as filled):
  row level:  MISALIGNED (end not on the grid: left out of the curve), EXACT_DUPLICATE (dropped),
              CONFLICTING_DUPLICATE (every copy; the interval is invalid), UNSORTED (a row earlier
              than the row before it in the same file and meter; sorted), STEP_CHANGE (the declared
              step changes within a file), STEP_MISMATCH (declared step != settings.step: invalid),
              COUNTER_BACKWARDS (set by the MeterReading reader: invalid), UNIT_MISMATCH (below: invalid),
              QUALITY_ESTIMATED (the source says CORRIGE/ESTIME or any quality but BRUT and "").
  interval:   GAP (no reading), NAN (a reading without value), NEGATIVE (any meter: a withdrawal or an
              injection is never below 0), ABOVE_MAX (above kVA x step hours), SPIKE (Hampel),
              STALE_RUN (>= stale_min_run identical non-zero values), LINEAR_RUN (>= linear_min_run
              values on one straight line with a non-zero slope: a source that interpolated a gap),
              FILLED_LINEAR / FILLED_PROFILE (the value we put in; the interval is ESTIMATED).
Errors make the interval's value invalid: it leaves the curve and is filled like a gap. A SPIKE,
STALE_RUN, LINEAR_RUN or STEP_CHANGE warning keeps the value as read (a household's kettle is a
spike too); GAP and NAN have no value and are filled; infos are notes. The Hampel test is
|x - median| > max(hampel_k x 1.4826 x MAD, hampel_floor_kw x step hours) over `hampel_window`
values centred on x, so that a flat stretch (MAD 0) does not turn every wobble into a spike.

Unit mismatch heuristic: the declared unit decides the conversion (the readers apply it), so a
wrong declaration shows as energies too large for the meter: when at least `unit_mismatch_share`
of a (meter, file)'s positive values exceed its physical maximum (max_kva, else default_kva: 36 kVA,
the largest low-voltage C5 connection), every value of that meter in that
file is flagged UNIT_MISMATCH (an average power in W read as Wh per interval is x2 at 30 min, a sum
of one-minute W samples x60, Wh declared as kWh x1000); isolated excursions stay ABOVE_MAX. Too-small
values (kWh declared as Wh) cannot be told from a quiet meter and are not flagged.

Gap filling (explicit, every filled value flagged and its day ESTIMATED): a run of at most
`linear_fill_max` missing or invalid intervals with valid values on both sides is interpolated
linearly; any other is filled with the meter's same-weekday profile: the mean of its valid values
at the same local weekday and local start time in the other weeks of the data. An interval with no
such value stays NaN and its day is NOT_BILLABLE.

Day status: NOT_BILLABLE if an interval is still missing after filling; else ESTIMATED if one was
filled or has QUALITY_ESTIMATED; else OK. Warnings do not change the status.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from collective.curves import Curves
from collective.io import COUNTER_BACKWARDS

INFO, WARNING, ERROR = "info", "warning", "error"
SEVERITIES = [INFO, WARNING, ERROR]
CODES = {
    "MISALIGNED": ERROR, "EXACT_DUPLICATE": INFO, "CONFLICTING_DUPLICATE": ERROR, "UNSORTED": INFO,
    "STEP_CHANGE": WARNING, "STEP_MISMATCH": ERROR, "COUNTER_BACKWARDS": ERROR, "UNIT_MISMATCH": ERROR,
    "QUALITY_ESTIMATED": INFO, "GAP": WARNING, "NAN": WARNING, "NEGATIVE": ERROR, "ABOVE_MAX": ERROR,
    "SPIKE": WARNING, "STALE_RUN": WARNING, "LINEAR_RUN": WARNING, "FILLED_LINEAR": INFO, "FILLED_PROFILE": INFO,
}
OK, ESTIMATED, NOT_BILLABLE = "OK", "ESTIMATED", "NOT_BILLABLE"
MAD_TO_SIGMA = 1.4826  # MAD of a normal sample x this = its standard deviation
_DAY_NS = 86_400 * 10**9


class CheckSettings(BaseModel):
    """What `check` needs to know besides the readings (all governed thresholds, one place)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: timedelta = timedelta(minutes=30)
    timezone: str = "Europe/Paris"  # local civil days of the report
    max_kva: dict[str, float] = {}  # subscribed (or injection) power per meter
    default_kva: float | None = Field(36.0, gt=0)  # for the meters not in max_kva (36 kVA: LV C5 top); None = no check
    hampel_window: int = Field(7, ge=3)
    hampel_k: float = Field(5.0, gt=0)
    hampel_floor_kw: float = Field(1.0, ge=0)  # a spike deviates from the median by more than this average power
    stale_min_run: int = Field(8, ge=2)
    linear_min_run: int = Field(8, ge=2)
    linear_rtol: float = Field(1e-6, ge=0)  # second difference <= rtol x |values|: on one line
    unit_mismatch_share: float = Field(0.25, gt=0, le=1)
    linear_fill_max: int = Field(2, ge=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("step")
    @classmethod
    def _step_divides_day(cls, value: timedelta) -> timedelta:
        ns = pd.Timedelta(value).value
        if ns <= 0 or _DAY_NS % ns:
            raise ValueError(f"step {value} must be positive and divide a day")
        return value

    @field_validator("hampel_window")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("hampel_window must be odd (a centred window)")
        return value

    def max_kwh(self, meters) -> np.ndarray:
        """Each meter's physical maximum per interval (kVA x step hours; NaN = unchecked)."""
        hours = pd.Timedelta(self.step).total_seconds() / 3600
        kva = [self.max_kva.get(m, self.default_kva) for m in meters]
        return np.array([np.nan if k is None else k * hours for k in kva], dtype=np.float64)


@dataclass(frozen=True)
class CheckReport:
    """`days`: meter, day (local date), expected, present, filled, status. `flags`: meter, day, code,
    instant (UTC), value, severity, file, row ("" and 0 when the flag is about an interval with no reading).
    `curves`: the clean curves, filled; `estimated[t, m]` is True where a value was filled."""

    days: pd.DataFrame
    flags: pd.DataFrame
    curves: Curves
    estimated: np.ndarray
    settings: CheckSettings

    @property
    def billable(self) -> bool:
        """Every member-day is OK or ESTIMATED."""
        return bool((self.days["status"] != NOT_BILLABLE).all())

    def to_json(self, indent: int | None = None) -> str:
        """{settings, billable, days: [{meter, day, expected, present, filled, status, flags: [...]}]}."""
        flags = self.flags.assign(instant=self.flags["instant"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  value=self.flags["value"].astype(object).where(self.flags["value"].notna(), None))
        nested = {key: group.drop(columns=["meter", "day"]).to_dict("records")
                  for key, group in flags.groupby(["meter", "day"], observed=True, sort=False)}
        days = [{**d, "day": d["day"].isoformat(), "flags": nested.get((d["meter"], d["day"]), [])}
                for d in self.days.to_dict("records")]
        return json.dumps({"settings": self.settings.model_dump(mode="json"), "billable": self.billable,
                           "days": days}, indent=indent, default=int, allow_nan=False)

    def table(self, all_days: bool = False) -> str:
        """Days as text: those not OK or with a warning or error (every day with all_days)."""
        counts = (self.flags.groupby(["meter", "day", "code"], observed=True).size()
                  .rename("n").reset_index())
        counts["text"] = counts["code"].astype(str) + " x" + counts["n"].astype(str)
        noted = counts.groupby(["meter", "day"], observed=True)["text"].agg(", ".join)
        serious = self.flags[self.flags["severity"].isin([WARNING, ERROR])].set_index(["meter", "day"]).index
        days = self.days.set_index(["meter", "day"])
        shown = days if all_days else days[(days["status"] != OK) | days.index.isin(serious)]
        shown = shown.assign(flags=noted.reindex(shown.index).fillna("")).reset_index()
        status = self.days["status"].value_counts()
        head = (f"{self.days['meter'].nunique()} meters, {len(self.days)} meter-days: "
                + ", ".join(f"{status.get(s, 0)} {s}" for s in (OK, ESTIMATED, NOT_BILLABLE)))
        return head + ("\n" + shown.to_string(index=False) if len(shown) else "")


# ---------------------------------------------------------------- detectors (arrays in, masks out)

# A 16-comparator sorting network for 7 inputs (the tests check it on all 2^7 0-1 inputs); other sizes
# use odd-even transposition.
_NETWORKS = {7: ((0, 6), (2, 3), (4, 5), (0, 2), (1, 4), (3, 6), (0, 1), (2, 5), (3, 4), (1, 2), (4, 6), (2, 3),
                 (4, 5), (1, 2), (3, 4), (5, 6))}


def _network(n: int) -> tuple[tuple[int, int], ...]:
    return _NETWORKS.get(n) or tuple((i, i + 1) for rnd in range(n) for i in range(rnd % 2, n - 1, 2))


def _median_plan(n: int) -> list[tuple[int, int, bool, bool]]:
    """The comparators the middle output depends on, each with which of its outputs (min to i,
    max to j) a later one uses: the median of 7 costs 24 min/max instead of 32."""
    needed, plan = {n // 2}, []
    for i, j in reversed(_network(n)):
        if i in needed or j in needed:
            plan.append((i, j, i in needed, j in needed))
            needed |= {i, j}
    return plan[::-1]


def median_of(arrays: list[np.ndarray]) -> np.ndarray:
    """Element-wise median of an odd number of equal-shape arrays through a sorting network (min/max
    only: ~10x faster than sorting windows). NaN anywhere in an element's inputs gives NaN there."""
    a: list = list(arrays)
    for i, j, want_min, want_max in _median_plan(len(a)):
        a[i], a[j] = (np.minimum(a[i], a[j]) if want_min else None), (np.maximum(a[i], a[j]) if want_max else None)
    return a[len(a) // 2]


def _by_row_blocks(detector):
    """Run a row-wise detector (M x T values -> M x T mask) on blocks of rows of about 2^18 values:
    its temporaries stay in cache and a few MB, whatever M x T."""
    @functools.wraps(detector)
    def run(values: np.ndarray, *args, **kwargs) -> np.ndarray:
        mask = np.zeros(values.shape, dtype=bool)
        rows = max(1, 2**18 // max(values.shape[1], 1))
        for r0 in range(0, values.shape[0], rows):
            mask[r0:r0 + rows] = detector(values[r0:r0 + rows], *args, **kwargs)
        return mask
    return run


@_by_row_blocks
def is_spike(values: np.ndarray, window: int = 7, k: float = 5.0, floor: float = 0.0) -> np.ndarray:
    """Hampel filter along each row of `values` (M x T, NaN = missing): |x - median| > max(k x 1.4826 x
    MAD, floor) over the centred window, median and MAD over the window's values present (at least
    half of the window + 1, else no verdict). The few windows with a NaN (row edges, gaps) take
    numpy's nanmedian."""
    half = window // 2
    padded = np.pad(values, ((0, 0), (half, half)), constant_values=np.nan)
    windows = [padded[:, j:j + values.shape[1]] for j in range(window)]
    med = median_of(windows)
    mad = median_of([np.abs(w - med) for w in windows])
    r, c = np.nonzero(np.isnan(med) & ~np.isnan(values))  # a NaN in the window
    if len(r):
        held = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)[r, c]
        enough = np.count_nonzero(~np.isnan(held), axis=1) > half
        r, c, held = r[enough], c[enough], held[enough]
        med[r, c] = m = np.nanmedian(held, axis=1)
        mad[r, c] = np.nanmedian(np.abs(held - m[:, None]), axis=1)
    with np.errstate(invalid="ignore"):
        return np.abs(values - med) > np.maximum(k * MAD_TO_SIGMA * mad, floor)


def _runs(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First index (into `at`) and length of each run of consecutive positions in sorted `at`."""
    start = np.flatnonzero(np.diff(at, prepend=-2) != 1)
    return start, np.diff(np.append(start, len(at)))


def _mask(shape, at: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask.ravel()[at] = True
    return mask


@_by_row_blocks
def is_stale(values: np.ndarray, min_run: int = 8) -> np.ndarray:
    """Values (M x T rows) in a run of >= min_run identical non-zero values."""
    flat = values.ravel()
    with np.errstate(invalid="ignore"):
        same = (flat[1:] == flat[:-1]) & (flat[1:] != 0)  # same[i]: value i+1 repeats value i
    same[values.shape[1] - 1::values.shape[1]] = False  # a run never crosses rows
    at = np.flatnonzero(same) + 1
    start, length = _runs(at)
    keep = length + 1 >= min_run
    # each run of repeats plus the value it repeats
    return _mask(values.shape, np.concatenate([at[np.repeat(keep, length)], at[start[keep]] - 1]))


@_by_row_blocks
def is_linear(values: np.ndarray, min_run: int = 8, rtol: float = 1e-6) -> np.ndarray:
    """Values in a run of >= min_run points each on the straight line through its two neighbours
    (|second difference| <= rtol x 2|x|), with a non-zero slope: what a linear interpolation of a
    gap leaves (a flat run is stale). Computed on the flat rows, then cut at row ends."""
    flat = values.ravel()
    d = np.diff(flat)
    with np.errstate(invalid="ignore"):
        on_line = (np.abs(np.diff(d)) <= 2 * rtol * np.abs(flat[1:-1])) & (d[1:] != 0)  # about point i + 1
    at = np.flatnonzero(on_line) + 1
    T = values.shape[1]
    at = at[(at % T != 0) & (at % T != T - 1)]  # a row's first and last point have one neighbour
    start, length = _runs(at)
    return _mask(values.shape, at[np.repeat(length >= min_run, length)])


def _fill_linear(clean: np.ndarray, max_run: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat positions, values) filling each run of at most max_run NaN that has a value on both
    sides in its row, on the line between those two values."""
    T = clean.shape[1]
    flat = clean.ravel()
    at = np.flatnonzero(np.isnan(flat))
    run_start = np.flatnonzero((np.diff(at, prepend=-2) != 1) | (at % T == 0))  # runs never cross rows
    length = np.diff(np.append(run_start, len(at)))
    left = np.repeat(at[run_start] - 1, length)
    right = left + np.repeat(length, length) + 1
    ok = ((left + 1) % T != 0) & (right % T != 0) & (np.repeat(length, length) <= max_run)
    at, left, right = at[ok], left[ok], right[ok]
    return at, flat[left] + (flat[right] - flat[left]) * (at - left) / (right - left)


def _fill_profile(clean: np.ndarray, at: np.ndarray, slot_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, values) for flat positions `at`: the mean of the row's valid values at the same
    slot_key (local weekday x local start time), NaN where there is none; only rows in `at` summed."""
    T = clean.shape[1]
    rows, inverse = np.unique(at // T, return_inverse=True)
    order = np.argsort(slot_key, kind="stable")
    keys, first = np.unique(slot_key[order], return_index=True)
    ordered = clean[rows][:, order]
    valid = ~np.isnan(ordered)
    total = np.add.reduceat(np.where(valid, ordered, 0.0), first, axis=1)
    count = np.add.reduceat(valid.astype(np.int64), first, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return at, mean[inverse, np.searchsorted(keys, slot_key[at % T])]


# ---------------------------------------------------------------- check

def _codes(column: pd.Series, drop_unused: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and their str labels of a str column (category or object); a missing value is "".
    (Category codes are used as they are: hashing 17.5 M strings again would take seconds.)"""
    cat = column.values if isinstance(column.dtype, pd.CategoricalDtype) else pd.Categorical(column)
    codes = np.asarray(cat.codes, dtype=np.int32)
    labels = np.asarray(cat.categories, dtype=object).astype(str)
    if (codes < 0).any():  # NaN -> ""
        if "" not in labels:
            labels = np.append(labels, "")
        codes = np.where(codes < 0, int(np.flatnonzero(labels == "")[0]), codes)
    if drop_unused:
        used = np.bincount(codes, minlength=len(labels)) > 0
        if not used.all():
            codes, labels = (np.cumsum(used) - 1)[codes], labels[used]
    return codes, labels


def _labels_in(column: pd.Series, predicate) -> np.ndarray:
    """Row mask of a str column's values for which predicate(label) holds (evaluated per label)."""
    cat = column.values if isinstance(column.dtype, pd.CategoricalDtype) else pd.Categorical(column)
    table = np.array([bool(predicate(str(s))) for s in cat.categories] + [bool(predicate(""))], dtype=bool)
    if not table.any():
        return np.zeros(len(column), dtype=bool)
    return table[np.asarray(cat.codes)]  # code -1 (NaN) takes the last entry, ""


def _long_columns(readings: pd.DataFrame) -> dict[str, pd.Series]:
    """The long format's columns, optional ones filled in (no copy of the frame: it can be 17.5 M rows)."""
    missing = [c for c in ("meter", "end", "kwh") if c not in readings.columns]
    if missing:
        raise ValueError(f"readings lack column(s) {missing}: see collective.io.LONG_COLUMNS")
    if len(readings) == 0:
        raise ValueError("no readings to check")
    end = readings["end"]
    if not isinstance(end.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"readings.end must be tz-aware datetimes (UTC end of interval), not {end.dtype}")
    for name in ("meter", "end"):
        if readings[name].isna().any():
            raise ValueError(f"readings.{name} is missing at position {int(readings[name].isna().to_numpy().argmax())}")
    n = len(readings)
    blank = pd.Series(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [""]))
    defaults = {"quality": blank, "file": blank, "unit": blank, "flag": blank, "row": pd.Series(np.zeros(n, np.int64)),
                "step": pd.Series(np.full(n, np.timedelta64("NaT", "ns")))}
    return {c: readings[c] if c in readings.columns else defaults[c] for c in ("meter", "end", "kwh", *defaults)}


def _ns(values, kind) -> np.ndarray:
    """int64 nanoseconds of a datetime (UTC) or timedelta column, NaT as int64 min."""
    index = kind(values)
    return (index if index.unit == "ns" else index.as_unit("ns")).asi8


@dataclass(frozen=True)
class _Grid:
    """Whole local days from the first reading's day to the last one's, on the UTC step grid."""

    start: int  # ns, local midnight of the first day (the first interval's start)
    step: int  # ns
    index: pd.DatetimeIndex  # interval ends, UTC
    day_of_slot: np.ndarray  # each interval's local day (0..D-1), in order
    days: np.ndarray  # the local dates
    slot_key: np.ndarray  # local weekday x local start time of each interval (profile filling)

    @classmethod
    def spanning(cls, end: np.ndarray, settings: CheckSettings) -> "_Grid":
        tz, step = ZoneInfo(settings.timezone), pd.Timedelta(settings.step).value
        first = pd.Timestamp(end.min() - 1, tz="UTC").tz_convert(tz).normalize()
        last = pd.Timestamp(end.max() - 1, tz="UTC").tz_convert(tz).normalize()
        start = first.tz_convert("UTC").value
        stop = (last + pd.DateOffset(days=1)).normalize().tz_convert("UTC").value
        if start % step:
            raise ValueError(f"local midnight in {settings.timezone} is not on the {settings.step} grid")
        index = pd.DatetimeIndex(start + step * np.arange(1, (stop - start) // step + 1), tz="UTC")
        local_start = (index - pd.Timedelta(step)).tz_convert(tz)
        day_of_slot, days = pd.factorize(local_start.normalize().date)
        seconds = (local_start.hour * 3600 + local_start.minute * 60 + local_start.second).to_numpy(np.int64)
        slot_key = local_start.dayofweek.to_numpy(np.int64) * (_DAY_NS // step) + seconds * 10**9 // step
        return cls(start, step, index, day_of_slot, np.asarray(days, dtype=object), slot_key)

    @property
    def T(self) -> int:
        return len(self.index)


def _line_order(group: np.ndarray, row: np.ndarray, end: np.ndarray, declared: np.ndarray):
    """Per row, its (file, meter) block's number (0..B-1); the rows earlier than the previous row of
    their block in line order; the rows whose declared step differs from the previous one's (neither NaT)."""
    change = group[1:] != group[:-1]
    heads = np.concatenate([[0], np.flatnonzero(change) + 1])
    # readers give each (file, meter) as one block in line order: sort only frames that are not
    grouped = len(np.unique(group[heads])) == len(heads) and bool(np.all(change | (row[1:] >= row[:-1])))
    if not grouped:
        order = np.lexsort((end, row, group))
        group, row, end, declared = group[order], row[order], end[order], declared[order]
        change = group[1:] != group[:-1]
    block = np.concatenate([[0], np.cumsum(change)])
    nat = np.iinfo(np.int64).min
    # rows sharing a line number (intervals from events) have no order to break
    unsorted = np.flatnonzero(~change & (row[1:] > row[:-1]) & (end[1:] < end[:-1])) + 1
    changed = np.flatnonzero(~change & (declared[1:] != declared[:-1]) & (declared[1:] != nat)
                             & (declared[:-1] != nat)) + 1
    if grouped:
        return block, unsorted, changed
    in_place = np.empty_like(block)
    in_place[order] = block
    return in_place, order[unsorted], order[changed]


def _duplicates(cell: np.ndarray, count: np.ndarray, kwh: np.ndarray, line: tuple[np.ndarray, np.ndarray]):
    """Rows sharing a cell, each cell's first in (file, row) order kept: (rows kept, exact copies
    dropped, rows of conflicting cells, those cells)."""
    if count.max(initial=0) < 2:
        return (np.zeros(0, np.int64),) * 4
    dup = np.flatnonzero((count[np.maximum(cell, 0)] > 1) & (cell >= 0))
    file, row = line
    dup = dup[np.lexsort((row[dup], file[dup], cell[dup]))]
    head = np.ones(len(dup), dtype=bool)
    head[1:] = cell[dup][1:] != cell[dup][:-1]
    cell_no = np.cumsum(head) - 1
    ref = kwh[dup[head]][cell_no]
    equal = (kwh[dup] == ref) | (np.isnan(kwh[dup]) & np.isnan(ref))
    conflicting = (np.bincount(cell_no, weights=~equal, minlength=int(head.sum())) > 0)[cell_no]
    return dup[head], dup[~conflicting & ~head], dup[conflicting], cell[dup[conflicting]]


def check(readings: pd.DataFrame, settings: CheckSettings | None = None) -> CheckReport:
    """Conformity of long readings (collective.io format; quality, file, row, unit, step and flag optional)."""
    s = settings or CheckSettings()
    r = _long_columns(readings)
    meter, meters = _codes(r["meter"], drop_unused=True)
    if not (meters[1:] > meters[:-1]).all():  # curves and report list meters sorted
        order = np.argsort(meters, kind="stable")
        meter, meters = np.argsort(order)[meter], meters[order]
    file, files = _codes(r["file"])
    end, declared = _ns(r["end"], pd.DatetimeIndex), _ns(r["step"], pd.TimedeltaIndex)
    kwh, row = r["kwh"].to_numpy(dtype=np.float64), r["row"].to_numpy(dtype=np.int64)
    g = _Grid.spanning(end, s)
    M, T, step = len(meters), g.T, g.step
    # (file, meter) blocks in line order; codes are int32, their product is not
    block, unsorted, step_change = _line_order(file.astype(np.int64) * M + meter, row, end, declared)

    # -- rows onto the grid: cell = meter x T + interval, -1 when the end is off the grid
    slot, off = np.divmod(end - g.start, step)
    aligned = off == 0
    cell = np.where(aligned, meter.astype(np.int64) * T + slot - 1, -1)
    del slot, off  # 17.5 M rows: each array of them is 140 MB
    placed = cell[aligned] if not aligned.all() else cell
    count = np.bincount(placed, minlength=M * T)
    present = count > 0
    values = np.full(M * T, np.nan)
    values[placed] = kwh[aligned] if not aligned.all() else kwh
    row_of_cell = np.full(M * T, -1, dtype=np.int64)
    row_of_cell[placed] = np.flatnonzero(aligned) if not aligned.all() else np.arange(len(cell))
    kept, exact, conflicting, conflict_cells = _duplicates(cell, count, kwh, (file, row))
    row_of_cell[cell[kept]] = kept
    values[conflict_cells] = np.nan
    del count

    def on_cells(row_mask):
        cells = np.zeros(M * T, dtype=bool)
        if row_mask.any():
            hit = cell[row_mask]
            cells[hit[hit >= 0]] = True
        return cells

    # -- what rows say about their values
    max_kwh = s.max_kwh(meters)
    with np.errstate(invalid="ignore"):
        above_row = kwh > max_kwh[meter]
    unit_mismatch = np.zeros(len(kwh), dtype=bool)
    if above_row.any():
        blocks = int(block[-1]) + 1
        share = np.bincount(block[above_row], minlength=blocks) / np.maximum(
            np.bincount(block[kwh > 0], minlength=blocks), 1)
        unit_mismatch = share[block] >= s.unit_mismatch_share
    nat = np.iinfo(np.int64).min
    step_mismatch = (declared != nat) & (declared != step)
    backwards = _labels_in(r["flag"], lambda f: f == COUNTER_BACKWARDS)
    quality = _labels_in(r["quality"], lambda q: q not in ("", "BRUT"))

    # -- interval checks (M x T)
    v = values.reshape(M, T)
    conflict = np.zeros(M * T, dtype=bool)
    conflict[conflict_cells] = True
    with np.errstate(invalid="ignore"):
        negative = (v < 0).ravel()
        above = (v > max_kwh[:, None]).ravel()
    nan = present & np.isnan(values) & ~conflict
    spike = is_spike(v, s.hampel_window, s.hampel_k, s.hampel_floor_kw * step / 3.6e12).ravel()
    stale = is_stale(v, s.stale_min_run).ravel()
    linear = is_linear(v, s.linear_min_run, s.linear_rtol).ravel()
    invalid = nan | negative | above | conflict | on_cells(backwards | step_mismatch | unit_mismatch)
    clean = np.where(present & ~invalid, values, np.nan).reshape(M, T)

    # -- filling: linear for short runs, then the same-weekday profile
    filled = clean.copy()
    lin_at, lin_value = _fill_linear(clean, s.linear_fill_max)
    filled.ravel()[lin_at] = lin_value
    prof_at, prof_value = _fill_profile(clean, np.flatnonzero(np.isnan(filled)), g.slot_key)
    filled.ravel()[prof_at] = prof_value
    prof_at = prof_at[~np.isnan(prof_value)]
    unfilled_at = np.flatnonzero(np.isnan(filled))

    # -- days: intervals present per day (days are contiguous on the grid), and the few filled,
    # unfilled or estimated ones counted from their positions
    D = len(g.days)
    present_per_day = np.add.reduceat(present.reshape(M, T).astype(np.int32),
                                      np.flatnonzero(np.diff(g.day_of_slot, prepend=-1)), axis=1).ravel()

    def per_day(at):
        return np.bincount(at // T * D + g.day_of_slot[at % T], minlength=M * D)

    n_filled = per_day(np.concatenate([lin_at, prof_at]))
    status = np.where(per_day(unfilled_at) > 0, NOT_BILLABLE,
                      np.where((n_filled > 0) | (per_day(np.flatnonzero(on_cells(quality))) > 0), ESTIMATED, OK))
    report_days = pd.DataFrame({
        "meter": np.repeat(meters, D), "day": np.tile(g.days, M), "expected": np.tile(np.bincount(g.day_of_slot), M),
        "present": present_per_day, "filled": n_filled, "status": status})

    # -- flags
    row_flags = {"MISALIGNED": np.flatnonzero(~aligned), "EXACT_DUPLICATE": exact,
                 "CONFLICTING_DUPLICATE": conflicting, "UNSORTED": unsorted, "STEP_CHANGE": step_change,
                 "STEP_MISMATCH": np.flatnonzero(step_mismatch), "COUNTER_BACKWARDS": np.flatnonzero(backwards),
                 "UNIT_MISMATCH": np.flatnonzero(unit_mismatch), "QUALITY_ESTIMATED": np.flatnonzero(quality)}
    cell_flags = {"GAP": ~present, "NAN": nan, "NEGATIVE": negative, "ABOVE_MAX": above, "SPIKE": spike,
                  "STALE_RUN": stale, "LINEAR_RUN": linear}
    pieces = [(code, meter[at], end[at], kwh[at], at) for code, at in row_flags.items()]
    for code, at in [*((c, np.flatnonzero(mask)) for c, mask in cell_flags.items()),
                     ("FILLED_LINEAR", lin_at), ("FILLED_PROFILE", prof_at)]:
        value = (filled.ravel() if code.startswith("FILLED") else values)[at]
        pieces.append((code, at // T, g.index.asi8[at % T], value, row_of_cell[at]))
    flags = _flag_frame(pieces, meters, files, file, row, ZoneInfo(s.timezone))
    curves = Curves(g.index, tuple(meters), np.ascontiguousarray(filled.T), pd.Timedelta(step))
    return CheckReport(report_days, flags, curves, _mask((M, T), np.concatenate([lin_at, prof_at])).T, s)


def _flag_frame(pieces, meters, files, file, row, tz) -> pd.DataFrame:
    """One frame of typed flags from (code, meter codes, instants ns, values, source row or -1) pieces."""
    code = np.concatenate([np.full(len(p[1]), i) for i, p in enumerate(pieces)]).astype(np.int64)
    m, instant, value, src = (np.concatenate([p[k] for p in pieces]) for k in (1, 2, 3, 4))
    names = [p[0] for p in pieces]
    severity = np.array([SEVERITIES.index(CODES[n]) for n in names], dtype=np.int64)
    instants = pd.DatetimeIndex(instant.astype(np.int64), tz="UTC")
    has_row = src >= 0
    if "" not in files:  # the file of a flag about an interval without reading
        files = np.append(files, "")
    no_file = int(np.flatnonzero(files == "")[0])
    frame = pd.DataFrame({
        "meter": pd.Categorical.from_codes(m.astype(np.int64), meters),
        "day": (instants - pd.Timedelta(1)).tz_convert(tz).date,
        "code": pd.Categorical.from_codes(code, names),
        "instant": instants,
        "value": value.astype(np.float64),
        "severity": pd.Categorical.from_codes(severity[code], SEVERITIES),
        "file": pd.Categorical.from_codes(np.where(has_row, file[np.where(has_row, src, 0)], no_file), files),
        "row": np.where(has_row, row[np.where(has_row, src, 0)], 0),
    })
    return frame.sort_values(["meter", "instant", "code", "file", "row"], kind="stable").reset_index(drop=True)
