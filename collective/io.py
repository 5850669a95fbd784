"""Meter data into one long format: a row per meter per interval, whatever the source.

Long format (`LONG_COLUMNS`), one row per value read:

    meter    str        meter id (see each reader for how it is named)
    end      datetime64[ns, UTC]   END of the interval (the interval ending 00:00 belongs to the day before)
    kwh      float64    energy in the interval, kWh; NaN where the source has an empty value
    quality  str        "BRUT", "CORRIGE", "ESTIME" or "" (the source says nothing)
    file     str        where the row comes from (a path, or the events' source name)
    row      int64      1-based line of the source file (the header is line 1); for events, the
                        1-based position in the iterable of the reading that closes the interval
    unit     str        the unit the source declares ("W", "kW", "Wh", "kWh"; "" if none)
    step     timedelta64[ns]  the interval length the source declares (NaT if none)
    flag     str        a defect the reader saw but kept for `check` ("COUNTER_BACKWARDS"), else ""

The str columns are pandas `category` (a year of 1 000 meters is 17.5 M rows); `check` also accepts
plain object columns, and `long_frame` builds a frame with these dtypes from arrays.

What is an error and what is kept: a file that cannot be read as a whole (empty, wrong separator,
missing column) or a row whose fields cannot be parsed (date, offset, number, unit, step, nature)
raises `InputError(file, row, reason)`: a value we cannot read is not a value we can check. A row
that parses but is suspicious is kept for `check` to flag: an empty value (NaN), a negative or
huge value, a duplicate, a misaligned or unsorted timestamp, a counter going backwards (`flag`).
Blank lines are skipped (they hold no field).

Readers:
- `read_enedis(path)`: the grid operator's load-curve export ("courbe de charge"), `;`-separated,
  header on line 1, UTF-8 (BOM allowed) or Windows-1252. Columns, matched without case, accents or
  extra spaces; others (Date de début, Date de fin, Grandeur physique, Etape metier, ...) are ignored:
    Identifiant PRM   required; the meter id
    Horodate          required; ISO 8601 WITH offset (2025-03-30T03:30:00+02:00, or Z), END of interval
    Valeur            required; decimal point or comma; empty = missing value (kept as NaN)
    Unite             required; W or kW (average power over the interval) or Wh or kWh (energy)
    Pas               ISO 8601 duration (PT30M, PT15M, PT10M, PT1H); required on rows in W or kW,
                      since the step turns an average power into energy: kWh = W x step_h / 1000
    Nature            optional quality: B/BRUT/R/REEL -> BRUT, C/CORRIGE -> CORRIGE, E/ESTIME -> ESTIME, empty -> ""
    Grandeur metier   optional: CONS -> meter "<PRM>:consumption", PROD -> "<PRM>:production";
                      without this column the meter is the PRM itself
- `read_wide(path)`: our own format, `,`-separated: header `timestamp,<meter>,<meter>...`, then one
  line per interval: timestamp ISO 8601 with offset (END of interval), then each meter's energy in
  the interval in kWh (decimal point; empty cell = missing, kept as NaN). unit "kWh", step NaT.
- `read_meter_readings(events, step)`: the exchange's MeterReading events (cumulative Wh counters)
  resampled to interval energies; see its docstring.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

LONG_COLUMNS = ("meter", "end", "kwh", "quality", "file", "row", "unit", "step", "flag")
COUNTER_BACKWARDS = "COUNTER_BACKWARDS"

# unit -> (its name, kWh per unit, whether it is an average power: then x the step in hours)
_UNITS = {"w": ("W", 1e-3, True), "kw": ("kW", 1.0, True), "wh": ("Wh", 1e-3, False), "kwh": ("kWh", 1.0, False)}
_NATURE = {"": "", "b": "BRUT", "brut": "BRUT", "r": "BRUT", "reel": "BRUT", "c": "CORRIGE",
           "corrige": "CORRIGE", "e": "ESTIME", "estime": "ESTIME"}
_DIRECTION = {"cons": "consumption", "prod": "production"}
_ISO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
_ISO_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")


class InputError(ValueError):
    """A source that cannot be read: `file`, 1-based `row` (1 = the header or the file as a whole)
    and `reason` are in the message and kept as attributes."""

    def __init__(self, file, row: int, reason: str):
        self.file, self.row, self.reason = str(file), int(row), reason
        super().__init__(f"{self.file}, row {self.row}: {reason}")


def long_frame(meter, end, kwh, *, quality="", file="", row=None, unit="", step=None, flag="") -> pd.DataFrame:
    """A long-format frame with the documented dtypes; scalars are broadcast, `row` defaults to 1..n."""
    end = pd.DatetimeIndex(end)
    if end.tz is None:
        raise ValueError("end must be tz-aware (UTC end of interval)")
    n = len(end)

    def text(value):
        if isinstance(value, pd.Categorical):
            return value
        return pd.Categorical(np.full(n, value, dtype=object) if np.isscalar(value)
                              else np.asarray(value, dtype=object))

    step = pd.TimedeltaIndex(np.full(n, np.timedelta64("NaT", "ns")) if step is None else
                             np.full(n, pd.Timedelta(step).to_timedelta64()) if np.isscalar(step) or
                             isinstance(step, pd.Timedelta) else step)
    return pd.DataFrame({
        "meter": text(meter), "end": end.tz_convert("UTC").as_unit("ns"),
        "kwh": np.asarray(kwh, dtype=np.float64) if not np.isscalar(kwh) else np.full(n, kwh, np.float64),
        "quality": text(quality), "file": text(file),
        "row": np.arange(1, n + 1, dtype=np.int64) if row is None else np.asarray(row, dtype=np.int64),
        "unit": text(unit), "step": step.as_unit("ns"), "flag": text(flag),
    })


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Long frames one after the other, categories merged (pd.concat would fall back to object)."""
    frames = list(frames)
    out = {c: pd.concat([f[c] for f in frames], ignore_index=True) for c in ("end", "kwh", "row", "step")}
    for c in ("meter", "quality", "file", "unit", "flag"):
        out[c] = pd.api.types.union_categoricals([pd.Categorical(f[c]) for f in frames])
    return pd.DataFrame({c: out[c] for c in LONG_COLUMNS})


