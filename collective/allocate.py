"""Allocation keys of French collective self-consumption (ACC): who receives which local kWh, per step.

Inputs are two `Curves` on the same UTC end-of-interval index: production P_k,t per producer (injection,
kWh) and consumption C_i,t per consumer (withdrawal, kWh). `allocate(production, consumption, key)`
returns an `Allocation`: a_i,t (AUTOCONS, Enedis Classe_Mesure 3), C − a (COMPLEMENT, 4), the production
consumed locally per producer (AUTOPROD, 5) and its SURPLUS (6), and period totals per pair and member.
`key_file(allocation)` gives the floored percentages the grid operator expects, `KeyFile.write` the CSV.

Keys, with P_t = Σ_k P_k,t:
- `DefaultDynamic()`: a_i = C_i·min(1, P/ΣC) (Enedis's default), 0 where ΣC = 0.
- `Static(shares, max_rounds=1)`: a_i = min(C_i, α_i·P) in round 1; each further round shares what is
  left among the unsatisfied in proportion to α. `max_rounds=None` runs rounds until nothing changes,
  computed in closed form: a_i = min(C_i, λ_t·α_i) with Σa = min(P, Σ_{α>0} C).
- `DynamicSimple(shares)`: β_i,t from the PMO, a_i = min(C_i, β_i,t·P), no redistribution.
- `FullDynamic(shares)`: β_ik,t per pair, a_ik = β_ik·P_k; a consumer offered more than C_i has all its
  pairs scaled by C_i/Σ_k a_ik (pro rata, what it cannot take is surplus).
- `Priority(levels)`: levels in order, each a `Static` (unlimited rounds unless said otherwise) on what
  the levels before it left.
Keys defined on the total P are split by producer in proportion to production: a_ik = a_i·P_k/P.

Choices where the spec is open:
- `Static` defaults to one round, a_i = min(C_i, α_i·P) as the static key is stated (what a member
  leaves is surplus); whether Enedis now redistributes is unclear: pass `max_rounds=None` (or n) for it.
  `max_rounds` counts the first round.
- Full dynamic over-allocation is scaled down pro rata per consumer over its pairs (not per producer
  order); the energy freed goes to surplus.
- Key file: floored to `precision` percent (0.01 % by default), label = END of interval (like `Curves`),
  local time Europe/Paris; both are arguments of `KeyFile.write`.
- Members absent for part of the period are C = 0 there (NaN is missing data and is rejected: conformity
  fills gaps first). Shares may exceed 1 in sum by `SHARE_TOLERANCE` (float noise in a PMO's file).

Memory: the per-step pair detail a_ik,t (T×K×N) is never stored. Keys on the total keep a_i,t and the
producer fractions P_k/P; full dynamic keeps a_i,t and Σ_i a_ik,t. Per-pair period totals are summed
block by block of steps, and `Allocation.by_producer(k)` rebuilds one producer's T×N detail on demand.
All work is numpy over blocks of steps (no per-step Python loop, no BLAS, no pandas in the hot path).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np
import pandas as pd

from collective.curves import Curves

SHARE_TOLERANCE = 1e-9  # shares summing to 1 + this are float noise, not an over-allocation
BLOCK_VALUES = 1 << 15  # steps × consumers per block (256 kB an array): temporaries stay in cache

Rule = Callable[[slice, np.ndarray, np.ndarray], np.ndarray]  # (rows, P_t, C_t,i) -> a_t,i


# -- validation ---------------------------------------------------------------------------------------

def _instant(index: pd.DatetimeIndex, t: int) -> str:
    return index[t].isoformat()


def _reject_invalid(values: np.ndarray, index: pd.DatetimeIndex, meters: Sequence[str], what: str) -> None:
    """ValueError naming the first meter and UTC instant holding a NaN, infinite or negative value."""
    if values.size == 0 or (values.min() >= 0 and values.max() < np.inf):  # two reductions, no temporary
        return
    t, m = divmod(int(np.flatnonzero(~((values >= 0) & (values < np.inf)))[0]), values.shape[1])
    v = values[t, m]
    reason = "missing (NaN)" if np.isnan(v) else "negative" if v < 0 else "infinite"
    raise ValueError(f"{what} {meters[m]!r} at {_instant(index, t)}: {reason} ({v})")


def _reject_over_one(shares: np.ndarray, index: pd.DatetimeIndex, what: str) -> None:
    """ValueError naming the first step whose shares (fractions, one column per consumer) sum above 1."""
    total = shares.sum(axis=1)
    over = np.flatnonzero(total > 1 + SHARE_TOLERANCE)
    if over.size:
        t = over[0]
        raise ValueError(f"{what} sum to {100 * total[t]:.4f} % (> 100 %) at {_instant(index, t)}")


def _same_index(a: Curves, b: Curves, what: str) -> None:
    if a.step != b.step:
        raise ValueError(f"{what}: step {a.step} against {b.step}")
    if not a.index.equals(b.index):
        if len(a.index) != len(b.index):
            raise ValueError(f"{what}: {len(a.index)} steps against {len(b.index)}")
        t = int(np.flatnonzero(a.index.asi8 != b.index.asi8)[0])
        raise ValueError(f"{what}: step {t} ends at {_instant(a.index, t)} against {_instant(b.index, t)}")


def _positions(meters: Sequence[str], among: Sequence[str], what: str) -> np.ndarray:
    """Where each of `meters` stands in `among`; ValueError naming those that are not there."""
    where = {m: i for i, m in enumerate(among)}
    unknown = [m for m in meters if m not in where]
    if unknown:
        raise ValueError(f"{what} names meters that are not in the curves: {', '.join(map(repr, unknown))}")
    return np.array([where[m] for m in meters], dtype=np.intp)


def _check_inputs(production: Curves, consumption: Curves) -> None:
    _same_index(production, consumption, "production and consumption are not on the same steps")
    _reject_invalid(production.kwh, production.index, production.meters, "production of meter")
    _reject_invalid(consumption.kwh, consumption.index, consumption.meters, "consumption of meter")


def _check_shares(values: Mapping[str, float], what: str) -> None:
    bad = {m: v for m, v in values.items() if not 0 <= v < np.inf}
    if bad:
        raise ValueError(f"{what}: shares must be finite and >= 0, got {bad}")
    if sum(values.values()) > 1 + SHARE_TOLERANCE:
        raise ValueError(f"{what}: shares sum to {100 * sum(values.values()):.4f} % (> 100 %)")


# -- behind the meter ----------------------------------------------------------------------------------

class Netted(NamedTuple):
    production: Curves  # what each producer injects after its site's own use: its share of the collective
    consumption: Curves  # what each consumer still withdraws after it
    own_use: Curves  # per producer meter: production used on site (individual self-consumption, not keyed)


def net_behind_the_meter(production: Curves, consumption: Curves,
                         sites: Mapping[str, str] | None = None) -> Netted:
    """Net a site that both produces and consumes before allocating: own use = min(P, C) per step comes
    off both curves, so the site shares only its excess and draws on the collective only for its shortfall.

    For gross curves (e.g. a prosumer's producedWh and consumedWh from the exchange). A grid operator's
    injection and withdrawal curves are already measured after the site's own use: do not net them again.
    `sites` maps a producer meter to the consumer meter of the same site; by default, meters that carry
    the same id in both curves. Other meters pass through unchanged.
    """
    _check_inputs(production, consumption)
    sites = dict(sites) if sites is not None else {m: m for m in production.meters if m in consumption.meters}
    made = _positions(list(sites), production.meters, "sites (producers)")
    used = _positions(list(sites.values()), consumption.meters, "sites (consumers)")
    if len(set(used.tolist())) != len(used):
        raise ValueError("sites: a consumer meter is paired with two producers")
    own = np.minimum(production.kwh[:, made], consumption.kwh[:, used])
    p, c = production.kwh.copy(), consumption.kwh.copy()
    p[:, made] -= own  # one side becomes exactly 0: min(P, C) is one of them
    c[:, used] -= own
    return Netted(Curves(production.index, production.meters, p, production.step),
                  Curves(consumption.index, consumption.meters, c, consumption.step),
                  Curves(production.index, tuple(sites), own, production.step))


# -- the arithmetic of the keys on total production (arrays: steps × consumers) -----------------------

def _default_dynamic(p: np.ndarray, c: np.ndarray) -> np.ndarray:
    demand = c.sum(axis=1)
    served = np.divide(p, demand, out=np.zeros_like(p), where=demand > 0)
    return c * np.minimum(served, 1.0)[:, None]


def _static_rounds(p: np.ndarray, c: np.ndarray, alpha: np.ndarray, rounds: int) -> np.ndarray:
    """`rounds` rounds: α_i·P first, then what is left shared among the unsatisfied in proportion to α."""
    a = np.minimum(c, alpha * p[:, None])
    for _ in range(rounds - 1):
        left = p - a.sum(axis=1)
        open_ = a < c
        weight = np.where(open_, alpha, 0.0).sum(axis=1)
        go = (left > 0) & (weight > 0)
        if not go.any():
            break
        extra = np.divide(left, weight, out=np.zeros_like(left), where=go)
        a = np.minimum(c, a + extra[:, None] * alpha)  # the satisfied stay at C
    return a


def _static_unlimited(p: np.ndarray, c: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The rounds' fixed point: a_i = min(C_i, λ·α_i), λ per step so that Σa = min(P, ΣC) (all α > 0 here).

    Only contested steps (0 < P < ΣC) need λ: elsewhere everyone gets nothing or everything, and at
    night (half of a PV year) that skips the sort.
    """
    demand = c.sum(axis=1)
    a = np.where((p >= demand)[:, None], c, 0.0)
    live = (p > 0) & (p < demand)
    if live.any():
        a[live] = _static_contested(p[live], c[live], alpha)
    return a


def _static_contested(p: np.ndarray, c: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Consumer i is satisfied once λ ≥ x_i = C_i/α_i. With x sorted, the energy handed out at λ = x_(j)
    is g_j = Σ_{q≤j} C_(q) + x_(j)·Σ_{q>j} α_(q), nondecreasing in j; the j steps with g_j ≤ P are the
    satisfied consumers, and λ = (P − their C) / (the others' α). One sort per step, no loop over rounds.
    """
    steps, m = c.shape
    alpha = alpha / alpha.max()  # only ratios matter here; this keeps C/α and λ far from overflow
    x = c / alpha
    order = np.argsort(x, axis=1)
    xs = np.take_along_axis(x, order, axis=1)
    served = np.zeros((steps, m + 1))  # served[:, j] = Σ C of the j first
    np.cumsum(np.take_along_axis(c, order, axis=1), axis=1, out=served[:, 1:])
    waiting = np.zeros((steps, m + 1))  # waiting[:, j] = Σ α after the j first: a suffix sum, exact for small α
    np.cumsum(alpha.take(order)[:, ::-1], axis=1, out=waiting[:, m - 1::-1])
    handed = served[:, 1:] + xs * waiting[:, 1:]
    j = np.count_nonzero(handed <= p[:, None], axis=1)  # P < ΣC here, so j < m: someone is short
    row = np.arange(steps)
    lam = (p - served[row, j]) / waiting[row, j]
    return np.where(x <= lam[:, None], c, lam[:, None] * alpha)


def _static(p: np.ndarray, c: np.ndarray, alpha: np.ndarray, max_rounds: int | None) -> np.ndarray:
    if max_rounds is None:
        return _static_unlimited(p, c, alpha)
    return _static_rounds(p, c, alpha, max_rounds)


# -- keys ----------------------------------------------------------------------------------------------

class _OnTotal:
    """A key defined on the total production P: it yields a_i,t; producers share it as P_k/P."""

    def _rule(self, consumption: Curves) -> Rule:
        raise NotImplementedError

    def _allocate(self, production: Curves, consumption: Curves, block: int) -> Allocation:
        rule = self._rule(consumption)
        pk, c = production.kwh, consumption.kwh
        p = pk.sum(axis=1)
        fraction = np.divide(pk, p[:, None], out=np.zeros_like(pk), where=p[:, None] > 0)
        a = np.empty_like(c)
        pairs = np.zeros((pk.shape[1], c.shape[1]))
        for rows in _blocks(len(p), block):
            a[rows] = rule(rows, p[rows], c[rows])
            pairs += np.einsum("tk,tn->kn", fraction[rows], a[rows])  # einsum: no BLAS thread pool
        autoprod = np.minimum(pk, fraction * a.sum(axis=1)[:, None])
        return Allocation(production, consumption, a, autoprod, pairs.T,
                          lambda k: a * fraction[:, k, None])


@dataclass(frozen=True)
class DefaultDynamic(_OnTotal):
    """Enedis's default key: every consumer gets the same fraction min(1, P/ΣC) of its consumption."""

    def _rule(self, consumption: Curves) -> Rule:
        return lambda rows, p, c: _default_dynamic(p, c)


@dataclass(frozen=True, eq=False)
class Static(_OnTotal):
    """Fixed shares α (meter → fraction of P, Σα ≤ 1); consumers not named get α = 0.

    `max_rounds=1`: one round, a_i = min(C_i, α_i·P), the rest is surplus. `max_rounds=n`: up to n rounds,
    each sharing what is left among the unsatisfied in proportion to α. `max_rounds=None`: until nothing
    is left or everyone is served (closed form).
    """

    shares: Mapping[str, float]
    max_rounds: int | None = 1

    def __post_init__(self):
        _check_shares(self.shares, "static key")
        if self.max_rounds is not None and (not isinstance(self.max_rounds, int) or self.max_rounds < 1):
            raise ValueError(f"static key: max_rounds must be None or an int >= 1, got {self.max_rounds!r}")

    def _rule(self, consumption: Curves) -> Rule:
        alpha = np.zeros(len(consumption.meters))
        alpha[_positions(list(self.shares), consumption.meters, "static key")] = list(self.shares.values())
        keep = np.flatnonzero(alpha > 0)  # α = 0 never receives: keep them out of the sort
        if keep.size == alpha.size:
            return lambda rows, p, c: _static(p, c, alpha, self.max_rounds)

        def rule(rows, p, c):
            a = np.zeros_like(c)
            if keep.size:
                a[:, keep] = _static(p, c[:, keep], alpha[keep], self.max_rounds)
            return a
        return rule


@dataclass(frozen=True, eq=False)
class Priority(_OnTotal):
    """Levels served in order; each is a `Static` on what the previous levels left (a plain mapping is a
    `Static` with unlimited rounds). A meter belongs to one level at most."""

    levels: Sequence[Static | Mapping[str, float]]

    def __post_init__(self):
        levels = tuple(lvl if isinstance(lvl, Static) else Static(lvl, max_rounds=None) for lvl in self.levels)
        object.__setattr__(self, "levels", levels)
        seen: set[str] = set()
        for lvl in levels:
            twice = seen & set(lvl.shares)
            if twice:
                raise ValueError(f"priority key: {', '.join(map(repr, sorted(twice)))} in two levels")
            seen |= set(lvl.shares)

    def _rule(self, consumption: Curves) -> Rule:
        rules = [lvl._rule(consumption) for lvl in self.levels]

        def rule(rows, p, c):
            a = np.zeros_like(c)
            left = p
            for level in rules:
                got = level(rows, left, c)
                a += got  # levels are disjoint: each consumer receives from one level
                left = np.maximum(left - got.sum(axis=1), 0.0)
            return a
        return rule


@dataclass(frozen=True, eq=False)
class DynamicSimple(_OnTotal):
    """Per-step shares β_i,t sent by the PMO: `shares` is a `Curves` whose values are fractions of P (not
    kWh), one column per consumer (unnamed consumers get 0), on the consumption's index. Σ_i β_i,t ≤ 1."""

    shares: Curves

    def __post_init__(self):
        _reject_invalid(self.shares.kwh, self.shares.index, self.shares.meters, "dynamic simple share of")
        _reject_over_one(self.shares.kwh, self.shares.index, "dynamic simple shares")

    def _rule(self, consumption: Curves) -> Rule:
        _same_index(self.shares, consumption, "dynamic simple shares and consumption")
        cols = _positions(self.shares.meters, consumption.meters, "dynamic simple key")
        beta = self.shares.kwh

        def rule(rows, p, c):
            b = np.zeros_like(c)
            b[:, cols] = beta[rows]
            return np.minimum(c, b * p[:, None])
        return rule


@dataclass(frozen=True, eq=False)
class FullDynamic:
    """Per-pair shares β_ik,t: `shares` maps a producer meter to a `Curves` of fractions of that producer's
    P_k (one column per consumer, unnamed ones get 0) on the consumption's index; Σ_i β_ik,t ≤ 1 per
    producer and step. A consumer offered more than C_i has all its pairs scaled by C_i/Σ_k β_ik·P_k;
    a producer not named keeps all its production as surplus."""

    shares: Mapping[str, Curves]

    def __post_init__(self):
        for producer, beta in self.shares.items():
            _reject_invalid(beta.kwh, beta.index, beta.meters, f"full dynamic share of producer {producer!r} to")
            _reject_over_one(beta.kwh, beta.index, f"full dynamic shares of producer {producer!r}")

    def _offers(self, production: Curves, consumption: Curves) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
        """Per named producer: its column in production, its β, their consumer columns (None: in order)."""
        made = _positions(list(self.shares), production.meters, "full dynamic key (producers)")
        offers = []
        for k, (producer, beta) in zip(made.tolist(), self.shares.items()):
            _same_index(beta, consumption, f"full dynamic shares of producer {producer!r} and consumption")
            cols = _positions(beta.meters, consumption.meters, f"full dynamic key (producer {producer!r})")
            offers.append((k, beta.kwh, None if beta.meters == consumption.meters else cols))
        return offers

    def _allocate(self, production: Curves, consumption: Curves, block: int) -> Allocation:
        offers = self._offers(production, consumption)
        pk, c = production.kwh, consumption.kwh
        a = np.empty_like(c)
        autoprod = np.zeros_like(pk)
        pairs = np.zeros((pk.shape[1], c.shape[1]))
        for rows in _blocks(len(c), block):
            wanted = _served_pairs(offers, rows, pk[rows], c[rows])
            a[rows] = np.minimum(c[rows], wanted.sum(axis=0))
            autoprod[rows] = np.minimum(pk[rows], wanted.sum(axis=2).T)  # Σ_i β_ik may be 1 + float noise
            pairs += wanted.sum(axis=1)

        def detail(k: int) -> np.ndarray:
            out = np.empty_like(c)
            for rows in _blocks(len(c), block):
                out[rows] = _served_pairs(offers, rows, pk[rows], c[rows])[k]
            return out
        return Allocation(production, consumption, a, autoprod, pairs.T, detail)


def _served_pairs(offers, rows: slice, pk: np.ndarray, c: np.ndarray) -> np.ndarray:
    """a_ik for one block of steps (K × steps × N, never the whole T×K×N): β_ik·P_k, each consumer's
    pairs scaled by C_i/Σ_k β_ik·P_k where that sum exceeds C_i."""
    pairs = np.zeros((pk.shape[1],) + c.shape)
    for k, beta, cols in offers:
        if cols is None:
            np.multiply(beta[rows], pk[:, k, None], out=pairs[k])
        else:
            pairs[k][:, cols] = beta[rows] * pk[:, k, None]
    offered = pairs.sum(axis=0)
    pairs *= np.divide(c, offered, out=np.ones_like(offered), where=offered > c)
    return pairs


Key = DefaultDynamic | Static | DynamicSimple | FullDynamic | Priority


def _blocks(steps: int, block: int) -> Iterator[slice]:
    return (slice(s, min(s + block, steps)) for s in range(0, steps, block))


# -- the result ----------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Allocation:
    """The allocation of one period. Arrays are indexed like the inputs (steps × consumers, steps ×
    producers, in the curves' meter order); kWh throughout.

    - `autocons[t, i]` = a_i,t = Σ_k a_ik,t: local energy consumer i receives (Enedis Classe_Mesure 3);
      `complement` = C − a, what its supplier delivers (4).
    - `autoprod[t, k]` = Σ_i a_ik,t: producer k's production consumed locally (5); `surplus` = P_k − that (6).
    - `pairs[i, k]` = Σ_t a_ik,t over the period; `by_producer(k)` gives a_ik,t for one producer.
    """

    production: Curves
    consumption: Curves
    autocons: np.ndarray
    autoprod: np.ndarray
    pairs: np.ndarray
    detail: Callable[[int], np.ndarray] = field(repr=False)  # producer position -> a_ik,t (T × N)

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.consumption.index

    @property
    def step(self) -> pd.Timedelta:
        return self.consumption.step

    @property
    def consumers(self) -> tuple[str, ...]:
        return self.consumption.meters

    @property
    def producers(self) -> tuple[str, ...]:
        return self.production.meters

    @property
    def complement(self) -> np.ndarray:
        return self.consumption.kwh - self.autocons

    @property
    def surplus(self) -> np.ndarray:
        return self.production.kwh - self.autoprod

    def by_producer(self, producer: str) -> np.ndarray:
        """a_ik,t for one producer (steps × consumers), computed on demand."""
        return self.detail(self.producers.index(producer))

    def consumer_totals(self) -> pd.DataFrame:
        """Per consumer over the period: consumption, autocons, complement (kWh)."""
        c, a = self.consumption.kwh.sum(axis=0), self.autocons.sum(axis=0)
        return pd.DataFrame({"consumption": c, "autocons": a, "complement": c - a}, index=list(self.consumers))

    def producer_totals(self) -> pd.DataFrame:
        """Per producer over the period: production, autoprod, surplus (kWh)."""
        p, used = self.production.kwh.sum(axis=0), self.autoprod.sum(axis=0)
        return pd.DataFrame({"production": p, "autoprod": used, "surplus": p - used}, index=list(self.producers))

    def pair_totals(self) -> pd.DataFrame:
        """kWh each consumer (rows) received from each producer (columns) over the period."""
        return pd.DataFrame(self.pairs, index=list(self.consumers), columns=list(self.producers))


def allocate(production: Curves, consumption: Curves, key: Key, *,
             steps_per_block: int | None = None) -> Allocation:
    """Share the local production among the consumers, step by step, with `key`.

    Both curves must be on the same steps, with no NaN and nothing negative (ValueError naming the meter
    and the UTC instant). Net prosumer sites first (`net_behind_the_meter`); a member absent for part of
    the period has C = 0 there. `steps_per_block` only trades memory for speed (default: about
    `BLOCK_VALUES` values per block).
    """
    if not isinstance(key, (_OnTotal, FullDynamic)):
        raise TypeError(f"not an allocation key: {key!r}")
    _check_inputs(production, consumption)
    block = steps_per_block or max(1, BLOCK_VALUES // max(len(consumption.meters), 1))
    return key._allocate(production, consumption, block)


# -- the key file for the grid operator ---------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class KeyFile:
    """Per step and consumer, key_i = a_i/P in percent, floored to 10^-decimals % so that Σ keys ≤ 100 %.

    The grid operator recomputes the allocation from these keys, so what flooring takes off goes to the
    surplus: `remainder_pct` = 100 − Σ keys per step, `remainder_kwh` the production it stands for, and
    `rounding_kwh` the part of it that was allocated before flooring. Steps with P = 0 have all-zero keys.
    """

    allocation: Allocation = field(repr=False)
    units: np.ndarray  # steps × consumers, the key in units of 10^-decimals %
    decimals: int

    @property
    def percent(self) -> np.ndarray:
        return self.units / 10 ** self.decimals

    @property
    def remainder_pct(self) -> np.ndarray:
        return 100 - self.units.sum(axis=1) / 10 ** self.decimals

    @property
    def remainder_kwh(self) -> np.ndarray:
        return self.remainder_pct / 100 * self.allocation.production.kwh.sum(axis=1)

    @property
    def rounding_kwh(self) -> np.ndarray:
        return self.allocation.autocons.sum(axis=1) - (100 - self.remainder_pct) / 100 \
            * self.allocation.production.kwh.sum(axis=1)

    def write(self, target: str | Path | IO[str], *, tz: str = "Europe/Paris", label: str = "end") -> None:
        """`Horodate;<meter>;...` then one line a step: `dd/mm/yyyy HH:MM` in local time `tz` (the END of
        the interval, or its start with label="start"; DST's repeated hour appears twice, as in the
        operator's files) and the keys with a decimal comma."""
        if label not in ("end", "start"):
            raise ValueError(f"label must be 'end' or 'start', got {label!r}")
        index = self.allocation.index if label == "end" else self.allocation.index - self.allocation.step
        stamps = index.tz_convert(tz).strftime("%d/%m/%Y %H:%M")
        one = 10 ** self.decimals
        text = np.array([f"{u // one},{u % one:0{self.decimals}d}" if self.decimals else str(u)
                         for u in range(100 * one + 1)], dtype=object)  # every possible key, formatted once
        with _opened(target) as out:
            out.write(";".join(("Horodate",) + self.allocation.consumers) + "\n")
            for stamp, row in zip(stamps, self.units):
                out.write(stamp + ";" + ";".join(text[row]) + "\n")


class _opened:
    """A path opened for writing (and closed), or a stream used as it is."""

    def __init__(self, target):
        self.target, self.file = target, None

    def __enter__(self) -> IO[str]:
        if hasattr(self.target, "write"):
            return self.target
        self.file = open(self.target, "w", encoding="utf-8", newline="")
        return self.file

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()


def key_file(allocation: Allocation, precision: float = 0.01) -> KeyFile:
    """The keys of `allocation`, floored to `precision` percent (a power of ten: 0.01 = 2 decimals)."""
    decimals = round(-np.log10(precision))
    if decimals < 0 or not np.isclose(precision, 10.0 ** -decimals, rtol=1e-9, atol=0):
        raise ValueError(f"precision must be 1, 0.1, 0.01, ... percent, got {precision}")
    whole = 100 * 10 ** decimals
    p = allocation.production.kwh.sum(axis=1)
    a = allocation.autocons
    share = np.divide(a, p[:, None], out=np.zeros_like(a), where=p[:, None] > 0)
    share *= whole
    # + 1e-9 unit: a key on the grid (α = 57 %) computed as 5699.999… units stays 57.00 %, not 56.99 %.
    # Σ stays ≤ 100 %: Σ units ≤ Σ exact + N·1e-9 ≤ whole·(1 + SHARE_TOLERANCE) + N·1e-9 < whole + 1.
    share += 1e-9
    return KeyFile(allocation, np.floor(share, out=share).astype(np.int64), decimals)
