from tests.support.anvil import dev_account


def test_deployed_contracts_answer_over_json_rpc(community):
    ex = community.exchange
    assert ex.functions.token().call() == community.token.address
    operator_role = ex.functions.OPERATOR_ROLE().call()
    assert ex.functions.hasRole(operator_role, dev_account(0).address).call()


def test_anvil_restart_keeps_deployment(anvil, community):
    before = community.w3.eth.block_number
    anvil.restart()
    assert community.w3.eth.get_code(community.exchange.address)
    assert community.w3.eth.block_number >= before


def test_scenario_buys_and_settles_over_json_rpc(admin):
    from tests.support.scenario import DELTA_WH, SELLER_CHANNEL, trade

    t = trade(admin)
    bought = t.events(t.buy(), "BuyEnergy")
    assert len(bought) == 1
    assert (bought[0]["buyer"], bought[0]["seller"]) == (t.buyer.address, t.seller.address)
    assert (bought[0]["wh"], bought[0]["channel"]) == (DELTA_WH, SELLER_CHANNEL)
    settled = t.events(t.deliver(), "PurchaseSettled")
    assert settled[0]["purchaseId"] == bought[0]["purchaseId"]
    assert settled[0]["deliveredWh"] == DELTA_WH and settled[0]["refunded"] == 0