# ---------------------------------------------------------------- text tables

def _key(name: str) -> str:
    """A column name without case, accents, underscores or extra spaces."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(plain.replace("_", " ").lower().split())


def _read_table(path, sep: str) -> tuple[pd.DataFrame, int]:
    """Every field as text (CSV quotes removed), indexed by the 1-based line number, and the
    header's line; blank lines skipped. `_columns` strips the fields it takes of spaces."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # Enedis exports opened and saved by a spreadsheet
    lines = pd.Series(text.splitlines(), dtype=object)
    lines.index = np.arange(1, len(lines) + 1)
    lines = lines[lines.str.strip() != ""]
    if lines.empty:
        raise InputError(path, 1, "empty file")
    header_line, header = int(lines.index[0]), lines.iloc[0]
    if sep not in header:
        other = next((repr(s) for s in (";", ",", "\t") if s != sep and s in header), "no separator")
        raise InputError(path, header_line, f"separator: expected {sep!r}, found {other} in the header")
    width = header.count(sep) + 1
    counts = lines.str.count(re.escape(sep)) + 1
    wrong = (counts != width).to_numpy()
    if wrong.any():
        line = int(lines.index[wrong.argmax()])
        raise InputError(path, line, f"{counts.loc[line]} fields, the header has {width}")
    if len(lines) == 1:
        raise InputError(path, header_line, "no data rows")
    table = pd.read_csv(StringIO("\n".join(lines.iloc[1:])), sep=sep, header=None, names=range(width), dtype=str,
                        keep_default_na=False, engine="c")
    table.columns = [name.strip().strip('"').strip() for name in header.split(sep)]  # as written, even twice
    table.index = lines.index[1:]
    return table, header_line


def _columns(table: pd.DataFrame, path, header_line: int, required: dict[str, str],
             optional: dict[str, str]) -> dict[str, pd.Series]:
    """The columns wanted, found by `_key`; InputError names the first required one missing."""
    by_key: dict[str, str] = {}
    for name in table.columns:
        if _key(name) in by_key:
            raise InputError(path, header_line, f"column {name!r} appears twice")
        by_key[_key(name)] = name
    missing = [label for label in required.values() if _key(label) not in by_key]
    if missing:
        raise InputError(path, header_line, f"missing column {missing[0]!r} (header: {list(table.columns)})")
    wanted = {**required, **optional}
    return {field: table[by_key[_key(label)]].str.strip() for field, label in wanted.items() if _key(label) in by_key}


def _first_bad(path, column: pd.Series, bad: np.ndarray, what: str) -> None:
    if bad.any():
        line = column.index[bad.argmax()]
        raise InputError(path, int(line), f"{what}: {column.loc[line]!r}")


