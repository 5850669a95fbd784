"""No event stops the indexer: counters and amounts at the top of their uint ranges are stored and
summed exactly, and an event whose handling fails is recorded once as poison (shown to operators
only) while indexing goes on past it."""
from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import contextmanager
from dataclasses import replace

from fastapi.testclient import TestClient

from daisee.chain import ChainEvent
from tests.support.anvil import dev_account
from tests.support.scenario import DELTA_WH, trade
from tests.viewer.conftest import sign_in
from viewer.api import MAX_TIME, create_app
from viewer.auth import Authenticator
from viewer.indexer import Indexer
from viewer.store import ZERO_ADDRESS, Store

MAX48, MAX256 = 2**48 - 1, 2**256 - 1  # a reading's counter, a token amount
OPERATOR, BUYER, SELLER = dev_account(0), dev_account(1), dev_account(2)
EXCHANGE = "0x" + "e" * 40


@contextmanager
def api(store: Store):
    """The app on `store` with the bearer headers of a signed-in operator and of BUYER (a member)."""
    auth = Authenticator(lambda address: {"operator"} if address == OPERATOR.address else set(), "test.daisee")
    with TestClient(create_app(store, auth)) as client:
        yield client, sign_in(client, OPERATOR), sign_in(client, BUYER)


def statuses(client: TestClient, headers: dict, meter_id: int, address: str) -> dict[str, int]:
    """Status of every GET endpoint (the SSE stream aside: it never ends)."""
    paths = ["/api/status", "/api/totals", "/api/series", "/api/feed", "/api/meters",
             f"/api/meters/{meter_id}/readings", f"/api/meters/{meter_id}/series", "/api/purchases",
             f"/api/members/{address}/summary", "/api/usage", "/api/operator/poison"]
    return {path: client.get(path, headers=headers).status_code for path in paths}


def assert_answers(client: TestClient, member: dict, operator: dict, meter_id: int, address: str) -> None:
    """No 5xx for anyone; everything for the operator."""
    public, own, everyone = (statuses(client, h, meter_id, address) for h in ({}, member, operator))
    assert max(*public.values(), *own.values()) < 500, (public, own)
    assert set(everyone.values()) == {200}, everyone


def blocks(*events_per_block: list[tuple[str, dict]]) -> list[list[ChainEvent]]:
    """Decoded events as the EventReader yields them, block n + 1 holding the n-th list."""
    return [[ChainEvent(name, args, EXCHANGE, number, f"0x{number:064x}", f"0x{number:031x}{index:033x}", index)
             for index, (name, args) in enumerate(events)]
            for number, events in enumerate(events_per_block, start=1)]


def test_counters_at_the_top_of_their_range_are_indexed_and_summed_exactly(chain, tmp_path):
    """Any oracle may send counters up to the top of the reading word's 48 bits (uint64 ones once made
    every write of the range fail with an OverflowError, retried forever); the trade after them is
    indexed too. Values beyond what the chain can carry are the synthetic test's below."""
    _, community, admin = chain
    t = trade(admin)  # the seller's first reading: 100 000 Wh produced
    t.report(t.seller, produced=MAX48 - t.seller.produced, consumed=2**47)
    t.report(t.buyer, consumed=MAX48 - 1 - DELTA_WH)  # the buy and its delivery bring it to 2^48 - 1
    store = Store(tmp_path / "v.sqlite")
    Indexer(store, community).catch_up()
    t.buy()
    t.deliver(DELTA_WH)
    Indexer(store, community).catch_up()  # deltas now from the counters stored as text
    assert store.cursor() == community.w3.eth.block_number

    with api(store) as (client, operator, member):
        meters = {m["meter_id"]: m for m in client.get("/api/meters", headers=operator).json()}
        seller, buyer = meters[t.seller.meter_id], meters[t.buyer.meter_id]
        assert (seller["produced_wh"], seller["consumed_wh"], buyer["consumed_wh"]) == (MAX48, 2**47, MAX48)
        readings = client.get(f"/api/meters/{t.seller.meter_id}/readings", headers=operator,
                              params={"from": 0, "to": MAX_TIME}).json()["items"]
        assert [(r["produced_delta"], r["consumed_delta"]) for r in readings] == [(0, 0), (MAX48 - 100_000, 2**47)]
        series = client.get(f"/api/meters/{t.seller.meter_id}/series", headers=operator,
                            params={"bucket": 86_400}).json()
        assert sum(p["produced_wh"] for p in series) == MAX48 - 100_000
        totals = client.get("/api/totals").json()
        assert totals["consumed_wh"] == sum(m["consumed_wh"] or 0 for m in meters.values()) >= MAX48 + 2**47
        assert totals["produced_wh"] == sum(m["produced_wh"] or 0 for m in meters.values())
        summary = client.get(f"/api/members/{t.buyer.address}/summary", headers=operator).json()
        assert (summary["consumed_wh"], summary["bought_wh"], summary["delivered_wh"]) == (MAX48, DELTA_WH, DELTA_WH)
        assert client.get("/api/operator/poison", headers=operator).json()["total"] == 0  # big is not poison
        assert_answers(client, member, operator, t.seller.meter_id, t.seller.address)


