"""Each key on a case small enough to compute by hand (the arithmetic is in the comments), the key file,
netting behind the meter and the errors. Steps end 10:00, 10:30, ... UTC (see conftest.START)."""
from __future__ import annotations

import io

import numpy as np
import pytest

from collective.allocate import (DefaultDynamic, DynamicSimple, FullDynamic, Priority, Static, allocate,
                                 key_file, net_behind_the_meter)
from tests.collective.conftest import curves

rows = np.asarray


def approx(expected):
    return pytest.approx(np.asarray(expected, dtype=np.float64), rel=1e-12, abs=1e-12)


# -- default dynamic ---------------------------------------------------------------------------------

def test_default_dynamic__shares_in_proportion_to_consumption():
    prod = curves({"A": [4, 6, 0, 3], "B": [2, 4, 0, 0]})
    cons = curves({"c1": [1, 1, 1, 0], "c2": [2, 2, 2, 0], "c3": [5, 5, 5, 0]})
    al = allocate(prod, cons, DefaultDynamic())
    # t0: P = 6 < ΣC = 8, everyone gets 6/8 = 0.75 of C: 0.75, 1.5, 3.75
    # t1: P = 10 ≥ ΣC = 8, everyone is served: 1, 2, 5
    # t2: P = 0, nothing; t3: ΣC = 0, nothing (all 3 kWh of A is surplus)
    assert rows(al.autocons) == approx([[0.75, 1.5, 3.75], [1, 2, 5], [0, 0, 0], [0, 0, 0]])
    assert rows(al.complement) == approx([[0.25, 0.5, 1.25], [0, 0, 0], [1, 2, 5], [0, 0, 0]])
    # split by production: t0 A gives 4/6 of 6 = 4, B 2; t1 A 6/10 of 8 = 4.8, B 3.2 (surplus 1.2 and 0.8)
    assert rows(al.autoprod) == approx([[4, 2], [4.8, 3.2], [0, 0], [0, 0]])
    assert rows(al.surplus) == approx([[0, 0], [1.2, 0.8], [0, 0], [3, 0]])
    # c3 from A: 3.75·4/6 + 5·6/10 = 2.5 + 3 = 5.5; from B: 3.75·2/6 + 5·4/10 = 1.25 + 2 = 3.25
    assert al.pair_totals().loc["c3"].tolist() == approx([5.5, 3.25])
    assert al.consumer_totals().loc["c1"].tolist() == approx([3, 1.75, 1.25])
    assert al.producer_totals().loc["A"].tolist() == approx([13, 8.8, 4.2])
    # one producer's detail: A's part of each a_i, t0 = 4/6 of (0.75, 1.5, 3.75)
    assert rows(al.by_producer("A")[0]) == approx([0.5, 1.0, 2.5])


def test_default_dynamic__member_joining_mid_period_gets_nothing_before():
    prod = curves({"A": [3, 3, 3]})
    cons = curves({"c1": [2, 2, 2], "c2": [0, 0, 4]})  # c2 joins for the last step: C = 0 before
    al = allocate(prod, cons, DefaultDynamic())
    # t0, t1: c1 alone wants 2 ≤ 3, served; t2: ΣC = 6, ratio 3/6: c1 1, c2 2
    assert rows(al.autocons) == approx([[2, 0], [2, 0], [1, 2]])
    keys = key_file(al)
    # keys = a/P: t0 2/3 = 66.666… → 66.66 %, c2 0; t2 1/3 → 33.33 %, 2/3 → 66.66 %
    assert rows(keys.percent) == approx([[66.66, 0], [66.66, 0], [33.33, 66.66]])


# -- static ------------------------------------------------------------------------------------------

def test_static_one_round__caps_each_share_and_leaves_the_rest():
    prod = curves({"A": [4, 0]})
    cons = curves({"c1": [1, 1], "c2": [4, 4], "c3": [2, 2]})
    al = allocate(prod, cons, Static({"c1": 0.5, "c2": 0.3, "c3": 0.0}))
    # t0: α·P = 2, 1.2, 0 → a = min(C, α·P) = 1, 1.2, 0 (c3 has a zero share); surplus 4 − 2.2 = 1.8
    # t1: P = 0 → nothing
    assert rows(al.autocons) == approx([[1, 1.2, 0], [0, 0, 0]])
    assert rows(al.surplus) == approx([[1.8], [0]])


