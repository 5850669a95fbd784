"""Pre-aggregated community steps and purchase counters agree with the raw tables, through writes and
reorg rollbacks; heavy public queries are bounded (defect 4; the latency figures are in bench/viewer.py)."""
from __future__ import annotations

import anyio
import pytest
from fastapi import HTTPException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daisee.chain import ChainEvent
from viewer.api import Heavy
from viewer.store import COUNTER_SQL, COUNTERS, STEP, Store

A, B = "0x" + "a" * 40, "0x" + "b" * 40


def event(name: str, block: int, index: int, **args) -> ChainEvent:
    return ChainEvent(name, args, "0x" + "e" * 40, block, f"0x{block:064x}", f"0x{block:032x}{index:032x}", index)


readings = st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 500), st.integers(0, 1000)), min_size=1, max_size=40)


def write(store: Store, rows, first_block: int = 1) -> None:
    """Readings of two meters, one per block, with purchases opened and settled along."""
    store.apply([event("MeterRegistered", 0, 0, meterId=1, owner=A, oracle=A, kind=3),
                 event("MeterRegistered", 0, 1, meterId=2, owner=B, oracle=B, kind=3)], 0, {0: "0x0"})
    counters, time = [[0, 0], [0, 0]], 1_700_000_000
    for i, (gap, wh, soc) in enumerate(rows):
        block, meter = first_block + i, i % 2
        time += gap
        counters[meter][0] += wh
        counters[meter][1] += wh // 2
        events = [event("MeterReading", block, 0, meterId=meter + 1, seq=i + 1, timestamp=time,
                        producedWh=counters[meter][0], consumedWh=counters[meter][1], socPermille=soc),
                  event("BuyEnergy", block, 1, purchaseId=i + 1, buyer=A, seller=B, wh=wh, amount=wh * 10, channel=1)]
        if i % 3 == 0:
            events.append(event("PurchaseSettled", block, 2, purchaseId=i + 1, buyer=A, seller=B, deliveredWh=wh // 2,
                                paid=wh * 4, refunded=wh * 5, fee=wh))
        store.apply(events, block, {block: f"0x{block:064x}"}, {block: time})


def raw_counters(store: Store) -> dict[str, int]:
    return {k: int(v) for k, v in dict(store.db().execute(COUNTER_SQL).fetchone()).items()}


@given(rows=readings, bucket=st.sampled_from([STEP, 3 * STEP, 12 * STEP]))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_pre_aggregated_series_equals_the_raw_one(tmp_path_factory, rows, bucket):
    store = Store(tmp_path_factory.mktemp("agg") / "v.sqlite")
    write(store, rows)
    start, end = 1_700_000_000 - 1_700_000_000 % bucket, 1_700_000_000 + 10**6
    aggregated = store.series(start, end, bucket)
    raw = store._rows(
            """SELECT (timestamp / ?) * ? AS t, bigsum(produced_delta) AS produced_wh, bigsum(consumed_delta) AS consumed_wh,
                      CAST(ROUND(AVG(soc_permille)) AS INTEGER) AS soc_permille
               FROM readings WHERE timestamp BETWEEN ? AND ? GROUP BY t ORDER BY t""", [bucket, bucket, start, end])
    assert aggregated == raw


@given(rows=readings, fork=st.integers(0, 40))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_counters_and_steps_survive_a_rollback(tmp_path_factory, rows, fork):
    store = Store(tmp_path_factory.mktemp("agg") / "v.sqlite")
    write(store, rows)
    store.rollback(fork)
    assert store.counters() == raw_counters(store)
    assert store.totals()["readings"] == store.db().execute("SELECT COUNT(*) FROM readings").fetchone()[0]


def test_counters_follow_each_write(tmp_path):
    store = Store(tmp_path / "v.sqlite")
    write(store, [(60, 100, 500), (60, 200, 400), (60, 300, 300), (60, 400, 200)])
    assert store.counters() == raw_counters(store) and set(store.counters()) == set(COUNTERS)
    assert store.totals()["purchases"] == 4 and store.totals()["open_purchases"] == 2


def test_heavy_queries_beyond_the_queue_get_503():
    heavy = Heavy(workers=1, queue=1)

    async def main():
        release = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(heavy.run, lambda: anyio.from_thread.run(release.wait))
            await anyio.sleep(0.05)
            with pytest.raises(HTTPException) as refused:
                await heavy.run(lambda: None)
            release.set()
        return refused.value.status_code

    assert anyio.run(main) == 503


def test_series_beyond_64_bits_stay_exact(tmp_path):
    """SQLite sums the series natively only while that is exact; 19-digit deltas go through bigsum."""
    store = Store(tmp_path / "v.sqlite")
    big = 15 * 10**18
    store.apply([event("MeterRegistered", 0, 0, meterId=1, owner=A, oracle=A, kind=3),
                 event("MeterReading", 0, 1, meterId=1, seq=1, timestamp=1000, producedWh=0, consumedWh=0, socPermille=1),
                 event("MeterReading", 0, 2, meterId=1, seq=2, timestamp=1010, producedWh=big, consumedWh=0, socPermille=1)],
                0, {0: "0x0"}, {0: 1000})
    assert [p["produced_wh"] for p in store.series(0, 2000, 100)] == [big]
    assert [p["produced_wh"] for p in store.series(0, 2000, 100, meter_id=1)] == [big]
    assert [p["produced_wh"] for p in store.series(0, 2000, STEP)] == [big]


def test_series_sum_natively_below_19_digits(tmp_path):
    store = Store(tmp_path / "v.sqlite")
    write(store, [(60, 100, 500), (60, 200, 400), (900, 300, 300)])
    raw = store._rows("SELECT (timestamp / 60) * 60 AS t, bigsum(produced_delta) AS produced_wh FROM readings "
                      "GROUP BY t ORDER BY t")
    assert [(p["t"], p["produced_wh"]) for p in store.series(0, 2**40, 60)] == [(r["t"], r["produced_wh"]) for r in raw]