def test_an_event_whose_handling_fails_is_recorded_once_and_indexing_goes_on(chain, tmp_path, caplog):
    _, community, admin = chain
    t = trade(admin)
    opened = t.buy()  # one transaction: the buyer's reading, then the BuyEnergy it triggers
    t.deliver(DELTA_WH)
    store = Store(tmp_path / "v.sqlite")

    def without_soc(fetch):
        """The reader, with the buy's reading missing a field (as a log decoded with a stale ABI would)."""
        def fetch_broken(start: int, end: int) -> list[ChainEvent]:
            return [replace(e, args={k: v for k, v in e.args.items() if k != "socPermille"})
                    if e.name == "MeterReading" and e.tx_hash == opened["transactionHash"].to_0x_hex() else e
                    for e in fetch(start, end)]
        return fetch_broken

    with caplog.at_level(logging.ERROR, logger="daisee.viewer.indexer"):
        for _ in range(2):  # the second indexer is the viewer restarted on the same store
            indexer = Indexer(store, community)
            indexer.reader.fetch = without_soc(indexer.reader.fetch)
            indexer.catch_up()

    assert store.cursor() == community.w3.eth.block_number
    total, poisons = store.poison_events(10, 0)
    assert total == 1
    assert (poisons[0]["block_number"], poisons[0]["tx_hash"], poisons[0]["name"]) == (
        opened["blockNumber"], opened["transactionHash"].to_0x_hex(), "MeterReading")
    assert "socPermille" in poisons[0]["error"] and json.loads(poisons[0]["args"])["meterId"] == t.buyer.meter_id
    assert len([r for r in caplog.records if "poison" in r.getMessage()]) == 1
    # The BuyEnergy after it in the same transaction, and the delivery after that, are indexed.
    assert store.purchases(10, 0, buyer=t.buyer.address, status="settled")[0] == 1
    assert [r["seq"] for r in store.readings(t.buyer.meter_id, 0, MAX_TIME, 10, 0)[1]] == [t.buyer.seq]


