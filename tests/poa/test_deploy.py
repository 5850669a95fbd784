"""The contracts on a real proof-of-authority network (geth Clique, 3 validators, 1 s period):
deployed by the project's own `ape run deploy`, then a purchase bought and settled through another
validator's node, every validator agreeing on the outcome."""
import subprocess
import time

import pytest

from tests.support import scenario
from tests.support.anvil import CommunityAdmin
from tests.support.geth import community, deploy, funded_account, poa, wait_deployed


def test_deploy_then_a_purchase_settles_on_three_validators(poa_network, tmp_path, monkeypatch):
    node0, node1, _ = poa_network.nodes
    t0 = time.monotonic()
    out = deploy(node0.url, tmp_path / "daisee-poa.json", tmp_path / "ape")
    wait_deployed(poa_network, out)  # node1 may be a block behind node0
    t1 = time.monotonic()
    admin = CommunityAdmin(community(node1.url, out))  # deployed through node0, used through node1
    monkeypatch.setattr(scenario, "funded_account", funded_account)  # no anvil_setBalance here
    first = admin.community.w3.eth.block_number + 1
    t = scenario.trade(admin)
    t2 = time.monotonic()
    (bought,) = t.events(t.buy(), "BuyEnergy")
    settle = t.deliver()
    (settled,) = t.events(settle, "PurchaseSettled")
    t3 = time.monotonic()
    print(f"\ndeploy {t1 - t0:.1f} s; two members funded, registered, offer, rule, deposit {t2 - t1:.1f} s; "
          f"purchase and settlement {t3 - t2:.1f} s")
    assert settled["purchaseId"] == bought["purchaseId"]
    assert settled["deliveredWh"] == scenario.DELTA_WH and settled["refunded"] == 0

    # every node has the settlement in the same block, a few blocks deep (Clique may reorg its tip)
    tx, block = settle["transactionHash"].to_0x_hex(), settle["blockNumber"]
    poa_network.wait_block(block + 3, timeout=15)
    receipts = [poa.rpc(node.url, "eth_getTransactionReceipt", [tx]) for node in poa_network.nodes]
    assert {(r["status"], r["blockHash"]) for r in receipts} == {("0x1", receipts[0]["blockHash"])}
    # and the blocks of the trade were sealed by all three validators in turn
    signers = {poa.rpc(node0.url, "clique_getSigner", [hex(n)]) for n in range(first, block + 1)}
    assert {s.lower() for s in signers} == {v.lower() for v in poa_network.params.validators}


def test_ape_alone_cannot_read_a_clique_block(poa_network, tmp_path):
    """Why tools/ape-clique exists: when this fails, ape detects Clique itself and it can go."""
    try:
        deploy(poa_network.nodes[0].url, tmp_path / "daisee-poa.json", tmp_path / "ape", ape_fix=False)
    except subprocess.CalledProcessError as failed:
        assert "as field 'extraData'" in failed.output, failed.output[-3000:]
    else:
        pytest.fail("ape deployed on Clique without tools/ape-clique: remove it and its PYTHONPATH uses")
