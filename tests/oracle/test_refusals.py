"""Batches the contract refuses: no bad reading or meter stops the rest of a gateway, nothing loops,
nothing queued is lost. Reverts the oracle cannot decode come from a real contract of our own
(contracts/FaultyGateway.sol) standing between the oracle and the real exchange."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from eth_account import Account

from daisee.chain import PROSUMER, Community, Deployment
from oracle.service import Oracle
from tests.oracle.conftest import ScriptedMeter, chain_readings, gateway_oracle, local_readings, sample_and_flush
from tests.support.scenario import funded_account
from tests.support.solc import compile_contract

ROUNDS = 6


@pytest.fixture
def faulty(admin, gateway, chain_settings, tmp_path):
    """A gateway of 7 meters behind FaultyGateway: 3 good ones, then the panicking, silent,
    mysterious and lying ones. Returns (chain settings pointing at it, good meters, bad meters)."""
    community = admin.community
    ids = [community.exchange.functions.meterCount().call() + k for k in range(1, 8)]
    good, bad = ids[:3], ids[3:]
    abi, bytecode = compile_contract(Path(__file__).parent / "contracts" / "FaultyGateway.sol", "FaultyGateway")
    receipt = admin.operator.transact(community.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(
        community.exchange.address, *bad))
    proxy = receipt["contractAddress"]
    for expected in ids:  # registered with the proxy as their oracle: it is the exchange's msg.sender
        assert admin.register(Account.create(), PROSUMER, SimpleNamespace(address=proxy)) == expected
    deployment = Deployment.load(chain_settings.deployment).model_copy(update={"exchange": proxy})
    deployment.save(tmp_path / "faulty.json")
    return chain_settings.model_copy(update={"deployment": tmp_path / "faulty.json"}), good, bad


def test_reverts_the_oracle_cannot_decode_are_isolated_and_quarantined(faulty, settings_for, clock, gateway,
                                                                        community):
    chain, good, bad = faulty
    settings = settings_for(*(good + bad), chain=chain.model_dump(mode="json"),
                            batch={"max_readings": 64, "max_seconds": 0})
    oracle = Oracle(settings, clock=clock, community=Community.open(chain), account=gateway,
                    drivers={m: ScriptedMeter(clock) for m in good + bad})
    try:
        flush_s = []
        for round_ in range(1, ROUNDS + 1):
            clock.advance(10)
            oracle.sample_once()
            started = time.monotonic()
            assert oracle.flush(force=True) == len(good)
            flush_s.append(time.monotonic() - started)
            for m in good:  # landed in this very flush, every round
                assert [r[0] for r in chain_readings(community, m)] == list(range(1, round_ + 1))
        assert oracle.store.pending_count() == 0
        assert oracle.submitter.last_error is None
        reasons = {m: oracle.store.quarantined_readings(m) for m in bad}
        assert all([seq for seq, _, _ in reasons[m]] == list(range(1, ROUNDS + 1)) for m in bad)
        panic, silent, mystery, lying = (reasons[m][0] for m in bad)
        assert "Panic(0x12)" in panic[1] and panic[2].endswith("12")
        assert "revert without data" in silent[1] and silent[2] == "0x"
        mystery_selector = community.w3.keccak(text="Mystery(uint256)")[:4].hex()
        assert f"unknown error selector 0x{mystery_selector}" in mystery[1]
        assert "SeqNotIncreasing" in lying[1] and "chain's seq is 0" in lying[1]
        assert all(chain_readings(community, m) == [] for m in bad)

        # the same gateway without its bad meters: what the bad ones cost each batch
        clean = [m for m in oracle.meters if m in good]
        oracle.meters = {m: oracle.meters[m] for m in clean}
        clean_s = []
        for _ in range(ROUNDS):
            clock.advance(10)
            oracle.sample_once()
            started = time.monotonic()
            assert oracle.flush(force=True) == len(good)
            clean_s.append(time.monotonic() - started)
        print(f"\nflush of a batch with {len(bad)} bad meters: {sum(flush_s) / ROUNDS:.3f} s, "
              f"without: {sum(clean_s) / ROUNDS:.3f} s")
        assert max(flush_s) < 5.0
    finally:
        oracle.close()


def set_reading(oracle, meter_id: int, at_seq: int, **values) -> None:
    """Give a queued reading values the oracle's validation would not have let through."""
    assignments = ", ".join(f"{k}=?" for k in values)
    oracle.store.db.execute(f"UPDATE readings SET {assignments} WHERE meter_id=? AND seq=?",
                            (*values.values(), meter_id, at_seq))


def queue(oracle, clock, rounds: int) -> None:
    for _ in range(rounds):
        clock.advance(10)
        oracle.sample_once()


