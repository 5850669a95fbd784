"""Members' balances in the exchange: deposits (allowance or relayed permit), withdrawals, fees."""
import ape

from daisee.chain import CONSUMER
from tests.contracts.conftest import BUDGET, DELTA, TOKEN


def test_deposit_credits_a_member_from_the_callers_wallet(exchange, token, register, buyer, admin):
    register(buyer, CONSUMER)
    token.mint(admin, TOKEN, sender=admin)
    token.approve(exchange, TOKEN, sender=admin)
    tx = exchange.deposit(buyer, TOKEN, sender=admin)  # anyone may top a member up
    event = tx.events.filter(exchange.Deposited)[0]
    assert (event.member, event["from"], event.amount) == (buyer, admin, TOKEN)
    assert exchange.balanceOf(buyer) == TOKEN and token.balanceOf(exchange) == TOKEN


def test_deposit_needs_a_member_and_an_amount(exchange, buyer_meter, buyer, stranger):
    with ape.reverts(exchange.NotAMember, account=stranger):
        exchange.deposit(stranger, 1, sender=buyer)
    with ape.reverts(exchange.ZeroAmount):
        exchange.deposit(buyer, 0, sender=buyer)


def test_withdraw_sends_the_balance(exchange, token, buyer_meter, buyer, stranger):
    tx = exchange.withdraw(stranger, BUDGET, sender=buyer)
    assert (tx.events.filter(exchange.Withdrawn)[0].to, tx.events.filter(exchange.Withdrawn)[0].amount) == (
        stranger, BUDGET)
    assert exchange.balanceOf(buyer) == 0 and token.balanceOf(stranger) == BUDGET


def test_withdraw_is_bounded_by_the_balance(exchange, buyer_meter, buyer):
    with ape.reverts(exchange.InsufficientBalance, balance=BUDGET, needed=BUDGET + 1):
        exchange.withdraw(buyer, BUDGET + 1, sender=buyer)
    with ape.reverts(exchange.ZeroAddress):
        exchange.withdraw(ape.utils.ZERO_ADDRESS, 1, sender=buyer)


def test_a_deactivated_member_can_still_withdraw(exchange, operator, buyer_meter, buyer):
    exchange.deactivateMeter(buyer_meter, sender=operator)
    exchange.withdraw(buyer, BUDGET, sender=buyer)
    assert exchange.balanceOf(buyer) == 0


def test_deposit_with_a_relayed_permit(exchange, token, register, admin, buyer, stranger, sign_permit, clock):
    register(buyer, CONSUMER)
    token.mint(buyer, TOKEN, sender=admin)
    deadline = clock.now() + 3600
    v, r, s = sign_permit(buyer, exchange, TOKEN, deadline)
    exchange.depositWithPermit(buyer, TOKEN, deadline, v, r, s, sender=stranger)  # relayed by anyone
    assert exchange.balanceOf(buyer) == TOKEN and token.balanceOf(buyer) == 0


def test_deposit_with_a_bad_permit_reverts(exchange, token, register, admin, buyer, stranger, sign_permit, clock):
    register(buyer, CONSUMER)
    token.mint(buyer, TOKEN, sender=admin)
    deadline = clock.now() + 3600
    v, r, s = sign_permit(stranger, exchange, TOKEN, deadline)  # signed by someone else
    with ape.reverts(exchange.PermitRejected, owner=buyer.address, allowance=0, value=TOKEN):
        exchange.depositWithPermit(buyer, TOKEN, deadline, v, r, s, sender=stranger)


def test_a_front_run_permit_still_deposits(exchange, token, register, admin, buyer, stranger, sign_permit, clock):
    register(buyer, CONSUMER)
    token.mint(buyer, TOKEN, sender=admin)
    deadline = clock.now() + 3600
    v, r, s = sign_permit(buyer, exchange, TOKEN, deadline)
    token.permit(buyer, exchange, TOKEN, deadline, v, r, s, sender=stranger)  # used first by someone
    exchange.depositWithPermit(buyer, TOKEN, deadline, v, r, s, sender=stranger)
    assert exchange.balanceOf(buyer) == TOKEN


def test_fees_go_to_the_recipient_on_request(exchange, token, trigger, deliver, fee_recipient, stranger):
    trigger()
    deliver(DELTA)
    fees = exchange.feesAccrued()
    assert fees > 0
    exchange.withdrawFees(sender=stranger)
    assert token.balanceOf(fee_recipient) == fees and exchange.feesAccrued() == 0
    with ape.reverts(exchange.ZeroAmount):
        exchange.withdrawFees(sender=stranger)
