import ape

from daisee.chain import CONSUMER, PRODUCER
from tests.contracts.conftest import CHANNEL, DELTA, PRICE, THRESHOLD


def test_producer_sets_an_offer(exchange, register, seller):
    register(seller, PRODUCER)
    tx = exchange.setOffer(PRICE, 300, sender=seller)
    assert (tx.events[0].seller, tx.events[0].pricePerWh, tx.events[0].reserveWh) == (seller, PRICE, 300)
    offer = exchange.offerOf(seller)
    assert (offer.pricePerWh, offer.reserveWh) == (PRICE, 300)


def test_a_consumer_cannot_offer(exchange, register, buyer):
    register(buyer, CONSUMER)
    with ape.reverts(exchange.WrongKind, kind=CONSUMER):
        exchange.setOffer(PRICE, 0, sender=buyer)


def test_a_non_member_cannot_offer_or_rule(exchange, stranger, seller):
    with ape.reverts(exchange.NotAMember, account=stranger):
        exchange.setOffer(PRICE, 0, sender=stranger)
    with ape.reverts(exchange.NotAMember, account=stranger):
        exchange.setRule(THRESHOLD, DELTA, PRICE, [seller], [CHANNEL], sender=stranger)


def test_buyer_sets_a_rule_with_ordered_sellers(exchange, register, buyer, seller, second_seller, seller_meter):
    register(second_seller, PRODUCER)
    register(buyer, CONSUMER)
    tx = exchange.setRule(THRESHOLD, DELTA, PRICE, [second_seller, seller], [2, 1], sender=buyer)
    assert tx.events[0].sellers == [second_seller, seller]
    rule = exchange.ruleOf(buyer)
    assert (rule.thresholdPermille, rule.deltaWh, rule.maxPricePerWh) == (THRESHOLD, DELTA, PRICE)
    assert (rule.sellers, rule.channels) == ([second_seller, seller], [2, 1])


def test_a_producer_cannot_set_a_rule(exchange, register, seller):
    register(seller, PRODUCER)
    with ape.reverts(exchange.WrongKind, kind=PRODUCER):
        exchange.setRule(THRESHOLD, DELTA, PRICE, [], [], sender=seller)


def test_rule_threshold_is_a_permille(exchange, buyer_meter, buyer):
    with ape.reverts(exchange.ThresholdOutOfRange, thresholdPermille=1001):
        exchange.setRule(1001, DELTA, PRICE, [], [], sender=buyer)


def test_rule_seller_list_is_bounded(exchange, buyer_meter, buyer, seller):
    limit = exchange.MAX_SELLERS()
    with ape.reverts(exchange.TooManySellers, count=limit + 1, max=limit):
        exchange.setRule(THRESHOLD, DELTA, PRICE, [seller] * (limit + 1), [1] * (limit + 1), sender=buyer)


def test_rule_needs_a_channel_per_seller(exchange, buyer_meter, buyer, seller):
    with ape.reverts(exchange.LengthMismatch):
        exchange.setRule(THRESHOLD, DELTA, PRICE, [seller], [], sender=buyer)


def test_rule_sellers_must_be_members_other_than_the_buyer(exchange, buyer_meter, buyer, stranger):
    with ape.reverts(exchange.NotAMember, account=stranger):
        exchange.setRule(THRESHOLD, DELTA, PRICE, [stranger], [1], sender=buyer)
    with ape.reverts(exchange.SelfTrade):
        exchange.setRule(THRESHOLD, DELTA, PRICE, [buyer], [1], sender=buyer)


def test_rule_amount_must_fit_the_escrow(exchange, buyer_meter, buyer, seller):
    with ape.reverts(exchange.AmountTooLarge):
        exchange.setRule(THRESHOLD, DELTA, 2**96 - 1, [seller], [1], sender=buyer)


def test_a_rule_that_can_fire_buys_a_bounded_positive_amount(exchange, buyer_meter, buyer, seller):
    limit = exchange.maxPurchaseWh()
    for delta in (0, limit + 1, 2**40 - 1):
        with ape.reverts(exchange.DeltaOutOfRange, deltaWh=delta, maxPurchaseWh=limit):
            exchange.setRule(THRESHOLD, delta, PRICE, [seller], [1], sender=buyer)
    exchange.setRule(0, 0, PRICE, [seller], [1], sender=buyer)  # a disabled rule needs no amount
