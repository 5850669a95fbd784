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


def test_full_delivery_pays_seller_and_fee(exchange, token, purchase, deliver, seller, buyer, fee_recipient):
    balances = [token.balanceOf(a) for a in (seller, buyer, fee_recipient)]
    tx = deliver(DELTA)
    event = tx.events.filter(exchange.PurchaseSettled)[0]
    paid, fee, refund = split(DELTA)
    assert (event.purchaseId, event.buyer, event.seller) == (purchase.purchaseId, buyer, seller)
    assert (event.deliveredWh, event.paid, event.fee, event.refunded) == (DELTA, paid, fee, 0)
    assert [token.balanceOf(a) for a in (seller, buyer, fee_recipient)] == [
        balances[0] + paid, balances[1], balances[2] + fee]
    assert token.balanceOf(exchange) == 0


def test_delivery_accumulates_over_readings(exchange, purchase, deliver, buyer_meter):
    assert not deliver(DELTA // 2).events.filter(exchange.PurchaseSettled)
    assert exchange.meter(buyer_meter).openPurchaseId == purchase.purchaseId
    assert deliver(DELTA // 2).events.filter(exchange.PurchaseSettled)[0].deliveredWh == DELTA
    assert exchange.meter(buyer_meter).openPurchaseId == 0


def test_delivery_is_capped_at_what_was_bought(exchange, purchase, deliver, seller_meter):
    event = deliver(3 * DELTA).events.filter(exchange.PurchaseSettled)[0]
    assert event.deliveredWh == DELTA and event.refunded == 0
    assert exchange.meter(seller_meter).committedWh == DELTA


def test_expiry_settles_partial_delivery_and_refunds_the_rest(
        exchange, token, purchase, deliver, clock, seller, buyer, seller_meter):
    deliver(60)
    clock.advance(exchange.purchaseTtl())
    buyer_before, seller_before = token.balanceOf(buyer), token.balanceOf(seller)
    event = deliver(10).events.filter(exchange.PurchaseSettled)[0]
    paid, fee, refund = split(70)
    assert (event.deliveredWh, event.paid, event.fee, event.refunded) == (70, paid, fee, refund)
    assert token.balanceOf(buyer) == buyer_before + refund
    assert token.balanceOf(seller) == seller_before + paid
    assert exchange.meter(seller_meter).committedWh == 70  # the undelivered 130 Wh are for sale again


def test_settle_expired_by_anyone(exchange, token, purchase, clock, buyer_meter, stranger, buyer):
    clock.advance(exchange.purchaseTtl() + 1)
    before = token.balanceOf(buyer)
    event = exchange.settleExpired(buyer_meter, sender=stranger).events.filter(exchange.PurchaseSettled)[0]
    assert (event.deliveredWh, event.refunded, event.paid) == (0, DELTA * PRICE, 0)
    assert token.balanceOf(buyer) == before + DELTA * PRICE
    assert exchange.openPurchase(buyer_meter).id == 0


def test_settle_expired_waits_for_expiry(exchange, purchase, buyer_meter, stranger):
    with ape.reverts(exchange.PurchaseNotExpired, purchaseId=purchase.purchaseId):
        exchange.settleExpired(buyer_meter, sender=stranger)


def test_settle_expired_needs_an_open_purchase(exchange, buyer_meter, stranger):
    with ape.reverts(exchange.NoOpenPurchase, meterId=buyer_meter):
        exchange.settleExpired(buyer_meter, sender=stranger)


def test_settle_expired_works_while_paused(exchange, admin, purchase, clock, buyer_meter, stranger):
    exchange.pause(sender=admin)
    clock.advance(exchange.purchaseTtl() + 1)
    assert exchange.settleExpired(buyer_meter, sender=stranger).events.filter(exchange.PurchaseSettled)


def test_fee_is_fixed_at_purchase_time(exchange, admin, fee_recipient, purchase, deliver):
    exchange.setFee(1_000, fee_recipient, sender=admin)
    assert deliver(DELTA).events.filter(exchange.PurchaseSettled)[0].fee == split(DELTA)[1]


def test_rule_buys_again_after_settlement(exchange, purchase, deliver, trigger):
    deliver(DELTA)
    again = trigger().events.filter(exchange.BuyEnergy)[0]
    assert again.purchaseId == purchase.purchaseId + 1
