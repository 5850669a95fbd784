"""Gas limits of gateway batches: close to the estimate for meters that can trigger nothing, so that
a block holds many gateways' transactions; headroom for the readings that may buy or settle, so
that a purchase the estimate did not see still fits."""
from __future__ import annotations

import threading
import time

from web3.logs import DISCARD

from daisee.chain import pack_reading
from oracle.drivers import Sample
from oracle.submitter import TRIGGER_HEADROOM
from tests.oracle.conftest import ScriptedMeter, chain_readings, gateway_oracle, sample_and_flush
from tests.support.scenario import THRESHOLD_PERMILLE, trade

GATEWAY = 50


def last_tx(oracle) -> str:
    row = oracle.store.db.execute("SELECT tx FROM readings WHERE tx IS NOT NULL ORDER BY rowid DESC").fetchone()
    assert row, f"nothing landed: {oracle.submitter.last_error}"
    return row[0]


def test_gateway_batch_without_rules_asks_about_what_it_uses(make_oracle, register, clock, community):
    meters = [register() for _ in range(GATEWAY)]
    oracle = gateway_oracle(make_oracle, clock, meters, batch={"max_readings": GATEWAY, "max_seconds": 0})
    sample_and_flush(oracle, clock, 2)  # the first reading of a meter fills its counters: steady state next
    tx_hash = last_tx(oracle)
    limit = community.w3.eth.get_transaction(tx_hash)["gas"]
    used = community.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"]
    estimate = oracle.submitter.last_gas[0] if getattr(oracle.submitter, "last_gas", None) else None
    print(f"\n{GATEWAY}-meter gateway batch: estimate {estimate}, limit {limit}, used {used} "
          f"({limit / used:.2f}x), {6_000_000 // limit} such transactions in a 6 M gas block")
    assert used <= limit <= used * 1.15
    assert len({row[0] for row in oracle.store.db.execute("SELECT tx FROM readings")}) == 2


def test_rule_that_fires_only_once_mined_still_fits(make_oracle, register, clock, community, admin):
    """The buyer's reading is estimated while its seller has no stock (the rule finds no seller); a
    seller reading ordered before it in the same block gives the stock, so once mined it buys."""
    ex, w3, rpc = community.exchange, community.w3, community.w3.provider.make_request
    t = trade(admin, stock_wh=0)
    plain = [register() for _ in range(3)]
    oracle = gateway_oracle(make_oracle, clock, plain + [t.buyer.meter_id])
    admin.operator.transact(ex.functions.setMeterOracle(t.buyer.meter_id, oracle.transactor.address))
    oracle.drivers[t.buyer.meter_id] = ScriptedMeter(clock, [Sample(clock.now() + 10, 0.0, 500.0,
                                                                    THRESHOLD_PERMILLE - 50)])
    clock.advance(10)
    oracle.sample_once()
    sent = w3.eth.get_transaction_count(oracle.transactor.address)
    rpc("evm_setAutomine", [False])
    try:
        flushing = threading.Thread(target=oracle.flush, kwargs={"force": True})
        flushing.start()
        deadline = time.monotonic() + 10
        while w3.eth.get_transaction_count(oracle.transactor.address, "pending") == sent:
            assert time.monotonic() < deadline, "the oracle sent nothing"
            time.sleep(0.02)
        # the seller's oracle reports stock, tipping more: first in the block
        seller = t.seller
        seller.seq += 1
        seller.timestamp = max(seller.timestamp, w3.eth.get_block("latest")["timestamp"]) + 1
        reading = pack_reading(seller.meter_id, seller.seq, seller.timestamp, 10_000, 0, 900)
        fees = {"maxFeePerGas": 100 * 10**9, "maxPriorityFeePerGas": 50 * 10**9}
        tx = ex.functions.submitReadings([reading]).build_transaction({
            "from": seller.oracle.address, "nonce": w3.eth.get_transaction_count(seller.oracle.address),
            "gas": 500_000, "chainId": w3.eth.chain_id, **fees})
        seller_tx = w3.eth.send_raw_transaction(seller.oracle.sign_transaction(tx).raw_transaction)
        rpc("evm_mine", [])
        flushing.join(timeout=20)
    finally:
        rpc("evm_setAutomine", [True])
    assert w3.eth.get_transaction_receipt(seller_tx)["status"] == 1
    receipt = w3.eth.get_transaction_receipt(last_tx(oracle))
    estimate, limit = oracle.submitter.last_gas
    print(f"\nbuyer's rule fires once mined: estimate {estimate}, limit {limit}, used {receipt['gasUsed']}")
    assert receipt["status"] == 1
    assert receipt["transactionIndex"] == 1  # after the seller's reading
    assert ex.events.BuyEnergy().process_receipt(receipt, errors=DISCARD)  # it bought
    assert receipt["gasUsed"] > estimate + TRIGGER_HEADROOM // 2  # on a path the estimate did not take
    assert limit < estimate * 1.1 + 2 * TRIGGER_HEADROOM  # headroom for the buyer only, not the plain meters
    assert [r[0] for r in chain_readings(community, t.buyer.meter_id)] == [1]
