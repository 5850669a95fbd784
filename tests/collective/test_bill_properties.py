"""Invariants of collective.bill over random communities (hypothesis): local money balances to the cent."""
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collective.bill import COMMUNITY, bill
from collective.tariffs import Tariffs
from tests.collective.bill_support import allocation, consumer, contracts, producer

TARIFFS = Tariffs.load()
CENT = Decimal("0.01")
kwh = st.floats(0, 5, allow_nan=False).map(lambda x: round(x, 4))
price = st.integers(0, 3000).map(lambda n: str(Decimal(n).scaleb(-4)))  # 0 to 0.30 €/kWh, 4 decimals


@st.composite
def communities(draw):
    steps = draw(st.integers(1, 8))
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    cons = {f"C{i}": draw(st.lists(kwh, min_size=steps, max_size=steps)) for i in range(n)}
    prod = {f"P{j}": draw(st.lists(kwh, min_size=steps, max_size=steps)) for j in range(k)}
    members = {c: consumer(price=draw(price), fta="BTINFCU4", tariff_option=draw(st.sampled_from(["standard", "acc"])))
               | {"supplier": {"prices": {"hp": draw(price), "hc": draw(price)}}} for c in cons}
    members |= {p: producer(price=draw(price), feed_in=draw(price)) for p in prod}
    if draw(st.booleans()):  # a prosumer, both curves under one id (buys from its own roof too)
        cons["X"], prod["X"] = (draw(st.lists(kwh, min_size=steps, max_size=steps)) for _ in range(2))
        members["X"] = members["C0"] | producer(price=draw(price)) | {"role": "prosumer"}
    start = draw(st.sampled_from(["2025-07-15 10:00", "2025-08-20 19:30", "2025-12-03 05:00"]))
    return allocation(cons, prod, start), contracts(members, fee_bps=draw(st.integers(0, 2000)))


def run(community):
    return bill(*community, TARIFFS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(communities())
def test_consumers_local_payments_equal_producers_revenue_and_the_fee(community):
    result = run(community)
    lines = [x for s in result.statements.values() for x in s.lines if x.payer == s.member or x.payee == s.member]
    paid = sum(x.amount for x in lines if x.kind == "local" and x.payer != COMMUNITY)
    earned = sum(x.amount for x in lines if x.kind == "local" and x.payer == COMMUNITY)
    fees = sum(x.amount for s in result.statements.values() if s.role != "pmo" for x in s.lines if x.kind == "fee")
    assert paid == earned
    assert Decimal(result.statements["pmo"].local_net_cents).scaleb(-2) == fees


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(communities())
def test_the_settlement_nets_to_zero_and_nets_each_party(community):
    settlement = run(community).settlement()
    assert sum(d for d, _ in settlement.values()) == sum(c for _, c in settlement.values())
    assert all(min(d, c) == 0 and d >= 0 and c >= 0 for d, c in settlement.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(communities())
def test_every_amount_is_a_whole_cent_and_local_lines_within_a_cent(community):
    result = run(community)
    for s in result.statements.values():
        for x in s.lines:
            assert x.amount == x.amount.quantize(CENT) and x.amount.as_tuple().exponent == -2
            if x.kind == "local" and x.payer != COMMUNITY:
                assert abs(x.amount - x.quantity * x.unit_price) < CENT
        for t in s.totals.values():
            assert t.ttc == t.ht + t.vat and t.ttc.as_tuple().exponent == -2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(communities(), st.floats(0.5, 2.0))
def test_a_regularisation_settles_the_difference_and_still_nets_to_zero(community, factor):
    allocated, members = community
    first = bill(allocated, members, TARIFFS)
    production = allocated.production
    corrected = allocation({c: list(allocated.consumption.kwh[:, i]) for i, c in enumerate(allocated.consumers)},
                           {p: list(np.round(production.kwh[:, j] * factor, 4)) for j, p in enumerate(allocated.producers)},
                           str(allocated.index[0].tz_localize(None)))
    second = bill(corrected, members, TARIFFS, previous=first)
    settlement = second.settlement()
    assert sum(d for d, _ in settlement.values()) == sum(c for _, c in settlement.values())
    for party, s in second.statements.items():
        d, c = settlement[party]
        assert first.statements[party].local_net_cents + c - d == s.local_net_cents
