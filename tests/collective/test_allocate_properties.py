"""The spec's invariants as hypothesis properties, on every key, and every vectorised key against a naive
per-step, per-consumer Python loop (slow, obviously right), on hypothesis and seeded random inputs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from collective.allocate import (DefaultDynamic, DynamicSimple, FullDynamic, Priority, Static, allocate,
                                 key_file)
from tests.collective.conftest import curves

TOL = dict(rtol=1e-9, atol=1e-9)  # kWh up to 100: float noise only
settings.register_profile("allocate", deadline=None, max_examples=150)
settings.load_profile("allocate")


# -- the naive reference -------------------------------------------------------------------------------

def naive_rounds(p: float, c: list[float], alpha: list[float], max_rounds: int | None) -> list[float]:
    """Round 1 gives min(C_i, α_i·P); each next round gives what is left to the unsatisfied (α > 0) in
    proportion to α; stop after max_rounds, or (None) when nothing changes."""
    a = [min(ci, ai * p) for ci, ai in zip(c, alpha)]
    rounds = 1
    while max_rounds is None or rounds < max_rounds:
        left = p - sum(a)
        unsatisfied = [i for i in range(len(c)) if alpha[i] > 0 and a[i] < c[i]]
        weight = sum(alpha[i] for i in unsatisfied)
        if left <= 0 or weight == 0:
            break
        new = list(a)
        for i in unsatisfied:
            new[i] = min(c[i], a[i] + left * alpha[i] / weight)
        if new == a:
            break
        a, rounds = new, rounds + 1
        assert rounds < 10_000
    return a


def naive_on_total(key, t: int, p: float, c: list[float], consumers) -> list[float]:
    """a_i at step t for a key defined on the total production."""
    if isinstance(key, DefaultDynamic):
        demand = sum(c)
        return [ci * min(1.0, p / demand) if demand > 0 else 0.0 for ci in c]
    if isinstance(key, Static):
        return naive_rounds(p, c, [key.shares.get(m, 0.0) for m in consumers], key.max_rounds)
    if isinstance(key, Priority):
        a, left = [0.0] * len(c), p
        for level in key.levels:
            got = naive_rounds(left, c, [level.shares.get(m, 0.0) for m in consumers], level.max_rounds)
            a = [x + y for x, y in zip(a, got)]
            left = max(left - sum(got), 0.0)
        return a
    if isinstance(key, DynamicSimple):
        beta = dict(zip(key.shares.meters, key.shares.kwh[t].tolist()))
        return [min(ci, beta.get(m, 0.0) * p) for ci, m in zip(c, consumers)]
    raise AssertionError(key)


def naive(prod, cons, key) -> np.ndarray:
    """a_ik,t as a dense steps × producers × consumers array, one step and one consumer at a time."""
    steps, producers, consumers = len(cons.index), prod.meters, cons.meters
    out = np.zeros((steps, len(producers), len(consumers)))
    for t in range(steps):
        pk, c = prod.kwh[t].tolist(), cons.kwh[t].tolist()
        if isinstance(key, FullDynamic):
            for i, m in enumerate(consumers):
                offers = [0.0] * len(producers)
                for name, beta in key.shares.items():
                    k = producers.index(name)
                    offers[k] = dict(zip(beta.meters, beta.kwh[t].tolist())).get(m, 0.0) * pk[k]
                scale = c[i] / sum(offers) if sum(offers) > c[i] else 1.0
                for k in range(len(producers)):
                    out[t, k, i] = offers[k] * scale
        else:
            p = sum(pk)
            a = naive_on_total(key, t, p, c, consumers)
            for k in range(len(producers)):
                for i in range(len(consumers)):
                    out[t, k, i] = a[i] * pk[k] / p if p > 0 else 0.0
    return out


def assert_matches_naive(prod, cons, key, steps_per_block):
    al = allocate(prod, cons, key, steps_per_block=steps_per_block)
    dense = naive(prod, cons, key)
    np.testing.assert_allclose(al.autocons, dense.sum(axis=1), **TOL)
    np.testing.assert_allclose(al.autoprod, dense.sum(axis=2), **TOL)
    np.testing.assert_allclose(al.pairs, dense.sum(axis=0).T, **TOL)
    for k, producer in enumerate(prod.meters):
        np.testing.assert_allclose(al.by_producer(producer), dense[:, k], **TOL)


# -- strategies ----------------------------------------------------------------------------------------

kwh = st.one_of(st.just(0.0), st.floats(1e-3, 100), st.integers(0, 5).map(float))  # zeros and ties


@st.composite
def communities(draw, max_steps=6, max_consumers=6, max_producers=3):
    steps = draw(st.integers(1, max_steps))
    n, k = draw(st.integers(1, max_consumers)), draw(st.integers(1, max_producers))
    prod = curves(kwh=draw(arrays(np.float64, (steps, k), elements=kwh)), meters=[f"p{j}" for j in range(k)])
    cons = curves(kwh=draw(arrays(np.float64, (steps, n), elements=kwh)), meters=[f"c{j}" for j in range(n)])
    return prod, cons


weight = st.one_of(st.just(0.0), st.floats(1e-3, 1), st.just(1.0))


def scaled(draw, weights: np.ndarray) -> np.ndarray:
    """Rows of weights scaled so each sums to at most 1 (exactly 1 often, less sometimes)."""
    total = weights.sum(axis=-1, keepdims=True)
    fill = draw(st.one_of(st.just(1.0), st.floats(0, 1)))
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0) * fill


def static_shares(draw, meters) -> dict[str, float]:
    named = draw(st.lists(st.sampled_from(meters), unique=True))  # unnamed consumers: α = 0
    alpha = scaled(draw, draw(arrays(np.float64, len(named), elements=weight)))
    return dict(zip(named, alpha.tolist()))


rounds = st.sampled_from([1, 2, 3, None])


@st.composite
def keys(draw, prod, cons):
    kind = draw(st.sampled_from(["default", "static", "priority", "simple", "full"]))
    steps, n = cons.kwh.shape
    if kind == "default":
        return DefaultDynamic()
    if kind == "static":
        return Static(static_shares(draw, cons.meters), max_rounds=draw(rounds))
    if kind == "priority":
        level_of = draw(st.lists(st.integers(-1, 2), min_size=n, max_size=n))  # -1: in no level
        levels = []
        for level in range(3):
            members = [m for m, lvl in zip(cons.meters, level_of) if lvl == level]
            if members:
                levels.append(Static(static_shares(draw, members), max_rounds=draw(rounds)))
        return Priority(levels)
    named = draw(st.lists(st.sampled_from(cons.meters), unique=True, min_size=1))

    def per_step_shares():
        beta = scaled(draw, draw(arrays(np.float64, (steps, len(named)), elements=weight)))
        return curves(kwh=beta, meters=named)
    if kind == "simple":
        return DynamicSimple(per_step_shares())
    producers = draw(st.lists(st.sampled_from(prod.meters), unique=True))  # unnamed producers: all surplus
    return FullDynamic({p: per_step_shares() for p in producers})


@st.composite
def cases(draw):
    prod, cons = draw(communities())
    return prod, cons, draw(keys(prod, cons))


# -- invariants ----------------------------------------------------------------------------------------

def leq(small, large):
    assert (np.asarray(small) <= np.asarray(large) + TOL["atol"] + TOL["rtol"] * np.abs(large)).all()


@given(cases())
def test_invariants(case):
    prod, cons, key = case
    al = allocate(prod, cons, key)
    detail = np.stack([al.by_producer(p) for p in prod.meters], axis=1)  # steps × producers × consumers
    assert (detail >= 0).all() and (al.autocons >= 0).all() and (al.autoprod >= 0).all()  # 0 ≤ a_ik
    leq(detail.sum(axis=1), cons.kwh)  # Σ_k a_ik ≤ C_i
    leq(detail.sum(axis=2), prod.kwh)  # Σ_i a_ik ≤ P_k
    np.testing.assert_allclose(detail.sum(axis=1), al.autocons, **TOL)
    np.testing.assert_allclose(detail.sum(axis=2), al.autoprod, **TOL)
    np.testing.assert_allclose(al.autocons + al.complement, cons.kwh, **TOL)  # AUTOCONS + COMPLEMENT = C
    np.testing.assert_allclose(al.autoprod + al.surplus, prod.kwh, **TOL)  # AUTOPROD + SURPLUS = P
    assert (al.complement >= 0).all() and (al.surplus >= 0).all()  # exactly: no -0.00 kWh in a statement
    np.testing.assert_allclose(al.autocons.sum(axis=1), al.autoprod.sum(axis=1), **TOL)  # Σ per step
    np.testing.assert_allclose(al.pairs, detail.sum(axis=0).T, **TOL)
    totals = al.consumer_totals()
    np.testing.assert_allclose(totals["autocons"] + totals["complement"], cons.kwh.sum(axis=0), **TOL)


@given(communities(), st.data())
def test_default_dynamic_and_unlimited_rounds_hand_out_min_of_production_and_demand(community, data):
    prod, cons = community
    p = prod.kwh.sum(axis=1)
    dynamic = allocate(prod, cons, DefaultDynamic())
    np.testing.assert_allclose(dynamic.autocons.sum(axis=1), np.minimum(p, cons.kwh.sum(axis=1)), **TOL)
    alpha = static_shares(data.draw, cons.meters)
    static = allocate(prod, cons, Static(alpha, max_rounds=None))
    sharing = cons.kwh[:, [cons.meters.index(m) for m, a in alpha.items() if a > 0]].sum(axis=1)
    np.testing.assert_allclose(static.autocons.sum(axis=1), np.minimum(p, sharing), **TOL)


@given(cases(), st.data())
def test_member_order_does_not_matter(case, data):
    prod, cons, key = case
    c_order = data.draw(st.permutations(range(len(cons.meters))))
    p_order = data.draw(st.permutations(range(len(prod.meters))))
    shuffled = allocate(prod.select([prod.meters[j] for j in p_order]),
                        cons.select([cons.meters[i] for i in c_order]), key)
    al = allocate(prod, cons, key)
    np.testing.assert_allclose(shuffled.autocons, al.autocons[:, c_order], **TOL)
    np.testing.assert_allclose(shuffled.autoprod, al.autoprod[:, p_order], **TOL)
    np.testing.assert_allclose(shuffled.pairs, al.pairs[np.ix_(c_order, p_order)], **TOL)


@given(cases(), st.sampled_from([0.01, 0.1, 1.0]))
def test_key_file_floors_and_never_exceeds_100_percent(case, precision):
    prod, cons, key = case
    al = allocate(prod, cons, key)
    keys = key_file(al, precision)
    p = prod.kwh.sum(axis=1)
    exact = np.divide(100 * al.autocons, p[:, None], out=np.zeros_like(al.autocons), where=p[:, None] > 0)
    assert (keys.units >= 0).all()
    assert (keys.units.sum(axis=1) <= round(100 / precision)).all()  # Σ keys ≤ 100 %
    leq(keys.percent, exact)  # floored, never above a_i/P
    assert (exact - keys.percent < precision + 1e-9).all()  # by less than one unit
    assert (keys.units[p == 0] == 0).all()
    assert (keys.remainder_pct >= -1e-9).all()
    # what the keys leave = the surplus of the allocation + what flooring took from it
    np.testing.assert_allclose(keys.remainder_kwh - keys.rounding_kwh, p - al.autocons.sum(axis=1), **TOL)
    leq(-keys.rounding_kwh, 0 * p)  # flooring only takes energy away
    leq(keys.rounding_kwh, precision / 100 * p * len(cons.meters))


# -- against the naive loop ------------------------------------------------------------------------------

@given(cases(), st.integers(1, 4))
def test_vectorised_keys_match_the_naive_loop(case, steps_per_block):
    assert_matches_naive(*case, steps_per_block)


def random_key(kind: str, rng: np.random.Generator, prod, cons):
    steps, n = cons.kwh.shape
    alpha = rng.dirichlet(np.ones(n)) * rng.choice([1.0, 0.8])
    alpha[rng.random(n) < 0.2] = 0.0  # some zero shares
    shares = dict(zip(cons.meters, alpha.tolist()))
    if kind == "default":
        return DefaultDynamic()
    if kind.startswith("static"):
        return Static(shares, max_rounds=None if kind == "static-unlimited" else int(kind.split("-")[1]))
    if kind == "priority":
        cut = n // 3
        return Priority([{m: 1 / cut for m in cons.meters[:cut]},
                         Static({m: shares[m] for m in cons.meters[cut:]}, max_rounds=3)])
    beta = rng.dirichlet(np.ones(n), size=steps) * rng.uniform(0.5, 1, (steps, 1))
    if kind == "simple":
        return DynamicSimple(curves(kwh=beta, meters=cons.meters))
    return FullDynamic({p: curves(kwh=np.roll(beta, j, axis=1), meters=cons.meters)
                        for j, p in enumerate(prod.meters[:-1])})


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", ["default", "static-1", "static-2", "static-8", "static-unlimited",
                                  "priority", "simple", "full"])
def test_seeded_random_community_matches_the_naive_loop(kind, seed):
    rng = np.random.default_rng(seed)
    steps, n, k = 40, 25, 3
    c = rng.lognormal(-1, 1, (steps, n)) * (rng.random((steps, n)) > 0.1)  # some members away
    c[:, :5] = np.round(c[:, :5])  # ties in C
    pk = rng.uniform(0, 1, (steps, k)) * rng.choice([0, 5, 20, 60], (steps, 1))  # night, dim, bright
    prod, cons = curves(kwh=pk, meters=["A", "B", "C"]), curves(kwh=c, meters=[f"c{i}" for i in range(n)])
    assert_matches_naive(prod, cons, random_key(kind, rng, prod, cons), steps_per_block=7)
