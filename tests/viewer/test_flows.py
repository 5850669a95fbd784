"""A member's energy flows (Store.flows) against hand-computed rows, and the per-step allocation rows
(simulation.collective.allocation_steps) against the allocation they come from (property)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from collective.allocate import DefaultDynamic, allocate
from collective.curves import Curves
from simulation.collective import allocation_steps
from viewer.store import Store

A, B = "0x" + "a" * 40, "0x" + "b" * 40


def hand_store(path) -> Store:
    """Member A: meter 1 with three readings, one purchase bought and one sold, two allocation steps."""
    store = Store(path / "flows.sqlite")
    with store.connection() as db:
        db.execute("INSERT INTO meters VALUES (1, ?, ?, 3, 1, NULL)", (A, B))
        # (seq, timestamp, produced_delta, consumed_delta, soc ‰)
        for seq, t, p, c, soc in [(1, 1000, 300, 100, 500), (2, 1900, 0, 200, 450), (3, 2800, 50, 50, 400),
                                  (4, 9000, 999, 999, 100)]:  # the last one is out of the range asked
            db.execute("INSERT INTO readings VALUES (1, ?, ?, '0', '0', ?, ?, ?, 1)", (seq, t, soc, str(p), str(c)))
        for pid, buyer, seller, delivered, settled_at in [(1, A, B, "120", 2000), (2, B, A, "30", 2500),
                                                          (3, A, B, "77", None), (4, A, B, "500", 9000)]:
            db.execute("INSERT INTO purchases (purchase_id, buyer, seller, wh, amount, channel, block_number, log_index,"
                       " tx_hash, delivered_wh, settled_at) VALUES (?, ?, ?, '200', '0', 0, 1, ?, '0x', ?, ?)",
                       (pid, buyer, seller, pid, delivered, settled_at))
    store.set_allocation_steps([(A, 1800, 60, 40), (A, 2700, 10, 90), (B, 1800, 5, 5), (A, 9000, 1, 1)])
    return store


def test_flows_over_a_range_match_the_hand_computed_figures(tmp_path):
    flows = hand_store(tmp_path).flows(A, 0, 3000)
    assert flows == {"from": 0, "to": 3000, "readings": 3, "produced_wh": 350, "consumed_wh": 350,
                     "own_use_wh": 150, "from_network_wh": 200, "exported_wh": 200, "soc_change_permille": -100,
                     "bought_wh": 120, "sold_wh": 30, "allocation_steps": 2, "local_wh": 70, "complement_wh": 130}


def test_flows_of_an_empty_range_are_zero_without_a_battery_figure(tmp_path):
    flows = hand_store(tmp_path).flows(A, 3000, 8000)
    assert flows["readings"] == 0 and flows["consumed_wh"] == flows["bought_wh"] == flows["local_wh"] == 0
    assert flows["soc_change_permille"] is None


kwh = arrays(np.float64, st.tuples(st.integers(1, 6), st.just(3)), elements=st.floats(0, 5))


@settings(max_examples=40, deadline=None)
@given(kwh, st.floats(0, 10))
def test_allocation_steps_keep_each_step_and_consumer_of_the_allocation(consumption, pv):
    steps = len(consumption)
    index = pd.date_range("2027-01-15 00:15", periods=steps, freq="15min", tz="UTC")
    step = pd.Timedelta(minutes=15)
    result = allocate(Curves(index, ("9:production",), np.full((steps, 1), pv), step),
                      Curves(index, ("1:consumption", "2:consumption", "3:consumption"), consumption, step), DefaultDynamic())
    members = [SimpleNamespace(meter_id=i, plan=SimpleNamespace(address=f"0x{i}")) for i in (1, 2, 3)]
    rows = allocation_steps(result, members)
    assert len(rows) == steps * 3
    for member, t, local, complement in rows:
        i, s = int(member[2:]) - 1, int((pd.Timestamp(t, unit="s", tz="UTC") - index[0]) / step)
        assert abs(local + complement - 1000 * consumption[s, i]) <= 1  # each rounded to the Wh on its own
        assert local == round(1000 * result.autocons[s, i])
