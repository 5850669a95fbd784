"""Billing of one period of collective self-consumption: an `Allocation` and the members' contracts
in, one `Statement` per member (and one for the PMO) out, money in Decimal.

Per consumer: local energy at each producer's price (one line per producer, payee = that producer);
the complement at its supplier's price per slot plus the supplier's subscription; the grid tariff
(TURPE) fixed part and variable part (standard: c_slot·C; self-consumption option: c_auto·local +
c_allo·complement per slot); CTA on the TURPE fixed part; excise on the consumption; VAT per payee.
Per producer: local revenue Σ_i a_ik·p_k, the surplus at its feed-in price, and the PMO fee (a rate in
bps on the local revenue, payee the PMO). Rates come from `collective.tariffs` by the local date of each
interval; a period crossing a rate change gets one line per rate period.

Rounding and the choices made:
- Quantities are rounded half up to the Wh, then each line's amount HALF_UP to the cent (Decimal, never
  float or banker's rounding). VAT per payee and rate on the rounded HT subtotal.
- Local energy: producer k's revenue is Σ_i q_ik·p_k rounded HALF_UP; its consumers' lines share those
  cents by largest remainder (each within a cent of q_ik·p_k; ties to the member id that sorts first),
  so Σ consumers' local payments == Σ producers' local revenue exactly and the token transfers net to 0.
  Local energy and the PMO fee carry no VAT (household producers under the VAT franchise, CGI art. 293 B).
- Fixed parts are prorated by days: TURPE fixed = (cg + cc + b·kVA) × days / days in the year (365 or 366),
  the supplier subscription = monthly amount × days / days in the month, one line per rate period.
- The excise applies to the whole consumption (the CIBS text on ACC is open): `accise_on_local: false`
  in the contracts applies it to the complement only.
- Slots are read on each interval's local START (Europe/Paris by default): high season November–March,
  off-peak hours from the tariff table (22:00–06:00) unless the member contract gives its own.

Versions: `bill(..., previous=bill_v1)` recomputes every line from the corrected data and adds, per
counterparty, a "regularisation" line = new total − total billed by the previous version; `due` and the
token settlement of the new version are the difference only. Each version is written to its own files.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from eth_utils import is_address, keccak, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from collective.allocate import Allocation
from collective.tariffs import SCHEMES, SLOTS, Tariffs, offpeak_minutes, scheme, slot_codes

CENT = Decimal("0.01")
PRICE = Decimal("0.000001")  # shown precision of per-day unit prices
COMMUNITY = "community"  # the payer of a producer's local revenue: the members, through the settlement


def money(x: Decimal) -> Decimal:
    """To the cent, half up (0.125 -> 0.13, -0.125 -> -0.13)."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def cents(x: Decimal) -> int:
    return int(money(x) * 100)


# -- contracts ----------------------------------------------------------------------------------------

class Supplier(BaseModel):
    """The member's supplier contract for the complement: a price per slot (€/kWh) and a subscription."""

    model_config = ConfigDict(extra="forbid")
    name: str = "supplier"
    subscription_eur_month: Decimal = Field(default=Decimal(0), ge=0)
    prices: dict[str, Decimal]

    @field_validator("prices")
    @classmethod
    def _slots(cls, prices):
        scheme(prices)
        negative = [s for s, p in prices.items() if not p.is_finite() or p < 0]
        if negative:
            raise ValueError(f"price of {negative[0]!r} must be a number >= 0 (€/kWh)")
        return prices