def test_uint256_amounts_are_exact_and_poison_is_for_operators_only(tmp_path):
    buyer, seller = BUYER.address, SELLER.address
    purchase = {"buyer": buyer, "seller": seller, "wh": MAX256, "amount": MAX256, "channel": 1}
    chain = blocks(
        [("MeterRegistered", {"meterId": 1, "owner": buyer, "oracle": buyer, "kind": 2}),
         ("MeterRegistered", {"meterId": 2, "owner": seller, "oracle": seller, "kind": 1}),
         ("Transfer", {"from": ZERO_ADDRESS, "to": buyer, "value": MAX256})],
        [("BuyEnergy", {**purchase, "purchaseId": 1}),
         ("BuyEnergy", {**purchase, "purchaseId": 2**64}),  # ids are uint32 in the contract: unstorable
         ("BuyEnergy", {**purchase, "purchaseId": 2})],
        [("PurchaseSettled", {"purchaseId": 1, "buyer": buyer, "seller": seller, "deliveredWh": MAX256,
                              "paid": MAX256, "refunded": 0, "fee": MAX256}),
         ("Transfer", {"from": EXCHANGE, "to": seller, "value": MAX256})],
    )
    store = Store(tmp_path / "v.sqlite")
    poisoned = store.apply([e for block in chain for e in block], 3, {3: "0x03"})
    assert [(p["block_number"], p["log_index"]) for p in poisoned] == [(2, 1)] and store.cursor() == 3

    with api(store) as (client, operator, member):
        summary = client.get(f"/api/members/{buyer}/summary", headers=member).json()
        assert (summary["purchases"], summary["bought_wh"], summary["delivered_wh"]) == (2, 2 * MAX256, MAX256)
        assert (summary["spent"], summary["paid"], summary["fees"], summary["token_balance"]) == (
            str(2 * MAX256), str(MAX256), str(MAX256), str(MAX256))
        sold = client.get(f"/api/members/{seller}/summary", headers=operator).json()
        assert (sold["sold_wh"], sold["earned"], sold["token_balance"]) == (MAX256, str(MAX256), str(MAX256))
        totals = client.get("/api/totals").json()
        assert (totals["bought_wh"], totals["volume"], totals["token_supply"]) == (2 * MAX256, str(2 * MAX256),
                                                                                  str(MAX256))
        settled = client.get("/api/purchases", headers=member, params={"status": "settled"}).json()["items"]
        assert [(p["wh"], p["amount"], p["delivered_wh"]) for p in settled] == [(MAX256, str(MAX256), MAX256)]
        assert [u["purchased_wh"] for u in client.get("/api/usage", headers=operator).json()] == [2 * MAX256, 0]

        page = client.get("/api/operator/poison", headers=operator).json()
        assert page["total"] == 1 and page["items"][0]["name"] == "BuyEnergy"
        assert "OverflowError" in page["items"][0]["error"]
        assert json.loads(page["items"][0]["args"])["purchaseId"] == 2**64
        assert client.get("/api/operator/poison").status_code == 401
        assert client.get("/api/operator/poison", headers=member).status_code == 403
        assert_answers(client, member, operator, 1, buyer)

    # Written again (a crash before the cursor moved, a second indexer): still one record, not logged again.
    assert store.apply([chain[1][1]], 3, {}) == [] and store.poison_events(10, 0)[0] == 1


def test_a_store_of_the_previous_layout_is_rebuilt_for_reindexing(tmp_path):
    path = tmp_path / "v.sqlite"
    with sqlite3.connect(path) as db:  # layout 1: counters in INTEGER columns, which turn 2^64 - 1 into a float
        db.executescript("""CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                            INSERT INTO meta VALUES ('cursor', '42');
                            CREATE TABLE readings (meter_id INTEGER, seq INTEGER, produced_wh INTEGER);""")
    store = Store(path)
    assert store.cursor() is None  # indexed again from the deployment block
    top = 2**64 - 1
    reading = {"meterId": 1, "seq": 1, "timestamp": 60, "producedWh": top, "consumedWh": top, "socPermille": 0}
    assert store.apply(blocks([("MeterReading", reading)])[0], 1, {}) == []
    assert store.readings(1, 0, MAX_TIME, 10, 0)[1][0]["produced_wh"] == top


def test_a_log_the_reader_could_not_decode_is_recorded_as_poison(tmp_path):
    store = Store(tmp_path / "v.sqlite")
    (events,) = blocks([("MeterReading", {"data": "00"})])
    bad = replace(events[0], error="undecodable MeterReading log: InsufficientDataBytes")
    (record,) = store.apply([bad], 1, {})
    assert record["name"] == "MeterReading" and "undecodable" in record["error"]
    assert store.cursor() == 1 and store.poison_events(10, 0)[0] == 1