def _instants(path, column: pd.Series) -> pd.DatetimeIndex:
    """ISO 8601 with an offset, to UTC; a date without offset is refused (its UTC instant is a guess).
    The usual shape (2025-01-15T00:30:00+01:00, every row) is parsed by numpy at ~0.5 s a million
    rows; anything else goes through pandas, which also names the first bad row."""
    fast = _instants_fixed_width(column.to_numpy(dtype=str))
    if fast is not None:
        return fast
    ok = column.str.match(_ISO_OFFSET).to_numpy()
    _first_bad(path, column, ~ok & column.str.match(_ISO_NAIVE).to_numpy(), "date without UTC offset")
    _first_bad(path, column, ~ok, "unparsable date")
    parsed = pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")
    _first_bad(path, column, parsed.isna().to_numpy(), "unparsable date")  # e.g. 2025-02-30
    return pd.DatetimeIndex(parsed).as_unit("ns")


def _instants_fixed_width(text: np.ndarray) -> pd.DatetimeIndex | None:
    """YYYY-MM-DDTHH:MM:SS+HH:MM on every row, to UTC; None when a row has another shape or date."""
    if len(text) == 0 or text.dtype != np.dtype("U25"):
        return None
    chars = text.view("U1").reshape(len(text), 25)
    punctuation = {4: "-", 7: "-", 13: ":", 16: ":", 22: ":"}
    if not (all((chars[:, i] == c).all() for i, c in punctuation.items()) and np.isin(chars[:, 10], ["T", " "]).all()
            and np.isin(chars[:, 19], ["+", "-"]).all()):
        return None
    offset = np.ascontiguousarray(chars[:, [20, 21, 23, 24]]).view(np.uint32).reshape(-1, 4).astype(np.int64) - 48
    if not ((offset >= 0) & (offset <= 9)).all():
        return None
    try:
        local = np.ascontiguousarray(chars[:, :19]).view("U19").ravel().astype("datetime64[s]")
    except ValueError:  # a date like 2025-02-30
        return None
    minutes = (offset[:, 0] * 10 + offset[:, 1]) * 60 + offset[:, 2] * 10 + offset[:, 3]
    utc = local.astype(np.int64) - np.where(chars[:, 19] == "-", -1, 1) * minutes * 60
    return pd.DatetimeIndex(utc * 10**9, tz="UTC")


def _numbers(path, column: pd.Series, what: str, decimal_comma: bool) -> np.ndarray:
    """Finite numbers; an empty field is NaN (kept for `check`), anything else unparsable is an error."""
    text = column.str.replace(",", ".", regex=False) if decimal_comma else column
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    _first_bad(path, column, (column != "").to_numpy() & ~np.isfinite(values), f"{what} is not a number")
    return values


def _mapped(path, column: pd.Series, table: dict, what: str) -> pd.Series:
    """Each value through `table` (its keys as `_key` writes them, looked up once per distinct
    value); the first value not in it is an error."""
    known = {text: table[_key(text)] for text in column.unique() if _key(text) in table}
    _first_bad(path, column, ~column.isin(list(known)).to_numpy(), f"unknown {what}")
    return column.map(known)


def _durations(path, column: pd.Series) -> pd.TimedeltaIndex:
    """ISO 8601 durations (PT30M ...); empty = not declared (NaT)."""
    parsed = {"": pd.NaT}
    for text in column.unique():
        match = _DURATION.match(text.upper())
        if text and match:
            h, m, s = (int(g or 0) for g in match.groups())
            if h or m or s:
                parsed[text] = pd.Timedelta(hours=h, minutes=m, seconds=s)
    _first_bad(path, column, ~column.isin(list(parsed)).to_numpy(), "step (Pas) is not an ISO 8601 duration like PT30M")
    return pd.TimedeltaIndex(column.map(parsed).to_numpy(dtype="timedelta64[ns]"))


# ---------------------------------------------------------------- readers

