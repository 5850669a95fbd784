"""Effective-dated rate tables: the grid tariff (TURPE C5), CTA, excise, VAT and the time slots, read
from data files and looked up by the local date of each interval, never written as constants in code.

A table is a CSV with one row per value and period: `name,valid_from,valid_to,value,unit,source`.
`valid_from` is inclusive, `valid_to` exclusive (empty: still in force), both local calendar dates;
`source` gives the legal text or deliberation (and says so when a value could not be confirmed).
`collective/data/tariffs_fr.csv` ships the French rows; a community's own file (`Tariffs.load(path)`,
CLI `--tariffs`) replaces every default row of each name it contains and adds the others.

Names:
- `turpe.<FTA>.standard.{cg,cc,b}` (€/yr, €/kVA/yr) and `.{base | hp,hc | hph,hch,hpb,hcb}` (c€/kWh);
  `turpe.<FTA>.acc.{cg,cc,b}` and `.acc.auto.<slot>` / `.acc.allo.<slot>` (the self-consumption option:
  local energy and complement billed at distinct rates).
- `cta` (% of the TURPE fixed part), `accise` (€/MWh consumed), `vat.standard` (energy, grid variable part,
  excise), `vat.reduced` (subscription, TURPE fixed part, CTA: 5.5 % until 31 July 2025).
- `slots.high_season_months` ("11 12 1 2 3") and `slots.offpeak` ("22:00-06:00", several ranges
  separated by spaces or commas), the default off-peak hours a member contract may override.

Values are kept as Decimal; `value()` returns them in base units (€/kWh, €/yr, fractions).
"""
from __future__ import annotations

import csv
import importlib.resources
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

DEFAULT_TABLE = importlib.resources.files("collective") / "data" / "tariffs_fr.csv"
COLUMNS = ("name", "valid_from", "valid_to", "value", "unit", "source")
SCALE = {"EUR/yr": Decimal(1), "EUR/kVA/yr": Decimal(1), "EUR/kWh": Decimal(1), "cEUR/kWh": Decimal("0.01"),
         "EUR/MWh": Decimal("0.001"), "%": Decimal("0.01")}  # to €/yr, €/kWh or a fraction
SLOTS = ("hph", "hch", "hpb", "hcb")  # slot code = 2 × low season + off-peak
SCHEMES = {  # the slots a price list may use, each with the slot codes it covers
    ("base",): ((0, 1, 2, 3),),
    ("hp", "hc"): ((0, 2), (1, 3)),
    SLOTS: ((0,), (1,), (2,), (3,)),
}
_RANGE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class Rate:
    name: str
    valid_from: date
    valid_to: date | None
    value: str
    unit: str
    source: str

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


def scheme(slots: Iterable[str]) -> tuple[str, ...]:
    """The SCHEMES key that has exactly these slot names; ValueError otherwise."""
    names = set(slots)
    for key in SCHEMES:
        if set(key) == names:
            return key
    raise ValueError(f"slots {sorted(names)}: expected one of {[list(s) for s in SCHEMES]}")


def offpeak_minutes(spec: str) -> list[tuple[int, int]]:
    """'22:00-06:00 12:00-14:00' -> [(1320, 360), (720, 840)] (minutes of the local day; may wrap)."""
    ranges = []
    for part in re.split(r"[\s,]+", spec.strip()):
        m = _RANGE.match(part)
        if not m or int(m[1]) * 60 + int(m[2]) > 1440 or int(m[3]) * 60 + int(m[4]) > 1440:
            raise ValueError(f"off-peak hours {spec!r}: expected ranges like 22:00-06:00")
        ranges.append((int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])))
    return ranges


def slot_codes(minutes: np.ndarray, months: np.ndarray, high_months: Iterable[int], offpeak: str) -> np.ndarray:
    """Slot code per interval (0 HPH, 1 HCH, 2 HPB, 3 HCB) from its local start: minute of day and month."""
    off = np.zeros(len(minutes), dtype=bool)
    for start, end in offpeak_minutes(offpeak):
        off |= ((minutes >= start) & (minutes < end)) if start <= end else ((minutes >= start) | (minutes < end))
    low = ~np.isin(months, list(high_months))
    return (2 * low + off).astype(np.int8)