def test_static_rounds__one_two_and_unlimited():
    prod = curves({"A": [6]})
    cons = curves({"c1": [1], "c2": [2.5], "c3": [10]})
    alpha = {"c1": 0.5, "c2": 0.3, "c3": 0.2}
    # round 1: α·P = 3, 1.8, 1.2 → a = 1, 1.8, 1.2; left 6 − 4 = 2
    # round 2: c2, c3 unsatisfied, weights 0.3 : 0.2 → offered 1.2, 0.8 → c2 min(2.5, 3.0) = 2.5, c3 2.0;
    #          left 6 − 5.5 = 0.5
    # round 3: c3 alone → 2.5; left 0. Closed form: c3 = 0.2·λ = 2.5 → λ = 12.5 ≥ x1 = 2, x2 = 8.33
    one = allocate(prod, cons, Static(alpha))
    two = allocate(prod, cons, Static(alpha, max_rounds=2))
    every = allocate(prod, cons, Static(alpha, max_rounds=None))
    assert rows(one.autocons) == approx([[1, 1.8, 1.2]])
    assert rows(two.autocons) == approx([[1, 2.5, 2.0]])
    assert rows(every.autocons) == approx([[1, 2.5, 2.5]])
    assert rows(two.surplus) == approx([[0.5]]) and rows(every.surplus) == approx([[0]])


def test_static_unlimited__zero_share_members_never_receive():
    prod = curves({"A": [4, 10]})
    cons = curves({"c1": [1, 1], "c2": [4, 4], "c3": [2, 2]})
    al = allocate(prod, cons, Static({"c1": 0.5, "c2": 0.3}, max_rounds=None))  # c3 unnamed: α = 0
    # t0: round 1 gives 1, 1.2 (left 1.8), round 2 c2 alone gets 1.8 → 3.0; Σ = 4 = P
    # t1: P = 10 ≥ ΣC over α > 0 = 5: c1, c2 served, c3 still 0, surplus 5
    assert rows(al.autocons) == approx([[1, 3, 0], [1, 4, 0]])
    assert rows(al.surplus) == approx([[0], [5]])


def test_static_unlimited__only_the_ratios_of_tiny_shares_matter():
    prod = curves({"A": [3]})
    cons = curves({"c1": [4], "c2": [4]})
    # α 2:1 → λ·(2, 1) with Σ = 3: a = 2, 1, even when α is subnormal (C/α would overflow to inf)
    for alpha in ({"c1": 0.5, "c2": 0.25}, {"c1": 2e-310, "c2": 1e-310}):
        assert rows(allocate(prod, cons, Static(alpha, max_rounds=None)).autocons) == approx([[2, 1]])


# -- dynamic simple and full dynamic -----------------------------------------------------------------

def test_dynamic_simple__caps_at_consumption_without_redistribution():
    prod = curves({"A": [4, 2]})
    cons = curves({"c1": [1, 1], "c2": [4, 4], "c3": [2, 2]})
    shares = curves({"c1": [0.5, 0.0], "c2": [0.5, 0.25]})  # c3 not named: 0
    al = allocate(prod, cons, DynamicSimple(shares))
    # t0: β·P = 2, 2 → a = min(1, 2) = 1, min(4, 2) = 2; c1's unused 1 kWh is surplus
    # t1: β·P = 0, 0.5 → a = 0, 0.5; surplus 1.5
    assert rows(al.autocons) == approx([[1, 2, 0], [0, 0.5, 0]])
    assert rows(al.surplus) == approx([[1], [1.5]])


def test_dynamic_simple__shares_over_100_percent_name_the_step():
    shares = curves({"c1": [0.5, 0.6], "c2": [0.5, 0.5]})  # the second step sums to 110 %
    with pytest.raises(ValueError, match=r"110\.0000 % .* at 2025-06-01T10:30:00\+00:00"):
        DynamicSimple(shares)


def test_full_dynamic__scales_an_over_served_consumer_pro_rata():
    prod = curves({"A": [4], "B": [2]})
    cons = curves({"c1": [1], "c2": [3]})
    al = allocate(prod, cons, FullDynamic({"A": curves({"c1": [0.5], "c2": [0.5]}), "B": curves({"c1": [1.0]})}))
    # offers: c1 gets A 0.5·4 = 2 and B 1·2 = 2, Σ 4 > C = 1 → both scaled by 1/4: 0.5 and 0.5
    #         c2 gets A 0.5·4 = 2 ≤ 3: kept
    assert rows(al.autocons) == approx([[1, 2]])
    assert al.pair_totals().to_numpy().tolist() == approx([[0.5, 0.5], [2, 0]])
    # A: 2.5 used, 1.5 surplus; B: 0.5 used, 1.5 surplus (what c1 could not take is not re-offered)
    assert rows(al.autoprod) == approx([[2.5, 0.5]]) and rows(al.surplus) == approx([[1.5, 1.5]])
    assert rows(al.by_producer("B")) == approx([[0.5, 0]])


