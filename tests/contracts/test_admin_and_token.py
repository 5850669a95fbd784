import ape

from tests.contracts.conftest import TOKEN


def test_admin_sets_the_fee(exchange, admin, stranger):
    tx = exchange.setFee(250, stranger, sender=admin)
    assert (tx.events[0].feeBps, tx.events[0].feeRecipient) == (250, stranger)
    assert (exchange.feeBps(), exchange.feeRecipient()) == (250, stranger)


def test_fee_is_capped(exchange, admin, stranger):
    cap = exchange.MAX_FEE_BPS()
    with ape.reverts(exchange.FeeTooHigh, feeBps=cap + 1, maxFeeBps=cap):
        exchange.setFee(cap + 1, stranger, sender=admin)


def test_fee_needs_a_recipient_and_the_admin(exchange, admin, operator, stranger):
    with ape.reverts(exchange.ZeroAddress):
        exchange.setFee(10, ape.utils.ZERO_ADDRESS, sender=admin)
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.setFee(10, stranger, sender=operator)


def test_admin_sets_timing(exchange, admin):
    tx = exchange.setTiming(600, 60, 900, sender=admin)
    assert (tx.events[0].purchaseTtl, tx.events[0].maxClockSkew, tx.events[0].settleGrace) == (600, 60, 900)
    assert (exchange.purchaseTtl(), exchange.maxClockSkew(), exchange.settleGrace()) == (600, 60, 900)


def test_timing_is_validated_and_admin_only(exchange, admin, operator):
    day = 86_400
    for ttl, skew, grace in [(0, 60, 0), (299, 60, 0), (day + 1, 60, 0), (600, day + 1, 0), (600, 60, day + 1)]:
        with ape.reverts(exchange.InvalidTiming):
            exchange.setTiming(ttl, skew, grace, sender=admin)
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.setTiming(600, 60, 0, sender=operator)


def test_unpause_is_admin_only(exchange, admin, operator):
    exchange.pause(sender=admin)
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.unpause(sender=operator)


def test_constructor_rejects_bad_arguments(project, admin, token):
    with ape.reverts(project.EnergyExchange.ZeroAddress):
        admin.deploy(project.EnergyExchange, ape.utils.ZERO_ADDRESS, admin, 0, admin, 0)
    with ape.reverts(project.EnergyExchange.FeeTooHigh):
        admin.deploy(project.EnergyExchange, token, admin, 0, admin, 1_001)


def test_exchange_reports_its_token(exchange, token):
    assert exchange.token() == token


def test_treasury_mints(token, admin, buyer):
    token.mint(buyer, 5 * TOKEN, sender=admin)
    assert token.balanceOf(buyer) == 5 * TOKEN and token.totalSupply() == 5 * TOKEN


def test_only_the_minter_mints(token, stranger):
    with ape.reverts(token.AccessControlUnauthorizedAccount):
        token.mint(stranger, 1, sender=stranger)


def test_permit_sets_an_allowance_without_a_transaction_by_the_owner(token, buyer, stranger, sign_permit, clock):
    deadline = clock.now() + 600
    v, r, s = sign_permit(buyer, stranger, 123, deadline)
    token.permit(buyer, stranger, 123, deadline, v, r, s, sender=stranger)
    assert token.allowance(buyer, stranger) == 123 and token.nonces(buyer) == 1


def test_expired_permit_reverts(token, buyer, stranger, sign_permit, clock):
    deadline = clock.now() - 1
    v, r, s = sign_permit(buyer, stranger, 123, deadline)
    with ape.reverts(token.ERC2612ExpiredSignature):
        token.permit(buyer, stranger, 123, deadline, v, r, s, sender=stranger)
