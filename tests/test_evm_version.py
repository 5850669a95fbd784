"""The contracts deploy and trade on a chain without Shanghai (PUSH0) or Cancun (MCOPY, TSTORE), as
the seed's and many private proof-of-authority networks are: ape-config.yaml's `evm_version`."""
from web3 import Web3

from daisee.chain import Community
from tests.support.anvil import AnvilNode, CommunityAdmin
from tests.support.scenario import DELTA_WH, trade


def test_contracts_deploy_and_settle_a_trade_on_a_paris_chain(tmp_path):
    node = AnvilNode(tmp_path / "anvil", hardfork="paris").start()
    try:
        community = Community.open(node.settings(node.deploy(tmp_path / "local.json")))
        t = trade(CommunityAdmin(community))
        assert t.events(t.buy(), "BuyEnergy")
        (settled,) = t.events(t.deliver(DELTA_WH), "PurchaseSettled")
        assert settled["deliveredWh"] == DELTA_WH
    finally:
        node.stop(hard=True)


def test_a_shanghai_build_would_not_deploy_there(tmp_path):
    """The control: the same node refuses PUSH0 (0x5f), so the test above can fail."""
    node = AnvilNode(tmp_path / "anvil", hardfork="paris").start()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url))
        # PUSH0 PUSH0 RETURN as init code: valid from Shanghai on, an invalid opcode on paris
        tx = {"from": w3.eth.accounts[0], "data": "0x5f5ff3", "gas": 100_000}
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
        assert receipt["status"] == 0
    finally:
        node.stop(hard=True)
