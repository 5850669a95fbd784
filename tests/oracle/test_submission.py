"""Submission to a real anvil: readings land once, batches respect the size, errors are classified."""
from __future__ import annotations

from daisee.chain import Community
from oracle.drivers import Sample
from tests.oracle.conftest import chain_readings, local_readings, sample_and_flush


def test_readings_land_on_chain_as_recorded(make_oracle, meter_id, clock, community):
    oracle = make_oracle(meter_id)
    sample_and_flush(oracle, clock, 25)
    assert chain_readings(community, meter_id) == local_readings(oracle, meter_id)
    assert [r[0] for r in chain_readings(community, meter_id)] == list(range(1, 26))


def test_batches_hold_at_most_max_readings(make_oracle, meter_id, clock, community):
    oracle = make_oracle(meter_id, batch={"max_readings": 4, "max_seconds": 0})
    sample_and_flush(oracle, clock, 10)
    txs = {row[0] for row in oracle.store.db.execute("SELECT tx FROM readings WHERE meter_id=?", (meter_id,))}
    assert len(txs) == 3  # 4 + 4 + 2


def test_batch_waits_for_max_readings_or_max_seconds(make_oracle, meter_id, clock):
    oracle = make_oracle(meter_id, batch={"max_readings": 5, "max_seconds": 30})
    for _ in range(3):
        clock.advance(1)
        oracle.sample_once()
    assert oracle.flush() == 0
    clock.advance(30)
    assert oracle.flush() == 3


def test_gateway_batches_several_meters_together(make_oracle, register, settings_for, clock, community):
    first, second = register(), register()
    oracle = make_oracle(first, meters=[{"meter_id": m} for m in (first, second)])
    oracle.drivers[second] = oracle.drivers[first]
    sample_and_flush(oracle, clock, 3)
    txs = {row[0] for row in oracle.store.db.execute("SELECT tx FROM readings")}
    assert len(txs) == 1
    assert [r[0] for r in chain_readings(community, second)] == [1, 2, 3]


def test_readings_already_on_chain_are_not_sent_again(make_oracle, meter_id, clock, community):
    oracle = make_oracle(meter_id)
    sample_and_flush(oracle, clock, 5)
    oracle.store.db.execute("UPDATE readings SET sent=0")  # as if the receipt was never seen
    oracle.submitter.needs_reconcile = True
    sent_before = community.w3.eth.get_transaction_count(oracle.transactor.address)
    clock.advance(10)
    oracle.sample_once()
    assert oracle.drain(timeout=60)
    assert [r[0] for r in chain_readings(community, meter_id)] == [1, 2, 3, 4, 5, 6]
    # reconciled before sending: one transaction for seq 6, not a refused resend of 1..5 first
    assert community.w3.eth.get_transaction_count(oracle.transactor.address) == sent_before + 1


def test_unregistered_meter_is_stopped_with_its_error(make_oracle, meter_id, admin, clock):
    oracle = make_oracle(meter_id)
    admin.operator.transact(admin.community.exchange.functions.deactivateMeter(meter_id))
    clock.advance(10)
    oracle.sample_once()
    assert oracle.flush(force=True) == 0
    status = oracle.store.meter_status()[0]
    assert "UnknownMeter" in status["stopped"]
    assert oracle.store.pending_count() == 0  # a stopped meter is not retried in a loop


def test_wrong_oracle_key_stops_the_meter(make_oracle, admin, clock):
    from eth_account import Account

    foreign = admin.register(Account.create(), 3, Account.create())
    oracle = make_oracle(foreign)
    clock.advance(10)
    oracle.sample_once()
    oracle.flush(force=True)
    assert "WrongOracle" in oracle.store.meter_status()[0]["stopped"]


def test_unreachable_node_is_retried_with_backoff(make_oracle, meter_id, clock, settings_for):
    oracle = make_oracle(meter_id)
    clock.advance(10)
    oracle.sample_once()
    dead = Community.open(settings_for(meter_id).chain.model_copy(update={"rpc_url": "http://127.0.0.1:9"}))
    oracle.submitter.community = dead
    oracle.transactor.w3 = dead.w3
    assert oracle.flush(force=True) == 0
    assert oracle.submitter.last_error and oracle.submitter.backoff.not_before > clock.now()
    assert oracle.store.pending_count() == 1


def test_rejected_sample_is_quarantined_not_queued(make_oracle, meter_id, clock):
    oracle = make_oracle(meter_id, samples=[Sample(clock.now(), float("nan"), 10.0, 500)])
    assert "not a finite number" in oracle.sample_once()[meter_id]
    assert oracle.store.pending_count() == 0
    assert "not a finite number" in oracle.store.quarantined(meter_id)[0][1]