def test_full_dynamic__shares_over_100_percent_name_step_and_producer():
    with pytest.raises(ValueError, match=r"producer 'B'.*120\.0000 % .* at 2025-06-01T10:00:00\+00:00"):
        FullDynamic({"A": curves({"c1": [1.0]}), "B": curves({"c1": [0.7], "c2": [0.5]})})


# -- priority ----------------------------------------------------------------------------------------

def test_priority__each_level_takes_what_the_previous_ones_left():
    prod = curves({"A": [6, 2]})
    cons = curves({"c1": [3, 3], "c2": [2, 2], "c3": [4, 4]})
    al = allocate(prod, cons, Priority([{"c1": 1.0}, {"c2": 0.5, "c3": 0.5}]))
    # t0: level 1: c1 = min(3, 6) = 3, left 3; level 2 (equal α, unlimited rounds): 1.5 each, both below C
    # t1: level 1 takes all 2; level 2 gets nothing
    assert rows(al.autocons) == approx([[3, 1.5, 1.5], [2, 0, 0]])


def test_priority__a_level_may_keep_one_round():
    prod = curves({"A": [6]})
    cons = curves({"c1": [1], "c2": [1], "c3": [10]})
    al = allocate(prod, cons, Priority([Static({"c1": 0.5, "c2": 0.5}), {"c3": 1.0}]))
    # level 1, one round: min(1, 3) = 1 each, left 4; level 2: c3 = min(10, 4) = 4
    assert rows(al.autocons) == approx([[1, 1, 4]])


def test_priority__a_meter_in_two_levels_is_refused():
    with pytest.raises(ValueError, match="'c1' in two levels"):
        Priority([{"c1": 1.0}, {"c1": 0.5, "c2": 0.5}])


# -- behind the meter --------------------------------------------------------------------------------

def test_net_behind_the_meter__a_prosumer_shares_only_its_excess():
    prod = curves({"site": [3, 0.5], "A": [1, 1]})
    cons = curves({"site": [1, 2], "c1": [2, 2]})
    netted = net_behind_the_meter(prod, cons)
    # own use = min(P, C) = 1, 0.5: the site injects 2, 0 and withdraws 0, 1.5
    assert rows(netted.own_use.kwh) == approx([[1], [0.5]])
    assert rows(netted.production.kwh) == approx([[2, 1], [0, 1]])
    assert rows(netted.consumption.kwh) == approx([[0, 2], [1.5, 2]])
    al = allocate(netted.production, netted.consumption, DefaultDynamic())
    # t0: P = 3 ≥ ΣC = 2: c1 served; t1: P = 1, ΣC = 3.5: 1/3.5 of C = 0.42857…, 0.57142…
    assert rows(al.autocons) == approx([[0, 2], [1.5 / 3.5, 2 / 3.5]])


def test_net_behind_the_meter__explicit_sites():
    netted = net_behind_the_meter(curves({"pv1": [3]}), curves({"home1": [1], "c1": [5]}), {"pv1": "home1"})
    assert rows(netted.production.kwh) == approx([[2]]) and rows(netted.consumption.kwh) == approx([[0, 5]])
    assert netted.own_use.meters == ("pv1",)


# -- key file ----------------------------------------------------------------------------------------

def test_key_file__floors_where_rounding_would_exceed_100_percent():
    prod = curves({"A": [50, 0]})
    cons = curves({"c1": [33.336, 1], "c2": [33.336, 1], "c3": [33.328, 1]})
    keys = key_file(allocate(prod, cons, DefaultDynamic()))
    # t0: ΣC = 100 > P: keys = C/ΣC = 33.336 %, 33.336 %, 33.328 %; rounded 33.34 + 33.34 + 33.33 = 100.01 %,
    #     floored 33.33 + 33.33 + 33.32 = 99.98 %: 0.02 % left, 0.02 % of 50 = 0.01 kWh, all of it allocated
    # t1: P = 0 → all keys 0, 100 % left but no energy
    assert rows(keys.percent) == approx([[33.33, 33.33, 33.32], [0, 0, 0]])
    assert keys.remainder_pct.tolist() == approx([0.02, 100])
    assert keys.remainder_kwh.tolist() == approx([0.01, 0])
    assert keys.rounding_kwh.tolist() == approx([0.01, 0])


def test_key_file__a_key_on_the_grid_stays_there():
    prod = curves({"A": [0.3]})
    cons = curves({"c1": [5], "c2": [5]})
    keys = key_file(allocate(prod, cons, Static({"c1": 0.57, "c2": 0.43})))
    # a/P·100 = 0.57·0.3/0.3·100 is 56.99999… in floats: still 57.00 %, not 56.99 %
    assert rows(keys.units) == approx([[5700, 4300]])
    assert keys.remainder_pct.tolist() == approx([0])