class Member(BaseModel):
    """One member: its meters, its consumer contract (if it consumes) and its producer prices (if it produces)."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["consumer", "producer", "prosumer"]
    consumption_meter: str | None = None  # default: the member id (consumer, prosumer)
    production_meter: str | None = None  # default: the member id (producer, prosumer)
    kva: Decimal | None = Field(default=None, gt=0, le=36)  # subscribed power (C5: ≤ 36 kVA)
    fta: str = "BTINFCU4"  # the TURPE formula (BTINFCU4, BTINFCUST, BTINFMU4, BTINFMUDT, BTINFLU)
    tariff_option: Literal["standard", "acc"] = "standard"
    offpeak: str | None = None  # e.g. "23:00-07:00"; default: the tariff table's slots.offpeak
    supplier: Supplier | None = None
    local_price: Decimal | None = Field(default=None, ge=0)  # €/kWh, what consumers pay this producer
    feed_in_price: Decimal = Field(default=Decimal(0), ge=0)  # €/kWh for the surplus
    surplus_buyer: str = "surplus buyer"
    account: str | None = None  # the member's address, which pays or receives its local energy in tokens

    @property
    def consumes(self) -> bool:
        return self.role != "producer"

    @property
    def produces(self) -> bool:
        return self.role != "consumer"

    @field_validator("offpeak")
    @classmethod
    def _offpeak(cls, value):
        if value is not None:
            offpeak_minutes(value)
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value):
        return _address(value)

    @model_validator(mode="after")
    def _sides(self):
        if self.consumes:
            for name in ("kva", "supplier"):
                if getattr(self, name) is None:
                    raise ValueError(f"a {self.role} needs {name!r}")
        if self.produces and self.local_price is None:
            raise ValueError(f"a {self.role} needs 'local_price' (€/kWh)")
        return self


class Contracts(BaseModel):
    """The community's billing settings and every member's contract (YAML: `load_contracts`)."""

    model_config = ConfigDict(extra="forbid")
    pmo: str = "pmo"
    pmo_fee_bps: int = Field(default=0, ge=0, le=10_000)
    pmo_account: str | None = None  # receives the PMO fee in tokens
    timezone: str = "Europe/Paris"
    accise_on_local: bool = True
    members: dict[str, Member]

    _pmo_account = field_validator("pmo_account")(lambda cls, value: _address(value))

    def account(self, party: str) -> str | None:
        """The address of a party (a member id or the PMO's), None if the contracts give none."""
        return self.pmo_account if party == self.pmo else self.members[party].account

    @model_validator(mode="after")
    def _ids(self):
        if self.pmo in self.members or self.pmo == COMMUNITY:
            raise ValueError(f"pmo id {self.pmo!r} is also a member id or reserved")
        return self

    def meter(self, member: str, side: str) -> str:
        m = self.members[member]
        return (m.consumption_meter if side == "consumption" else m.production_meter) or member


def _address(value: str | None) -> str | None:
    if value is not None and not is_address(value):
        raise ValueError(f"{value!r} is not an address (0x and 40 hex digits)")
    return None if value is None else to_checksum_address(value)


def load_contracts(path) -> Contracts:
    """The contracts YAML; ValueError naming the file, the member and the field that is wrong."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    try:
        return Contracts.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{path}: {problems}") from None


# -- statements ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    label: str
    kind: str  # local | fee | supplier | grid | tax | surplus | regularisation
    quantity: Decimal
    unit: str  # kWh, day, EUR, ""
    unit_price: Decimal  # € per unit (a fraction for CTA and the fee)
    amount: Decimal  # HT, to the cent
    vat_rate: Decimal  # fraction
    payer: str
    payee: str

    def to_dict(self) -> dict:
        return {k: format(v, "f") if isinstance(v, Decimal) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Line":
        return cls(**{k: Decimal(d[k]) if k in ("quantity", "unit_price", "amount", "vat_rate") else d[k]
                      for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Totals:
    """Signed from the member's side: > 0 the member pays the counterparty, < 0 it receives."""

    ht: Decimal
    vat: Decimal
    ttc: Decimal


@dataclass(frozen=True)
class Statement:
    """One party's bill for a period and version.

    `totals` (per counterparty, regularisation lines excluded) is what this version computes for the whole
    period; `due` is what is to pay now (= totals' TTC in version 1, the regularisation lines after).
    `local_net_cents` is the party's whole-period token position on local energy and fees (credit − debit,
    a prosumer's both sides netted); `local_debit_cents` / `local_credit_cents` are what this version
    settles (the change since the previous version), one of them 0.
    """

    member: str
    role: str
    period: str
    version: int
    lines: tuple[Line, ...]
    totals: dict[str, Totals] = field(hash=False)
    due: dict[str, Decimal] = field(hash=False)
    local_net_cents: int
    local_debit_cents: int
    local_credit_cents: int

    def to_dict(self) -> dict:
        return {"member": self.member, "role": self.role, "period": self.period, "version": self.version,
                "lines": [line.to_dict() for line in self.lines],
                "totals": {cp: {k: format(v, "f") for k, v in t.__dict__.items()} for cp, t in self.totals.items()},
                "due": {cp: format(v, "f") for cp, v in self.due.items()},
                "local_net_cents": self.local_net_cents, "local_debit_cents": self.local_debit_cents,
                "local_credit_cents": self.local_credit_cents}

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces, Decimals as strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def digest(self) -> str:
        """keccak256 of the canonical JSON's UTF-8 bytes, 0x-hex."""
        return "0x" + keccak(self.to_json().encode("utf-8")).hex()

    @classmethod
    def from_dict(cls, d: Mapping) -> "Statement":
        return cls(d["member"], d["role"], d["period"], int(d["version"]),
                   tuple(Line.from_dict(x) for x in d["lines"]),
                   {cp: Totals(*(Decimal(t[k]) for k in ("ht", "vat", "ttc"))) for cp, t in d["totals"].items()},
                   {cp: Decimal(v) for cp, v in d["due"].items()},
                   int(d["local_net_cents"]), int(d["local_debit_cents"]), int(d["local_credit_cents"]))

    @classmethod
    def from_json(cls, text: str) -> "Statement":
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Bill:
    """The statements of one period and version, the PMO's included (keyed by party id)."""

    period: str
    version: int
    statements: dict[str, Statement]

    def settlement(self) -> dict[str, tuple[int, int]]:
        """{party: (debit_cents, credit_cents)} of this version's local-energy token transfers (the PMO
        included); Σ debit == Σ credit."""
        return {p: (s.local_debit_cents, s.local_credit_cents) for p, s in sorted(self.statements.items())}

    def summary(self) -> pd.DataFrame:
        """One row per party: totals due per counterparty kind and the settlement, for a CSV."""
        rows = [{"member": s.member, "role": s.role, "period": s.period, "version": s.version,
                 "payable_eur": sum((v for v in s.due.values() if v > 0), Decimal(0)),
                 "receivable_eur": -sum((v for v in s.due.values() if v < 0), Decimal(0)),
                 "local_debit_cents": s.local_debit_cents, "local_credit_cents": s.local_credit_cents,
                 "digest": s.digest()} for s in self.statements.values()]
        return pd.DataFrame(rows).set_index("member").sort_index()

    def write(self, out: str | Path) -> Path:
        """`out`/statements/<party>.json and `out`/bill.csv; refuses to overwrite an existing file."""
        out = Path(out)
        paths = [out / "statements" / f"{p}.json" for p in self.statements] + [out / "bill.csv"]
        existing = [str(p) for p in paths if p.exists()]
        if existing:
            raise ValueError(f"{existing[0]} exists: write each version to its own directory (nothing is overwritten)")
        (out / "statements").mkdir(parents=True, exist_ok=True)
        for party, s in self.statements.items():
            (out / "statements" / f"{party}.json").write_text(s.to_json() + "\n", encoding="utf-8")
        self.summary().to_csv(out / "bill.csv")
        return out

    @classmethod
    def read(cls, directory: str | Path) -> "Bill":
        """A bill written by `write` (its statements), e.g. the previous version for a regularisation."""
        files = sorted((Path(directory) / "statements").glob("*.json"))
        if not files:
            raise ValueError(f"{directory}: no statements/*.json")
        statements = {s.member: s for s in (Statement.from_json(f.read_text(encoding="utf-8")) for f in files)}
        periods = {(s.period, s.version) for s in statements.values()}
        if len(periods) != 1:
            raise ValueError(f"{directory}: statements of several periods or versions: {sorted(periods)}")
        period, version = periods.pop()
        return cls(period, version, statements)


# -- the time grid ------------------------------------------------------------------------------------

def local_starts(index: pd.DatetimeIndex, step: pd.Timedelta, tz: str) -> pd.DatetimeIndex:
    """Each interval's local START, naive wall clock (the interval ending 00:00 belongs to the day before)."""
    return (index - step).tz_convert(tz).tz_localize(None)


@dataclass(frozen=True)
class _Span:
    """Days of the period between two rate changes."""

    first: date
    last: date
    days: int
    days_in_year: int


class _Grid:
    """The period's rate spans, and per interval its span and slot code (per off-peak setting)."""

    def __init__(self, allocation: Allocation, tz: str, period: str | None, tariffs: Tariffs):
        starts = local_starts(allocation.index, allocation.step, tz)
        if len(starts) == 0:
            raise ValueError("the allocation has no intervals")
        months = starts.strftime("%Y-%m").unique()
        self.period = period or months[0]
        try:
            first = pd.Timestamp(f"{self.period}-01")
        except ValueError:
            raise ValueError(f"period {self.period!r}: expected YYYY-MM") from None
        if list(months) != [self.period] or len(self.period) != 7:
            raise ValueError(f"period {self.period}: the allocation covers local months {list(months)}")
        days = pd.date_range(first, first + pd.offsets.MonthEnd(0), freq="D").to_numpy().astype("datetime64[D]")
        cuts = tariffs.breakpoints()
        span_of_day = np.searchsorted(cuts, days, side="right")
        _, first_day, count = np.unique(span_of_day, return_index=True, return_counts=True)
        self.spans = [_Span(days[i].item(), days[i + n - 1].item(), int(n), 366 if pd.Timestamp(days[i]).is_leap_year else 365)
                      for i, n in zip(first_day, count)]
        self.days_in_month = len(days)
        spans = span_of_day[first_day]  # sorted: the tables' period number of each span
        self.span = np.searchsorted(spans, np.searchsorted(cuts, starts.to_numpy().astype("datetime64[D]"), side="right"))
        self.minutes = (starts.hour * 60 + starts.minute).to_numpy()
        self.months = starts.month.to_numpy()
        self.tariffs = tariffs
        self._codes: dict[str | None, np.ndarray] = {}

    def groups(self, offpeak: str | None) -> np.ndarray:
        """Per interval: span × 4 + slot code (0 HPH, 1 HCH, 2 HPB, 3 HCB)."""
        if offpeak not in self._codes:
            codes = np.empty(len(self.span), dtype=np.int64)
            for r, s in enumerate(self.spans):
                rows = self.span == r
                high = [int(m) for m in self.tariffs.text("slots.high_season_months", s.first).split()]
                hours = offpeak or self.tariffs.text("slots.offpeak", s.first)
                codes[rows] = slot_codes(self.minutes[rows], self.months[rows], high, hours)
            self._codes[offpeak] = self.span * 4 + codes
        return self._codes[offpeak]


def sum_by_group(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Σ over intervals of `values` (T × n) per group id (T,) -> (n_groups × n)."""
    order = np.argsort(group, kind="stable")
    present, starts = np.unique(group[order], return_index=True)
    out = np.zeros((n_groups, values.shape[1]))
    if len(order):
        out[present] = np.add.reduceat(values[order], starts, axis=0)
    return out


def _wh(kwh) -> np.ndarray:
    """kWh rounded half up to the Wh, as integer Wh."""
    return np.floor(np.asarray(kwh) * 1000 + 0.5).astype(np.int64)


def _kwh(wh: int) -> Decimal:
    return Decimal(int(wh)).scaleb(-3)


def _shares(exact: list[Decimal], keys: list[str]) -> list[int]:
    """Cents of each exact amount (≥ 0) so that they sum to the HALF_UP total: floors, then one more
    cent to the largest remainders (ties: the key that sorts first)."""
    scaled = [e * 100 for e in exact]
    floors = [int(s.to_integral_value(rounding=ROUND_FLOOR)) for s in scaled]
    extra = cents(sum(exact, Decimal(0))) - sum(floors)
    for j in sorted(range(len(exact)), key=lambda j: (floors[j] - scaled[j], keys[j]))[:extra]:
        floors[j] += 1
    return floors


# -- billing ------------------------------------------------------------------------------------------

def _members_by_meter(contracts: Contracts, meters: tuple[str, ...], side: str) -> list[str]:
    """The member of each meter of one side of the allocation; ValueError naming a meter or member unmatched."""
    owner = {contracts.meter(m, side): m for m, c in contracts.members.items()
             if (c.consumes if side == "consumption" else c.produces)}
    unknown = [m for m in meters if m not in owner]
    if unknown:
        raise ValueError(f"{side} meter(s) {unknown} belong to no member of the contracts")
    missing = sorted(set(owner) - set(meters))
    if missing:
        raise ValueError(f"member {owner[missing[0]]!r}: {side} meter {missing[0]!r} is not in the allocation")
    return [owner[m] for m in meters]


class _Rates:
    """Tariff values per (name, span), cached; errors name the member whose contract needs them."""

    def __init__(self, tariffs: Tariffs, spans: list[_Span]):
        self.tariffs, self.spans, self.cache = tariffs, spans, {}

    def __call__(self, name: str, r: int) -> Decimal:
        if (name, r) not in self.cache:
            self.cache[name, r] = self.tariffs.value(name, self.spans[r].first)
        return self.cache[name, r]

    def turpe_scheme(self, member: str, c: Member) -> tuple[str, ...]:
        prefix = f"turpe.{c.fta}.{c.tariff_option}"
        if not self.tariffs.has(f"{prefix}.cg"):
            raise ValueError(f"member {member!r}: no TURPE rows {prefix}.* in the tariff table "
                             f"(fta {c.fta!r}, tariff_option {c.tariff_option!r})")
        if c.tariff_option == "acc":
            return SLOTS
        found = [s for s in SCHEMES if all(self.tariffs.has(f"{prefix}.{slot}") for slot in s)]
        if not found:
            raise ValueError(f"member {member!r}: the tariff table has no variable rates {prefix}.<slot>")
        return found[0]


def bill(allocation: Allocation, contracts: Contracts, tariffs: Tariffs | None = None, period: str | None = None,
         *, version: int | None = None, previous: Bill | None = None) -> Bill:
    """Every member's statement (and the PMO's) for the local month `period` (default: the allocation's).

    `previous`: the bill of an earlier version of the same period; this one is then a regularisation
    (version = previous.version + 1 unless given, and must be higher).
    """
    tariffs = tariffs or Tariffs.load()
    grid = _Grid(allocation, contracts.timezone, period, tariffs)
    if previous is not None and previous.period != grid.period:
        raise ValueError(f"previous bill is for {previous.period}, not {grid.period}")
    version = version if version is not None else (previous.version + 1 if previous else 1)
    if version < 1 or (previous is not None and version <= previous.version):
        raise ValueError(f"version {version} must be >= 1 and above the previous version's")
    consumers = _members_by_meter(contracts, allocation.consumers, "consumption")
    producers = _members_by_meter(contracts, allocation.producers, "production")
    rates = _Rates(tariffs, grid.spans)
    schemes = {m: rates.turpe_scheme(m, contracts.members[m]) for m in consumers}
    lines: dict[str, list[Line]] = defaultdict(list)

    # per consumer, span and slot code: consumption and local energy (kWh, float), vectorised
    n_groups = 4 * len(grid.spans)
    cons = np.zeros((len(consumers), len(grid.spans), 4))
    local = np.zeros_like(cons)
    by_offpeak = defaultdict(list)
    for i, m in enumerate(consumers):
        by_offpeak[contracts.members[m].offpeak].append(i)
    for offpeak, columns in by_offpeak.items():
        g = grid.groups(offpeak)
        cons[columns] = sum_by_group(allocation.consumption.kwh[:, columns], g, n_groups).T.reshape(len(columns), -1, 4)
        local[columns] = sum_by_group(allocation.autocons[:, columns], g, n_groups).T.reshape(len(columns), -1, 4)

    # local energy: each producer's HALF_UP revenue shared among its consumers by largest remainder
    pair_wh = _wh(allocation.pairs)  # consumers × producers
    revenue = {}
    for k, producer in enumerate(producers):
        price = contracts.members[producer].local_price
        buyers = np.flatnonzero(pair_wh[:, k]).tolist()
        exact = [_kwh(pair_wh[i, k]) * price for i in buyers]
        shares = _shares(exact, [consumers[i] for i in buyers])
        for i, c in zip(buyers, shares):
            lines[consumers[i]].append(Line(f"Local energy from {producer}", "local", _kwh(pair_wh[i, k]), "kWh", price,
                                            Decimal(c).scaleb(-2), Decimal(0), consumers[i], producer))
        revenue[producer] = (_kwh(pair_wh[:, k].sum()), Decimal(sum(shares)).scaleb(-2))

    for i, m in enumerate(consumers):
        lines[m] += _consumer_lines(m, contracts, cons[i], local[i], grid, rates, schemes[m])
    surplus_wh = _wh(allocation.surplus.sum(axis=0))
    fee_rate = Decimal(contracts.pmo_fee_bps).scaleb(-4)
    for k, p in enumerate(producers):
        c = contracts.members[p]
        quantity, amount = revenue[p]
        lines[p].append(Line("Local energy sold to community members", "local", quantity, "kWh", c.local_price,
                             amount, Decimal(0), COMMUNITY, p))
        if surplus_wh[k]:
            q = _kwh(surplus_wh[k])
            lines[p].append(Line("Surplus at the feed-in price", "surplus", q, "kWh", c.feed_in_price,
                                 money(q * c.feed_in_price), Decimal(0), c.surplus_buyer, p))
        if fee_rate:
            fee = Line(f"PMO fee ({contracts.pmo_fee_bps} bps of local revenue)", "fee", amount, "EUR", fee_rate,
                       money(amount * fee_rate), Decimal(0), p, contracts.pmo)
            lines[p].append(fee)
            lines[contracts.pmo].append(fee)

    before = previous.statements if previous is not None else {}
    roles = {p: s.role for p, s in before.items()} | {m: c.role for m, c in contracts.members.items()}
    roles[contracts.pmo] = "pmo"
    statements = {p: _statement(p, roles[p], grid.period, version, lines.get(p, []), before.get(p))
                  for p in sorted(roles)}
    return Bill(grid.period, version, statements)


def _consumer_lines(m: str, contracts: Contracts, cons: np.ndarray, local: np.ndarray, grid: _Grid,
                    rates: _Rates, turpe_slots: tuple[str, ...]) -> list[Line]:
    """Supplier, grid and tax lines of one consumer; `cons`, `local`: kWh per span × slot code."""
    c = contracts.members[m]
    sup = c.supplier
    supplier_slots = scheme(sup.prices)
    prefix = f"turpe.{c.fta}.{c.tariff_option}"
    out = []
    for r, s in enumerate(grid.spans):
        when = f" ({s.first:%d/%m}–{s.last:%d/%m})" if len(grid.spans) > 1 else ""
        standard, reduced = rates("vat.standard", r), rates("vat.reduced", r)

        def energy(label, kind, codes, values, price, payee):
            q = _kwh(_wh(values[r, list(codes)].sum()))
            if q:
                out.append(Line(label + when, kind, q, "kWh", price, money(q * price), standard, m, payee))

        for slot, codes in zip(supplier_slots, SCHEMES[supplier_slots]):
            q = _kwh(_wh(cons[r, list(codes)].sum()) - _wh(local[r, list(codes)].sum()))
            if q:
                out.append(Line(f"Supplier energy {slot.upper()}{when}", "supplier", q, "kWh", sup.prices[slot],
                                money(q * sup.prices[slot]), standard, m, sup.name))
        if sup.subscription_eur_month:
            per_day = sup.subscription_eur_month / grid.days_in_month
            out.append(Line(f"Supplier subscription{when}", "supplier", Decimal(s.days), "day", per_day.quantize(PRICE),
                            money(sup.subscription_eur_month * s.days / grid.days_in_month), reduced, m, sup.name))
        cg, cc, b = (rates(f"{prefix}.{x}", r) for x in ("cg", "cc", "b"))
        annual = cg + cc + b * c.kva
        fixed = money(annual * s.days / s.days_in_year)
        out.append(Line(f"TURPE fixed part {c.fta} {c.tariff_option} (management {cg:f} + metering {cc:f} + "
                        f"{b:f} €/kVA × {c.kva:f} kVA a year){when}", "grid", Decimal(s.days), "day",
                        (annual / s.days_in_year).quantize(PRICE), fixed, reduced, m, sup.name))
        for slot, codes in zip(turpe_slots, SCHEMES[turpe_slots]):
            if c.tariff_option == "acc":
                energy(f"TURPE local energy {slot.upper()}", "grid", codes, local, rates(f"{prefix}.auto.{slot}", r), sup.name)
                energy(f"TURPE complement {slot.upper()}", "grid", codes, cons - local,
                       rates(f"{prefix}.allo.{slot}", r), sup.name)
            else:
                energy(f"TURPE variable {slot.upper()}", "grid", codes, cons, rates(f"{prefix}.{slot}", r), sup.name)
        cta = rates("cta", r)
        out.append(Line(f"CTA ({(cta * 100).normalize():f} % of the TURPE fixed part){when}", "tax", fixed, "EUR", cta,
                        money(fixed * cta), reduced, m, sup.name))
        taxed = cons if contracts.accise_on_local else cons - local
        energy("Excise on electricity (accise)", "tax", range(4), taxed, rates("accise", r), sup.name)
    return out


def _totals(member: str, lines) -> dict[str, Totals]:
    """Per counterparty, signed from `member`'s side; VAT per rate on the rounded HT subtotal."""
    ht: dict[str, dict[Decimal, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in lines:
        if line.payer == member:  # a prosumer's local energy from its own roof: paid, and received as revenue
            ht[line.payee][line.vat_rate] += line.amount
        elif line.payee == member:
            ht[line.payer][line.vat_rate] -= line.amount
    out = {}
    for cp, by_rate in sorted(ht.items()):
        subtotal = sum(by_rate.values(), Decimal(0))
        vat = sum((money(v * rate) for rate, v in by_rate.items()), Decimal(0))
        out[cp] = Totals(money(subtotal), money(vat), money(subtotal + vat))
    return out


def _statement(party: str, role: str, period: str, version: int, lines: list[Line],
               previous: Statement | None) -> Statement:
    totals = _totals(party, lines)
    net = -sum(cents(t.ttc) for cp, t in _totals(party, [x for x in lines if x.kind in ("local", "fee")]).items())
    due = {cp: t.ttc for cp, t in totals.items()}
    settle = net
    if previous is not None:
        billed = {cp: t.ttc for cp, t in previous.totals.items()}
        due = {cp: d for cp in sorted(set(due) | set(billed))
               if (d := due.get(cp, Decimal(0)) - billed.get(cp, Decimal(0)))}
        lines = lines + [Line(f"Regularisation: {d + billed.get(cp, 0):f} now against {billed.get(cp, Decimal(0)):f} "
                              f"billed in version {previous.version}", "regularisation", Decimal(1), "", abs(d), abs(d),
                              Decimal(0), *((party, cp) if d > 0 else (cp, party))) for cp, d in due.items()]
        settle = net - previous.local_net_cents
    return Statement(party, role, period, version, tuple(lines), totals, due, net, max(-settle, 0), max(settle, 0))