def test_refused_readings_are_quarantined_or_stop_only_their_meter(make_oracle, register, clock, community):
    soc, counter, step, fine = (register() for _ in range(4))
    oracle = gateway_oracle(make_oracle, clock, [soc, counter, step, fine])
    queue(oracle, clock, 3)
    set_reading(oracle, soc, 2, soc_permille=1500)  # SocOutOfRange: that reading only
    set_reading(oracle, counter, 2, produced_wh=2**48)  # does not fit the word: never sent
    set_reading(oracle, step, 2, seq=2 + 70_000)  # SeqStepTooLarge: the meter's state is off, it stops
    assert oracle.drain(timeout=30)
    assert [r[0] for r in chain_readings(community, fine)] == [1, 2, 3]
    for m in (soc, counter):
        assert [r[0] for r in chain_readings(community, m)] == [1, 3]  # the gap is valid, the rest lands
        assert chain_readings(community, m) == local_readings(oracle, m)
    assert "SocOutOfRange" in oracle.store.quarantined_readings(soc)[0][1]
    assert oracle.store.quarantined_readings(soc)[0][2].startswith("0x")
    assert "producedWh" in oracle.store.quarantined_readings(counter)[0][1]
    assert oracle.store.quarantined_readings(counter)[0][2] is None  # never sent
    status = {m["meter_id"]: m for m in oracle.store.meter_status()}
    assert "SeqStepTooLarge" in status[step]["stopped"]
    assert status[step]["queue_depth"] == 3  # kept, waiting for the operator
    assert chain_readings(community, step) == []


def test_key_that_is_no_gateway_stops_everything_with_a_clear_message(settings_for, register, clock, community,
                                                                       admin):
    meters = [register(), register()]
    stranger = funded_account(admin, tokens=0)
    oracle = Oracle(settings_for(*meters), clock=clock, community=community, account=stranger,
                    drivers={m: ScriptedMeter(clock) for m in meters})
    try:
        queue(oracle, clock, 2)
        assert oracle.flush(force=True) == 0
        status = oracle.store.meter_status()
        assert all("NotAGateway" in m["stopped"] and stranger.address in m["stopped"] for m in status)
        assert "no gateway" in oracle.submitter.last_error
        assert oracle.flush(force=True) == 0 and not oracle.submitter.due(force=True)  # no retry loop
        unsent = oracle.store.db.execute("SELECT count(*) FROM readings WHERE sent=0").fetchone()[0]
        assert unsent == 4  # nothing lost
    finally:
        oracle.close()


def test_paused_exchange_is_waited_out_quietly(make_oracle, meter_id, clock, community, admin, caplog):
    oracle = make_oracle(meter_id)
    pauser = admin.operator
    pauser.transact(community.exchange.functions.pause())
    try:
        with caplog.at_level(logging.WARNING, logger="oracle.submitter"):
            for _ in range(6):
                queue(oracle, clock, 1)
                clock.advance(oracle.submitter.backoff.delay)
                assert oracle.flush(force=True) == 0
        assert oracle.submitter.last_error == "exchange paused"
        assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    finally:
        pauser.transact(community.exchange.functions.unpause())
    assert oracle.drain(timeout=30)
    assert [r[0] for r in chain_readings(community, meter_id)] == list(range(1, 7))


def test_batch_size_is_capped_at_the_contracts_max_batch(make_oracle, register, clock, community):
    meters = [register() for _ in range(10)]
    oracle = gateway_oracle(make_oracle, clock, meters, batch={"max_readings": 100, "max_seconds": 0})
    sample_and_flush(oracle, clock, 7)  # 70 readings
    txs = [row[0] for row in oracle.store.db.execute("SELECT tx FROM readings")]
    assert sorted(txs.count(tx) for tx in set(txs)) == [6, 64]
    assert all(chain_readings(community, m) == local_readings(oracle, m) for m in meters)


def test_readings_that_landed_unseen_are_reconciled_not_refused(make_oracle, meter_id, clock, community):
    """SeqNotIncreasing from the real exchange: the chain's seq is checked, the rows marked sent."""
    oracle = make_oracle(meter_id)
    sample_and_flush(oracle, clock, 3)
    oracle.store.db.execute("UPDATE readings SET sent=0, block=NULL")  # as if no receipt was ever seen
    oracle.submitter.needs_reconcile = False  # ... nor reconciled: the send itself finds out
    queue(oracle, clock, 1)
    assert oracle.drain(timeout=30)
    assert [r[0] for r in chain_readings(community, meter_id)] == [1, 2, 3, 4]
    assert oracle.store.quarantined_readings(meter_id) == []
    assert oracle.submitter.last_error is None
