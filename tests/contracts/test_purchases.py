import ape

from daisee.chain import CONSUMER, PRODUCER
from tests.contracts.conftest import BUDGET, CHANNEL, DELTA, PRICE, THRESHOLD, TOKEN

SKIP_NO_SELLER, SKIP_BALANCE, SKIP_STALE = 0, 1, 2


def test_low_battery_buys_delta_from_the_first_seller(exchange, token, trigger, buyer, seller, buyer_meter):
    tx = trigger()
    event = tx.events.filter(exchange.BuyEnergy)[0]
    assert (event.buyer, event.seller, event.wh, event.amount, event.channel) == (
        buyer, seller, DELTA, DELTA * PRICE, CHANNEL)
    assert exchange.balanceOf(buyer) == BUDGET - DELTA * PRICE  # escrowed from the buyer's balance
    assert token.balanceOf(exchange) == BUDGET  # no token moves: the escrow stays in the exchange
    p = exchange.openPurchase(buyer_meter)
    assert (p.id, p.buyer, p.seller, p.wh, p.amount) == (event.purchaseId, buyer, seller, DELTA, DELTA * PRICE)
    assert p.start == tx.timestamp and p.expiry == tx.timestamp + exchange.purchaseTtl()


def test_purchase_reserves_the_sellers_energy(exchange, trigger, seller, seller_meter):
    before = exchange.availableWh(seller)
    trigger()
    assert exchange.availableWh(seller) == before - DELTA
    assert exchange.meter(seller_meter).committedWh == DELTA


def test_no_purchase_at_or_above_threshold(exchange, read, buyer_meter):
    tx = read(buyer_meter, soc=THRESHOLD)
    assert not tx.events.filter(exchange.BuyEnergy)
    assert exchange.meter(buyer_meter).openPurchaseId == 0


def test_no_second_purchase_while_one_is_open(exchange, trigger):
    first = trigger().events.filter(exchange.BuyEnergy)[0]
    assert not trigger().events.filter(exchange.BuyEnergy)
    assert exchange.nextPurchaseId() == first.purchaseId + 1


def test_too_expensive_seller_is_passed_over(exchange, register, read, buyer, seller, second_seller, trigger):
    cheap = register(second_seller, PRODUCER)
    read(cheap, produced=5_000)
    exchange.setOffer(PRICE, 0, sender=second_seller)
    exchange.setOffer(3 * PRICE, 0, sender=seller)  # above the rule's max of 2 * PRICE
    exchange.setRule(THRESHOLD, DELTA, 2 * PRICE, [seller, second_seller], [1, 2], sender=buyer)
    event = trigger().events.filter(exchange.BuyEnergy)[0]
    assert (event.seller, event.channel) == (second_seller, 2)


def test_seller_without_energy_is_passed_over(exchange, register, read, buyer, seller, second_seller, trigger):
    other = register(second_seller, PRODUCER)
    read(other, produced=DELTA)
    exchange.setOffer(PRICE, 0, sender=second_seller)
    exchange.setOffer(PRICE, 9_000 - DELTA + 1, sender=seller)  # reserve leaves DELTA - 1 to sell
    exchange.setRule(THRESHOLD, DELTA, 2 * PRICE, [seller, second_seller], [1, 2], sender=buyer)
    assert exchange.availableWh(seller) == DELTA - 1
    assert trigger().events.filter(exchange.BuyEnergy)[0].seller == second_seller


def test_no_eligible_seller_skips_without_reverting(exchange, seller, trigger, buyer_meter):
    exchange.setOffer(0, 0, sender=seller)
    tx = trigger()
    assert tx.events.filter(exchange.PurchaseSkipped)[0].reason == SKIP_NO_SELLER
    assert tx.events.filter(exchange.MeterReading)  # the reading itself landed


def test_missing_balance_skips(exchange, buyer, trigger):
    exchange.withdraw(buyer, exchange.balanceOf(buyer) - DELTA * PRICE + 1, sender=buyer)
    assert trigger().events.filter(exchange.PurchaseSkipped)[0].reason == SKIP_BALANCE
    assert exchange.balanceOf(buyer) == DELTA * PRICE - 1


def test_an_old_reading_buys_nothing(exchange, read, clock, buyer_meter):
    """A queued reading from before the clock skew says nothing about the battery now."""
    last = exchange.meter(buyer_meter).timestamp
    clock.advance(exchange.maxClockSkew() + 60)
    tx = read(buyer_meter, soc=0, ts=last + 1)
    assert tx.events.filter(exchange.PurchaseSkipped)[0].reason == SKIP_STALE
    assert exchange.meter(buyer_meter).openPurchaseId == 0