def read_enedis(path) -> pd.DataFrame:
    """The grid operator's load-curve CSV (module docstring: columns, units, quality codes)."""
    table, header_line = _read_table(path, ";")
    cols = _columns(table, path, header_line,
                    {"prm": "Identifiant PRM", "end": "Horodate", "value": "Valeur", "unit": "Unite"},
                    {"step": "Pas", "nature": "Nature", "direction": "Grandeur metier"})
    _first_bad(path, cols["prm"], (cols["prm"] == "").to_numpy(), "empty Identifiant PRM")
    end = _instants(path, cols["end"])
    value = _numbers(path, cols["value"], "Valeur", decimal_comma=True)
    unit = _mapped(path, cols["unit"], _UNITS, "unit (Unite: W, kW, Wh, kWh)")
    name, scale, power = (unit.str[i].to_numpy() for i in range(3))
    step = _durations(path, cols["step"]) if "step" in cols else pd.TimedeltaIndex(np.full(len(table), pd.NaT))
    power = power.astype(bool)
    _first_bad(path, cols["unit"], power & step.isna(), "no step (Pas) to turn an average power into energy, unit")
    hours = np.where(power, step.total_seconds().to_numpy() / 3600, 1.0)
    meter = cols["prm"]
    if "direction" in cols:
        meter = meter + ":" + _mapped(path, cols["direction"], _DIRECTION, "Grandeur metier (CONS, PROD)")
    quality = (_mapped(path, cols["nature"], _NATURE, "Nature (B, BRUT, R, C, CORRIGE, E, ESTIME)")
               if "nature" in cols else "")
    return long_frame(meter.to_numpy(object), end, value * scale.astype(np.float64) * hours,
                      quality=quality if np.isscalar(quality) else quality.to_numpy(object), file=str(path),
                      row=table.index, unit=name.astype(object), step=step)


def read_wide(path) -> pd.DataFrame:
    """Our own wide CSV: `timestamp,<meter>,...`, end-of-interval ISO instants with offset, kWh per interval."""
    table, header_line = _read_table(path, ",")
    if _key(table.columns[0]) != "timestamp":
        raise InputError(path, header_line, f"first column must be 'timestamp', not {table.columns[0]!r}")
    meters = list(table.columns[1:])
    if "" in meters:
        raise InputError(path, header_line, f"every column after 'timestamp' must name a meter: {meters}")
    if len(set(meters)) != len(meters):
        raise InputError(path, header_line, f"a meter appears twice in the header: {meters}")
    end = _instants(path, table.iloc[:, 0].str.strip())
    values = np.column_stack([_numbers(path, table[c].str.strip(), f"kWh of {m}", decimal_comma=False)
                              for c, m in zip(table.columns[1:], meters)])
    n = len(table)
    return long_frame(pd.Categorical.from_codes(np.repeat(np.arange(len(meters)), n), meters),
                      np.tile(end, len(meters)), values.T.ravel(), file=str(path),
                      row=np.tile(table.index.to_numpy(), len(meters)), unit="kWh")


_EVENT_FIELDS = ("meterId", "seq", "timestamp", "producedWh", "consumedWh")


def _event_fields(position: int, event, source: str) -> tuple[int, ...]:
    """A reading's fields from a dict, a ChainEvent (its `args`) or an object with those attributes."""
    if getattr(event, "error", None):
        raise InputError(source, position, f"undecodable event: {event.error}")
    name = getattr(event, "name", "MeterReading")
    if name != "MeterReading":
        raise InputError(source, position, f"not a MeterReading event: {name}")
    fields = event if isinstance(event, Mapping) else getattr(event, "args", None)
    try:
        values = [fields[f] if fields is not None else getattr(event, f) for f in _EVENT_FIELDS]
    except (KeyError, AttributeError) as exc:
        raise InputError(source, position, f"missing field {exc.args[0]!r}") from None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in values):
        raise InputError(source, position, f"fields must be non-negative integers: {dict(zip(_EVENT_FIELDS, values))}")
    return tuple(int(v) for v in values)