class Tariffs:
    """Rows by name, each name's periods disjoint; `value(name, day)` is the row in force that day."""

    def __init__(self, rows: Iterable[Rate]):
        self.rows: dict[str, list[Rate]] = {}
        for row in rows:
            self.rows.setdefault(row.name, []).append(row)
        for name, rows in self.rows.items():
            rows.sort(key=lambda r: r.valid_from)
            for a, b in zip(rows, rows[1:]):
                if a.valid_to is None or a.valid_to > b.valid_from:
                    raise ValueError(f"rate {name!r}: the row from {a.valid_from} overlaps the row from {b.valid_from}")

    @classmethod
    def load(cls, community: str | Path | None = None, default: str | Path | None = DEFAULT_TABLE) -> "Tariffs":
        """The default table, with `community`'s rows replacing every default row of the names it has."""
        rows = read_table(default) if default is not None else []
        if community is not None:
            own = read_table(community)
            names = {r.name for r in own}
            rows = [r for r in rows if r.name not in names] + own
        return cls(rows)

    def carried_forward(self, day: date, why: str) -> "Tariffs":
        """These rates, each name whose last row ends on or before `day` continued from that end with its
        last value, the source saying so (`why`): for a simulation or an estimate past the table's end,
        never for a real bill (the next CRE update is what applies there)."""
        rows = [r for rs in self.rows.values() for r in rs]
        for rs in self.rows.values():
            last = rs[-1]
            if last.valid_to is not None and last.valid_to <= day:
                rows.append(Rate(last.name, last.valid_to, None, last.value, last.unit,
                                 f"{why}: carried forward from {last.valid_from} ({last.source})"))
        return Tariffs(rows)

    def row(self, name: str, day: date) -> Rate:
        for row in self.rows.get(name, ()):
            if row.covers(day):
                return row
        raise ValueError(f"no rate {name!r} in force on {day} (add a row to the tariff table)")

    def value(self, name: str, day: date) -> Decimal:
        """The rate in base units (€/kWh, €/yr, €/kVA/yr or a fraction)."""
        row = self.row(name, day)
        return Decimal(row.value) * SCALE[row.unit]

    def text(self, name: str, day: date) -> str:
        return self.row(name, day).value

    def has(self, name: str) -> bool:
        return name in self.rows

    def breakpoints(self) -> np.ndarray:
        """Every date a rate starts or ends, sorted (datetime64[D]): between two, nothing changes."""
        days = {r.valid_from for rows in self.rows.values() for r in rows}
        days |= {r.valid_to for rows in self.rows.values() for r in rows if r.valid_to is not None}
        return np.array(sorted(days), dtype="datetime64[D]")


def read_table(path) -> list[Rate]:
    """A table file's rows; ValueError naming the file, line and field that is wrong."""
    text = (path if hasattr(path, "read_text") else Path(path)).read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} (expected {list(COLUMNS)})")
    rows = []
    for line, raw in enumerate(reader, start=2):
        where = f"{path}, line {line}"
        try:
            start = date.fromisoformat(raw["valid_from"].strip())
            end = date.fromisoformat(raw["valid_to"].strip()) if raw["valid_to"].strip() else None
        except ValueError:
            raise ValueError(f"{where}: valid_from/valid_to must be YYYY-MM-DD dates") from None
        if end is not None and end <= start:
            raise ValueError(f"{where}: valid_to {end} is not after valid_from {start}")
        if not raw["source"].strip():
            raise ValueError(f"{where}: every row needs a source")
        unit, value = raw["unit"].strip(), raw["value"].strip()
        if unit in SCALE:
            try:
                number = Decimal(value)
            except InvalidOperation:
                number = Decimal("NaN")
            if not number.is_finite() or number < 0:
                raise ValueError(f"{where}: value {value!r} is not a number >= 0")
        rows.append(Rate(raw["name"].strip(), start, end, value, unit, raw["source"].strip()))
    return rows