def test_seller_is_never_oversold(exchange, register, read, token, admin, seller, accounts, seller_meter):
    """Two buyers of one seller whose stock covers a single DELTA: the second is skipped."""
    exchange.setOffer(PRICE, 9_000 - DELTA, sender=seller)
    buyers = [accounts[8], accounts[9]]
    meters = []
    for b in buyers:
        meters.append(register(b, CONSUMER))
        exchange.setRule(THRESHOLD, DELTA, PRICE, [seller], [1], sender=b)
        token.mint(b, TOKEN, sender=admin)
        token.approve(exchange, TOKEN, sender=b)
        exchange.deposit(b, TOKEN, sender=b)
    assert read(meters[0], soc=0).events.filter(exchange.BuyEnergy)
    second = read(meters[1], soc=0)
    assert not second.events.filter(exchange.BuyEnergy)
    assert second.events.filter(exchange.PurchaseSkipped)[0].reason == SKIP_NO_SELLER
    assert exchange.availableWh(seller) == 0


def test_manual_buy(exchange, buyer, seller, buyer_meter):
    before = exchange.balanceOf(buyer)
    tx = exchange.buyEnergy(seller, 120, sender=buyer)
    assert tx.events.filter(exchange.BuyEnergy)[0].wh == 120
    assert exchange.balanceOf(buyer) == before - 120 * PRICE


def test_manual_buy_needs_the_balance(exchange, buyer, seller, buyer_meter):
    exchange.withdraw(buyer, exchange.balanceOf(buyer) - 1, sender=buyer)
    with ape.reverts(exchange.InsufficientBalance, balance=1, needed=10 * PRICE):
        exchange.buyEnergy(seller, 10, sender=buyer)


def test_manual_buy_rejects_a_second_open_purchase(exchange, buyer, seller, buyer_meter):
    exchange.buyEnergy(seller, 10, sender=buyer)
    with ape.reverts(exchange.PurchaseAlreadyOpen):
        exchange.buyEnergy(seller, 10, sender=buyer)


def test_manual_buy_is_bounded(exchange, buyer, seller, buyer_meter):
    limit = exchange.maxPurchaseWh()
    with ape.reverts(exchange.DeltaOutOfRange, deltaWh=0, maxPurchaseWh=limit):
        exchange.buyEnergy(seller, 0, sender=buyer)
    with ape.reverts(exchange.DeltaOutOfRange, deltaWh=limit + 1, maxPurchaseWh=limit):
        exchange.buyEnergy(seller, limit + 1, sender=buyer)


def test_manual_buy_needs_a_seller_of_the_rule(exchange, register, buyer, second_seller, buyer_meter):
    register(second_seller, PRODUCER)
    exchange.setOffer(PRICE, 0, sender=second_seller)
    with ape.reverts(exchange.SellerNotInRule, seller=second_seller):
        exchange.buyEnergy(second_seller, 10, sender=buyer)


def test_manual_buy_needs_an_offer_within_the_max_price(exchange, buyer, seller, buyer_meter):
    exchange.setOffer(0, 0, sender=seller)
    with ape.reverts(exchange.NoOffer, seller=seller):
        exchange.buyEnergy(seller, 10, sender=buyer)
    exchange.setOffer(3 * PRICE, 0, sender=seller)
    with ape.reverts(exchange.PriceAboveMax, pricePerWh=3 * PRICE, maxPricePerWh=2 * PRICE):
        exchange.buyEnergy(seller, 10, sender=buyer)


def test_manual_buy_cannot_exceed_available_energy(exchange, buyer, seller, seller_meter, buyer_meter):
    exchange.setOffer(PRICE, 9_000 - 100, sender=seller)
    with ape.reverts(exchange.InsufficientEnergy, availableWh=100, requestedWh=101):
        exchange.buyEnergy(seller, 101, sender=buyer)


def test_manual_buy_by_a_producer_or_stranger_reverts(exchange, register, seller, second_seller, stranger, buyer_meter):
    register(second_seller, PRODUCER)
    with ape.reverts(exchange.WrongKind, kind=PRODUCER):
        exchange.buyEnergy(seller, 10, sender=second_seller)
    with ape.reverts(exchange.NotAMember, account=stranger):
        exchange.buyEnergy(seller, 10, sender=stranger)


def test_buying_stops_while_paused(exchange, admin, buyer, seller, buyer_meter):
    exchange.pause(sender=admin)
    with ape.reverts(exchange.EnforcedPause):
        exchange.buyEnergy(seller, 10, sender=buyer)