def read_meter_readings(events: Iterable, step, *, source: str = "MeterReading") -> pd.DataFrame:
    """Interval energies from the exchange's cumulative counters (MeterReading events).

    Each event is a dict, a `daisee.chain.ChainEvent` (fields in `.args`) or an object with the
    fields meterId, seq, timestamp (unix s), producedWh, consumedWh (cumulative Wh, as the meter
    keeps them). A meter's readings are taken in (timestamp, seq) order; of several readings at the
    same second the last counts (one counter value per instant).

    A meter gives "<meterId>:consumption" unless its consumption counter stays at 0 while its
    production counter does not (a pure producer), and "<meterId>:production" if its production
    counter is ever above 0: a prosumer gives two meters. On the regular grid of `step` (multiples of
    `step` since the Unix epoch, UTC), the counter is interpolated linearly at each interval end
    between the two readings around it, and an interval's energy is the difference between its
    ends. Only intervals with both ends between the meter's first and last reading are produced
    (never extrapolated), so their energies add up to the counter's change over that span.

    Kept for `check`, not fixed: an interval touched by a counter going backwards (a meter replaced
    or reset) gets flag COUNTER_BACKWARDS and the (negative) difference as computed; one whose ends
    are interpolated across readings more than `step` apart gets quality ESTIME.
    `file` is `source`, `row` the 1-based position (in `events`) of the reading closing the interval.
    """
    step = pd.Timedelta(step)
    if step <= pd.Timedelta(0) or step.value % 1_000_000_000:
        raise ValueError(f"step must be a positive whole number of seconds, not {step}")
    rows = [_event_fields(i, e, source) for i, e in enumerate(events, start=1)]
    if not rows:
        raise InputError(source, 1, "no MeterReading events")
    ids, seq, ts, produced, consumed = np.array(rows, dtype=np.int64).T
    position = np.arange(1, len(rows) + 1)
    produces = np.isin(ids, ids[produced > 0])
    keeps = {"consumption": ~produces | np.isin(ids, ids[consumed > 0]), "production": produces}
    frames = [_resample(*(a[keeps[direction]] for a in (ids, seq, ts, counter, position)), direction,
                        int(step.total_seconds()), source)
              for direction, counter in (("consumption", consumed), ("production", produced)) if keeps[direction].any()]
    frames = [f for f in frames if len(f)]
    if not frames:
        raise InputError(source, 1, "no interval has both ends between two readings of its meter")
    return concat(frames)


def _resample(ids, seq, ts, counter, position, direction: str, step_s: int, source: str) -> pd.DataFrame:
    """One direction's counters of the meters given, resampled at once (meters kept apart by the key)."""
    counter = counter.astype(np.float64)
    order = np.lexsort((position, seq, ts, ids))
    ids, ts, counter, position = ids[order], ts[order], counter[order], position[order]
    last_of_instant = np.append((ids[1:] != ids[:-1]) | (ts[1:] != ts[:-1]), True)
    ids, ts, counter, position = (a[last_of_instant] for a in (ids, ts, counter, position))
    meters, first = np.unique(ids, return_index=True)
    last = np.append(first[1:], len(ids)) - 1
    # intervals (e - step, e] with both ends within [first reading, last reading]
    lo = -(-ts[first] // step_s) * step_s + step_s
    count = np.maximum(ts[last] // step_s * step_s - lo + step_s, 0) // step_s
    group = np.repeat(np.arange(len(meters)), count)
    ends = lo[group] + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)) * step_s
    # one sorted key over all meters: meter index in the high bits, seconds in the low 40
    key = np.repeat(np.arange(len(meters), dtype=np.int64), last - first + 1) << 40 | ts
    gkey = group.astype(np.int64) << 40

    def counter_at(instants):
        left = np.searchsorted(key, gkey | instants, side="right") - 1
        right = np.minimum(left + 1, len(ts) - 1)
        exact = ts[left] == instants  # also the meter's last reading, where `right` is another meter's
        frac = np.where(exact, 0.0, (instants - ts[left]) / np.where(exact, 1, ts[right] - ts[left]))
        return counter[left] + frac * (counter[right] - counter[left]), left

    start_wh, a = counter_at(ends - step_s)
    end_wh, _ = counter_at(ends)
    b = np.searchsorted(key, gkey | ends, side="left")  # first reading at or after the end
    # segments a .. b-1 touch the interval: prefix sums say if one goes backwards or is long
    same_meter = np.append(ids[1:] == ids[:-1], False)
    backwards = np.concatenate([[0], np.cumsum(same_meter & (np.append(np.diff(counter), 0) < 0))])
    long = np.concatenate([[0], np.cumsum(same_meter & (np.append(np.diff(ts), 0) > step_s))])
    flag = np.where(backwards[b] > backwards[a], COUNTER_BACKWARDS, "")
    quality = np.where(long[b] > long[a], "ESTIME", "")
    names = pd.Categorical.from_codes(group, [f"{m}:{direction}" for m in meters])
    return long_frame(names, pd.to_datetime(ends, unit="s", utc=True), (end_wh - start_wh) / 1000, quality=quality,
                      file=source, row=position[b], unit="Wh", step=pd.Timedelta(seconds=step_s), flag=flag)