def test_key_file__precision_and_remainder_of_a_partial_allocation():
    prod = curves({"A": [3]})
    cons = curves({"c1": [1], "c2": [0]})
    keys = key_file(allocate(prod, cons, DefaultDynamic()), precision=0.1)
    # a = 1 of P = 3: 33.333… % floored to 0.1 % = 33.3 %; 66.7 % left = 2.001 kWh, 0.001 of it from flooring
    assert rows(keys.percent) == approx([[33.3, 0]])
    assert keys.remainder_kwh.tolist() == approx([2.001]) and keys.rounding_kwh.tolist() == approx([0.001])
    with pytest.raises(ValueError, match="precision"):
        key_file(allocate(prod, cons, DefaultDynamic()), precision=0.05)


def test_key_file__csv_in_local_time_with_decimal_commas():
    prod = curves({"A": [3, 3]})
    cons = curves({"PRM1": [1, 2], "PRM2": [2, 0]})
    keys = key_file(allocate(prod, cons, DefaultDynamic()))
    out = io.StringIO()
    keys.write(out)
    # the interval ending 10:00 UTC ends 12:00 in Paris (UTC+2 in June); keys 1/3 → 33,33 and 2/3 → 66,66
    assert out.getvalue().splitlines() == ["Horodate;PRM1;PRM2", "01/06/2025 12:00;33,33;66,66",
                                           "01/06/2025 12:30;66,66;0,00"]
    start = io.StringIO()
    keys.write(start, label="start", tz="UTC")
    assert start.getvalue().splitlines()[1] == "01/06/2025 09:30;33,33;66,66"


def test_key_file__dst_repeats_the_local_hour(tmp_path):
    # 26/10/2025: 00:30 and 01:30 UTC both end at 02:30 in Paris (CEST, then CET)
    prod = curves({"A": [1, 1]}, start="2025-10-26 00:30", step="60min")
    keys = key_file(allocate(prod, curves({"c1": [1, 1]}, start="2025-10-26 00:30", step="60min"),
                             DefaultDynamic()))
    keys.write(tmp_path / "keys.csv")
    lines = (tmp_path / "keys.csv").read_text().splitlines()
    assert lines[1:] == ["26/10/2025 02:30;100,00", "26/10/2025 02:30;100,00"]


# -- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, reason", [(np.nan, r"missing \(NaN\)"), (-1.0, "negative"), (np.inf, "infinite")])
def test_invalid_consumption_names_meter_and_instant(value, reason):
    cons = curves({"c1": [1, 1], "c2": [1, value]})
    with pytest.raises(ValueError, match=rf"consumption of meter 'c2' at 2025-06-01T10:30:00\+00:00: {reason}"):
        allocate(curves({"A": [1, 1]}), cons, DefaultDynamic())


def test_negative_production_names_meter_and_instant():
    with pytest.raises(ValueError, match=r"production of meter 'B' at 2025-06-01T10:00:00\+00:00: negative"):
        allocate(curves({"A": [1], "B": [-0.5]}), curves({"c1": [1]}), DefaultDynamic())


def test_curves_on_other_steps_are_refused():
    with pytest.raises(ValueError, match="not on the same steps"):
        allocate(curves({"A": [1]}), curves({"c1": [1]}, start="2025-06-01 10:30"), DefaultDynamic())
    with pytest.raises(ValueError, match="step 0 days 00:15:00 against 0 days 00:30:00"):
        allocate(curves({"A": [1]}, step="15min"), curves({"c1": [1]}), DefaultDynamic())


def test_static_shares_are_checked():
    with pytest.raises(ValueError, match=r"sum to 110\.0000 %"):
        Static({"c1": 0.6, "c2": 0.5})
    with pytest.raises(ValueError, match="finite and >= 0"):
        Static({"c1": -0.1})
    with pytest.raises(ValueError, match="max_rounds"):
        Static({"c1": 0.5}, max_rounds=0)
    with pytest.raises(ValueError, match="'ghost'"):
        allocate(curves({"A": [1]}), curves({"c1": [1]}), Static({"ghost": 0.5}))


def test_dynamic_shares_on_other_steps_are_refused():
    key = DynamicSimple(curves({"c1": [0.5]}, start="2025-06-01 11:00"))
    with pytest.raises(ValueError, match="dynamic simple shares and consumption"):
        allocate(curves({"A": [1]}), curves({"c1": [1]}), key)
