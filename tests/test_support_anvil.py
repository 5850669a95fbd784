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
