"""The indexer against a real node: exact rows, resumability, confirmations and reorg repair."""
from __future__ import annotations

from tests.support.scenario import DELTA_WH, PRICE_PER_WH, trade
from viewer.indexer import Indexer
from viewer.store import Store


def test_settled_purchase_is_indexed_with_its_settlement(store, traded):
    _, rows = store.purchases(10, 0, buyer=traded.buyer.address, status="settled")
    assert len(rows) == 1
    settled = rows[0]
    assert (settled["wh"], settled["delivered_wh"]) == (DELTA_WH, DELTA_WH)
    assert int(settled["paid"]) + int(settled["fee"]) + int(settled["refunded"]) == int(settled["amount"])
    assert int(settled["amount"]) == DELTA_WH * PRICE_PER_WH


def test_open_purchase_has_no_settlement(store, traded):
    _, rows = store.purchases(10, 0, buyer=traded.buyer.address, status="open")
    assert [r["settled_block"] for r in rows] == [None]


def test_balance_from_transfers_matches_the_token_contract(store, traded, viewer_community):
    for member in (traded.buyer, traded.seller):
        on_chain = viewer_community.token.functions.balanceOf(member.address).call()
        assert int(store.balance(member.address)) == on_chain


def test_exchange_balances_match_the_contract(store, traded, viewer_community):
    """Deposits, escrow, refunds and sales' pay, followed from events, as the exchange keeps them."""
    for member in (traded.buyer, traded.seller):
        summary = store.member_summary(member.address)
        assert int(summary["exchange_balance"]) == viewer_community.exchange.functions.balanceOf(member.address).call()


def test_a_replaced_meter_counts_from_zero(chain, tmp_path):
    node, community, admin = chain
    t = trade(admin)
    t.report(t.seller, produced=40)
    admin.operator.transact(community.exchange.functions.replaceMeter(t.seller.meter_id, t.seller.oracle.address))
    t.seller.seq, t.seller.produced = 0, 0
    t.report(t.seller, produced=25)
    store = Store(tmp_path / "v.sqlite")
    Indexer(store, community).catch_up()
    _, rows = store.readings(t.seller.meter_id, 0, 2**40, 100, 0)
    assert [(r["seq"], r["produced_wh"], r["produced_delta"]) for r in rows][-2:] == [
        (2, 100_040, 40), (1 << 32 | 1, 25, 25)]  # the new meter's seq 1, after the old one's


def test_readings_keep_counters_and_deltas(store, traded):
    _, rows = store.readings(traded.buyer.meter_id, 0, 2**40, 100, 0)
    assert [r["consumed_wh"] for r in rows] == [1, 1 + DELTA_WH, 2 + DELTA_WH]
    assert [r["consumed_delta"] for r in rows] == [0, DELTA_WH, 1]


def test_a_new_indexer_resumes_from_the_cursor_without_duplicates(chain, tmp_path):
    node, community, admin = chain
    t = trade(admin)
    t.buy()
    store = Store(tmp_path / "v.sqlite")
    Indexer(store, community).catch_up()
    t.deliver(DELTA_WH)
    Indexer(store, community).catch_up()  # as after a restart of the viewer
    assert store.purchases(10, 0, buyer=t.buyer.address)[0] == 1
    assert store.purchases(10, 0, buyer=t.buyer.address, status="settled")[0] == 1
    assert store.cursor() == community.w3.eth.block_number


def test_confirmations_keep_the_newest_blocks_out(chain, tmp_path):
    node, community, admin = chain
    community.w3.provider.make_request("anvil_mine", ["0x5"])
    store = Store(tmp_path / "v.sqlite")
    Indexer(store, community, confirmations=3).catch_up()
    assert store.cursor() == community.w3.eth.block_number - 3


def test_a_reorg_drops_the_purchase_of_the_abandoned_branch(chain, tmp_path):
    node, community, admin = chain
    w3 = community.w3
    t = trade(admin)
    store = Store(tmp_path / "v.sqlite")
    indexer = Indexer(store, community)
    indexer.catch_up()
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    t.buy()
    indexer.catch_up()
    assert store.purchases(10, 0, buyer=t.buyer.address)[0] == 1
    w3.provider.make_request("evm_revert", [snapshot])
    w3.provider.make_request("anvil_mine", ["0x3"])  # the new branch: same heights, other blocks
    indexer.catch_up()
    assert store.purchases(10, 0, buyer=t.buyer.address)[0] == 0
    assert store.cursor() == w3.eth.block_number
