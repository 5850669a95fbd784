"""A real reorganisation on the 3-validator Clique network (period 1 s): one validator is cut off
(admin_removePeer on every side: the nodes peer only through their static lists), seals a block of
its own with an oracle's readings and a member's purchase in it while the two others go on, then
the partition heals and its block is orphaned by the longer chain.

The oracle talks to the cut-off node only: its readings reach the canonical chain exactly once. The
relay follows that node with `confirmations: 1`: it never acts on the orphaned block, switches once
when the purchase lands on the canonical chain, and back once when it settles."""
from __future__ import annotations

import threading

import pytest
import yaml
from eth_account import Account

from daisee.chain import PROSUMER
from daisee.config import ChainSettings
from oracle.clock import ManualClock
from oracle.service import Oracle
from oracle.settings import OracleSettings
from tests.oracle.conftest import ScriptedMeter, chain_readings, local_readings
from tests.relay.conftest import RelayThread, relay_settings, supply_of, transitions_of, wait_for
from tests.support import scenario
from tests.support.anvil import CommunityAdmin
from tests.support.geth import community, deploy, funded_account, partition, poa, wait_deployed

LONE = 2  # the validator cut off


@pytest.fixture(scope="module")
def deployment(poa_network, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reorg")
    out = deploy(poa_network.nodes[0].url, folder / "daisee-poa.json", folder / "ape")
    wait_deployed(poa_network, out)
    return out


@pytest.fixture
def lone_admin(poa_network, deployment, monkeypatch):
    """The operator's set-up through the node about to be cut off (it has every block so far)."""
    monkeypatch.setattr(scenario, "funded_account", funded_account)  # no anvil_setBalance on geth
    return CommunityAdmin(community(poa_network.nodes[LONE].url, deployment))


def gateway_oracle(admin: CommunityAdmin, chain: ChainSettings, folder, meters: int) -> Oracle:
    """An oracle with its own key reading `meters` new meters, talking to `chain`'s node only."""
    key = funded_account(admin, tokens=0)
    ids = [admin.register(Account.create(), PROSUMER, key) for _ in range(meters)]
    c = admin.community
    config = folder / "oracle.yaml"
    config.write_text(yaml.safe_dump({
        # the receipt wait (request_timeout) spans the lone node's sealing once its miner restarts
        "chain": {**chain.model_dump(mode="json"), "request_timeout": 30},
        "account": "unused-key-given-directly", "database": str(folder / "oracle.db"),
        "meters": [{"meter_id": m, "driver": {"kind": "simulated"}} for m in ids],
        "batch": {"max_readings": 10, "max_seconds": 0},
        "retry": {"initial_s": 0.05, "max_s": 0.2},
    }))
    clock = ManualClock(c.w3.eth.get_block("latest")["timestamp"] - 200)
    return Oracle(OracleSettings.load(config), clock=clock, community=c, account=key,
                  drivers={m: ScriptedMeter(clock) for m in ids})


def sample(oracle: Oracle, rounds: int) -> None:
    for _ in range(rounds):
        oracle.clock.advance(10)
        oracle.sample_once()


def test_readings_and_a_purchase_in_an_orphaned_block_land_once_and_switch_once(poa_network, deployment,
                                                                                 lone_admin, tmp_path):
    lone = poa_network.nodes[LONE]
    chain = ChainSettings(rpc_url=lone.url, deployment=deployment, confirmations=1)
    oracle = gateway_oracle(lone_admin, chain, tmp_path, meters=3)
    t = scenario.trade(lone_admin)
    (tmp_path / "relay").mkdir()
    relay = RelayThread(relay_settings(tmp_path / "relay", chain, [t]))
    buyer = t.buyer.address
    try:
        sample(oracle, 2)
        assert oracle.drain(timeout=60)  # two readings per meter on the common chain first

        with partition(poa_network, LONE) as cut:
            sample(oracle, 3)
            # sent to the lone node, whose miner is stopped: both wait for their receipts
            sending = [threading.Thread(target=oracle.flush, args=(True,)), threading.Thread(target=t.buy)]
            for thread in sending:
                thread.start()
            wait_for(lambda: int(poa.rpc(lone.url, "txpool_status")["pending"], 16) >= 2, timeout=30,
                     what="the oracle's batch and the purchase in the lone node's pool")
            orphan = cut.seal_alone()  # one block of its own, holding both
            for thread in sending:
                thread.join(timeout=60)
            assert oracle.store.pending_count() == 0
            marked = {row[0] for row in oracle.store.db.execute("SELECT DISTINCT block FROM readings WHERE sent>0")}
            assert orphan["number"] in marked  # the oracle marked them sent in the block about to vanish
            assert supply_of(relay.config, buyer)["source"] == "own"  # confirmations: not acted on
            cut.majority_ahead(3)
        # healed: the lone node took the majority's chain, its block is gone
        common = poa_network.nodes[0]
        canonical = poa.rpc(common.url, "eth_getBlockByNumber", [hex(orphan["number"]), False])
        assert canonical["hash"] != orphan["hash"]
        wait_for(lambda: poa.rpc(lone.url, "eth_getBlockByNumber", [hex(orphan["number"]), False])["hash"]
                 == canonical["hash"], timeout=60, what="the lone node on the canonical chain")

        sample(oracle, 2)
        assert oracle.drain(timeout=120)
        wait_for(lambda: supply_of(relay.config, buyer)["source"] == "seller", timeout=60,
                 what="the purchase, re-mined on the canonical chain, switching the buyer")
        t.deliver()
        wait_for(lambda: supply_of(relay.config, buyer)["source"] == "own", timeout=60, what="switch back")
        local = {m: local_readings(oracle, m) for m in oracle.meters}
    finally:
        relay.close()
        oracle.close()

    on_chain = community(common.url, deployment)
    for meter_id, recorded in local.items():
        readings = chain_readings(on_chain, meter_id)
        assert [r[0] for r in readings] == list(range(1, 8)), f"meter {meter_id}: seqs {[r[0] for r in readings]}"
        assert readings == recorded
    assert [s["source"] for s in transitions_of(relay.config, buyer)] == ["own", "seller", "own"]
    bought = on_chain.exchange.events.BuyEnergy().get_logs(from_block=0)
    assert len([e for e in bought if e["args"]["buyer"] == buyer]) == 1
