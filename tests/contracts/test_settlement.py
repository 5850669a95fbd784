import ape
import pytest

from tests.contracts.conftest import DELTA, FEE_BPS, PRICE


@pytest.fixture
def purchase(trigger, exchange):
    return trigger().events.filter(exchange.BuyEnergy)[0]


def split(delivered):
    gross = DELTA * PRICE * delivered // DELTA
    fee = gross * FEE_BPS // 10_000
    return gross - fee, fee, DELTA * PRICE - gross


def balances(exchange, *members):
    return [exchange.balanceOf(m) for m in members]


def test_full_delivery_pays_seller_and_fee(exchange, token, purchase, deliver, seller, buyer):
    before = balances(exchange, seller, buyer) + [exchange.feesAccrued(), token.balanceOf(exchange)]
    tx = deliver(DELTA)
    event = tx.events.filter(exchange.PurchaseSettled)[0]
    paid, fee, refund = split(DELTA)
    assert (event.purchaseId, event.buyer, event.seller) == (purchase.purchaseId, buyer, seller)
    assert (event.deliveredWh, event.paid, event.fee, event.refunded) == (DELTA, paid, fee, 0)
    assert balances(exchange, seller, buyer) + [exchange.feesAccrued(), token.balanceOf(exchange)] == [
        before[0] + paid, before[1], before[2] + fee, before[3]]


def test_delivery_accumulates_over_readings(exchange, purchase, deliver, buyer_meter):
    assert not deliver(DELTA // 2).events.filter(exchange.PurchaseSettled)
    assert exchange.meter(buyer_meter).openPurchaseId == purchase.purchaseId
    assert deliver(DELTA // 2).events.filter(exchange.PurchaseSettled)[0].deliveredWh == DELTA
    assert exchange.meter(buyer_meter).openPurchaseId == 0


def test_delivery_is_capped_at_what_was_bought(exchange, purchase, deliver, seller_meter):
    event = deliver(3 * DELTA).events.filter(exchange.PurchaseSettled)[0]
    assert event.deliveredWh == DELTA and event.refunded == 0
    assert exchange.meter(seller_meter).committedWh == DELTA


def test_a_reading_at_expiry_settles_partial_delivery_and_refunds_the_rest(
        exchange, purchase, deliver, clock, seller, buyer, seller_meter):
    deliver(60)
    clock.advance(exchange.purchaseTtl())
    before = balances(exchange, buyer, seller)
    event = deliver(10).events.filter(exchange.PurchaseSettled)[0]
    paid, fee, refund = split(70)
    assert (event.deliveredWh, event.paid, event.fee, event.refunded) == (70, paid, fee, refund)
    assert balances(exchange, buyer, seller) == [before[0] + refund, before[1] + paid]
    assert exchange.meter(seller_meter).committedWh == 70  # the undelivered 130 Wh are for sale again


def test_a_silent_buyer_meter_pays_in_full_after_the_grace(exchange, purchase, clock, buyer_meter, stranger, seller):
    """Withholding readings cannot earn a refund: the seller is paid for the whole purchase."""
    clock.advance(exchange.purchaseTtl() + exchange.settleGrace())
    before = exchange.balanceOf(seller)
    event = exchange.settleExpired(buyer_meter, sender=stranger).events.filter(exchange.PurchaseSettled)[0]
    paid, fee, _ = split(DELTA)
    assert (event.deliveredWh, event.refunded, event.paid, event.fee) == (DELTA, 0, paid, fee)
    assert exchange.balanceOf(seller) == before + paid
    assert exchange.openPurchase(buyer_meter).id == 0


def test_settle_expired_waits_for_expiry_and_grace(exchange, purchase, clock, buyer_meter, stranger):
    due = exchange.openPurchase(buyer_meter).expiry + exchange.settleGrace()
    clock.advance(exchange.purchaseTtl())
    with ape.reverts(exchange.SettlementNotDue, purchaseId=purchase.purchaseId, due=due):
        exchange.settleExpired(buyer_meter, sender=stranger)


def test_queued_readings_in_the_grace_settle_on_what_was_measured(exchange, purchase, deliver, clock, buyer_meter):
    clock.advance(exchange.purchaseTtl() + exchange.settleGrace() // 2)
    event = deliver(50).events.filter(exchange.PurchaseSettled)[0]
    assert (event.deliveredWh, event.refunded) == (50, split(50)[2])


def test_settle_expired_needs_an_open_purchase(exchange, buyer_meter, stranger):
    with ape.reverts(exchange.NoOpenPurchase, meterId=buyer_meter):
        exchange.settleExpired(buyer_meter, sender=stranger)


def test_no_settlement_on_stale_data_while_paused(exchange, admin, purchase, clock, buyer_meter, stranger):
    """Readings stop during a pause, so expiry must wait for them: the grace restarts at unpause."""
    exchange.pause(sender=admin)
    clock.advance(exchange.purchaseTtl() + exchange.settleGrace() + 1)
    with ape.reverts(exchange.EnforcedPause):
        exchange.settleExpired(buyer_meter, sender=stranger)
    unpaused = exchange.unpause(sender=admin).timestamp
    with ape.reverts(exchange.SettlementNotDue, due=unpaused + exchange.settleGrace()):
        exchange.settleExpired(buyer_meter, sender=stranger)


def test_a_deactivated_buyer_settles_on_what_it_measured(exchange, operator, purchase, deliver, clock, buyer_meter,
                                                         stranger):
    deliver(40)
    exchange.deactivateMeter(buyer_meter, sender=operator)
    clock.advance(exchange.purchaseTtl() + exchange.settleGrace())
    event = exchange.settleExpired(buyer_meter, sender=stranger).events.filter(exchange.PurchaseSettled)[0]
    assert (event.deliveredWh, event.refunded) == (40, split(40)[2])


def test_fee_is_fixed_at_purchase_time(exchange, admin, fee_recipient, purchase, deliver):
    exchange.setFee(1_000, fee_recipient, sender=admin)
    assert deliver(DELTA).events.filter(exchange.PurchaseSettled)[0].fee == split(DELTA)[1]


def test_rule_buys_again_after_settlement(exchange, purchase, deliver, trigger):
    deliver(DELTA)
    again = trigger().events.filter(exchange.BuyEnergy)[0]
    assert again.purchaseId == purchase.purchaseId + 1
