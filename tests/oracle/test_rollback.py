"""Chain rollbacks: blocks holding readings the oracle had marked sent vanish, by a node killed
with kill -9 and restarted from an older state dump, or by a short reorg within
`chain.confirmations`. Every reading must still end on chain exactly once."""
from __future__ import annotations

import pytest
from eth_account import Account

from daisee.chain import Community
from tests.oracle.conftest import chain_readings, gateway_oracle, local_readings, sample_and_flush
from tests.support.anvil import CommunityAdmin
from tests.support.scenario import funded_account


@pytest.fixture(scope="module")
def chain_settings(own_node):
    anvil, deployment = own_node
    return anvil.settings(deployment)


@pytest.fixture(scope="module")
def gateway(chain_settings):
    """This anvil's gateway key (handed to the oracles directly, no keyfile)."""
    return funded_account(CommunityAdmin(Community.open(chain_settings)), tokens=0)


def exactly_once(community, oracle, meter_ids) -> tuple[int, int, int]:
    """(readings recorded locally, of them missing on chain, readings on chain twice)."""
    local = {m: local_readings(oracle, m) for m in meter_ids}
    chain = {m: chain_readings(community, m) for m in meter_ids}
    lost = sum(len(set(local[m]) - set(chain[m])) for m in meter_ids)
    doubled = sum(len(chain[m]) - len(set(chain[m])) for m in meter_ids)
    total = sum(map(len, local.values()))
    print(f"\n{lost} of {total} readings lost, {doubled} on chain twice")
    return total, lost, doubled


def test_node_killed_and_restarted_from_an_older_dump_loses_nothing(own_node, make_oracle, register, clock,
                                                                     community):
    anvil, _ = own_node
    meters = [register() for _ in range(3)]
    oracle = gateway_oracle(make_oracle, clock, meters, batch={"max_readings": 4, "max_seconds": 0})
    sample_and_flush(oracle, clock, 4)
    anvil.snapshot()
    sample_and_flush(oracle, clock, 5)  # marked sent: their blocks are about to vanish
    anvil.stop(hard=True)
    anvil.start()
    sample_and_flush(oracle, clock, 3)
    total, lost, doubled = exactly_once(community, oracle, meters)
    assert (lost, doubled) == (0, 0), f"{lost} of {total} readings lost, {doubled} twice on chain"
    for m in meters:
        assert [r[0] for r in chain_readings(community, m)] == list(range(1, 13))
        assert chain_readings(community, m) == local_readings(oracle, m)
    # the undone sends are kept for diagnosis
    undone = oracle.store.db.execute("SELECT count(*) FROM readings WHERE history IS NOT NULL").fetchone()[0]
    assert undone == 5 * len(meters)


def test_rollback_while_the_oracle_is_down_is_found_at_start(own_node, make_oracle, register, clock, community):
    anvil, _ = own_node
    meters = [register() for _ in range(2)]
    oracle = gateway_oracle(make_oracle, clock, meters)
    sample_and_flush(oracle, clock, 3)
    anvil.snapshot()
    sample_and_flush(oracle, clock, 4)
    oracle.close()
    anvil.stop(hard=True)
    anvil.start()
    restarted = gateway_oracle(make_oracle, clock, meters)  # same database
    sample_and_flush(restarted, clock, 2)
    total, lost, doubled = exactly_once(community, restarted, meters)
    assert (total, lost, doubled) == (9 * len(meters), 0, 0), f"{lost} of {total} readings lost, {doubled} twice"


def test_rows_are_final_only_when_confirmed_and_a_short_reorg_resends_them(make_oracle, register, clock,
                                                                          community, chain_settings):
    rpc = community.w3.provider.make_request
    meters = [register() for _ in range(2)]
    chain = {**chain_settings.model_dump(mode="json"), "confirmations": 3}
    oracle = gateway_oracle(make_oracle, clock, meters, chain=chain)
    sample_and_flush(oracle, clock, 2)

    def unconfirmed() -> int:
        oracle.submitter.check_chain()
        return sum(m["unconfirmed"] for m in oracle.store.meter_status())

    assert unconfirmed() == 4
    rpc("evm_mine", [])
    rpc("evm_mine", [])
    assert unconfirmed() == 4  # 2 blocks deep
    # a PoA reorg: the last 3 blocks, our readings' among them, replaced by others
    rpc("anvil_rollback", [3])
    for _ in range(3):
        rpc("evm_mine", [])
    assert [r[0] for r in chain_readings(community, meters[0])] == []
    sample_and_flush(oracle, clock, 1)
    assert unconfirmed() == 6
    total, lost, doubled = exactly_once(community, oracle, meters)
    assert (total, lost, doubled) == (6, 0, 0)
    for _ in range(3):
        rpc("evm_mine", [])
    assert unconfirmed() == 0


def test_registering_a_foreign_meter_does_not_count_as_a_rollback(make_oracle, register, clock, community, admin):
    """Other transactions moving the head on are no rollback: nothing is queued again."""
    meters = [register()]
    oracle = gateway_oracle(make_oracle, clock, meters)
    sample_and_flush(oracle, clock, 2)
    admin.register(Account.create(), 3, Account.create())
    oracle.submitter.check_chain()
    assert not oracle.submitter.needs_reconcile
    assert oracle.store.pending_count() == 0
