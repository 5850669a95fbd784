"""One test (or more) per defect of the wave-2 audit: each failed against the wave-1 exchange."""
import ape
import pytest

from daisee.chain import CONSUMER, PRODUCER, PROSUMER
from tests.contracts.conftest import ADMIN_DELAY, DELTA, FEE_BPS, PRICE, THRESHOLD, TOKEN, packed

MAX48 = 2**48 - 1


# 1. meter id 0 -----------------------------------------------------------------------------------

def test_meter_zero_cannot_be_written_by_anyone(exchange, stranger, clock):
    with ape.reverts(exchange.NotAGateway, sender=stranger):
        exchange.submitReadings(packed([(0, 1, clock.now(), 0, 0, 0)]), sender=stranger)


def test_meter_zero_cannot_be_written_by_a_gateway(exchange, register, seller, oracle, clock):
    register(seller, PRODUCER)
    with ape.reverts(exchange.UnknownMeter, index=0, meterId=0):
        exchange.submitReadings(packed([(0, 1, clock.now(), 0, 0, 0)]), sender=oracle)


def test_a_reading_with_high_bits_set_is_malformed(exchange, register, seller, oracle, clock):
    meter_id = register(seller, PRODUCER)
    word = packed([(meter_id, 1, clock.now(), 0, 0, 0)])[0] | 1 << 255
    with ape.reverts(exchange.MalformedReading, index=0):
        exchange.submitReadings([word], sender=oracle)


# 2. no member's settings can make another member's readings revert -------------------------------

def test_a_rule_cannot_buy_zero(exchange, buyer_meter, buyer, seller):
    with ape.reverts(exchange.DeltaOutOfRange, deltaWh=0):
        exchange.setRule(THRESHOLD, 0, PRICE, [seller], [1], sender=buyer)


def test_a_gateway_batch_lands_whatever_its_members_set(exchange, token, admin, register, read, accounts, oracle,
                                                        clock):
    """Extreme but valid settings of every member behind one gateway: the batch still lands."""
    seller, full_seller, buyer, poor_buyer = accounts[3], accounts[5], accounts[4], accounts[8]
    s, fs = register(seller, PROSUMER), register(full_seller, PRODUCER)
    b, pb = register(buyer, CONSUMER), register(poor_buyer, PROSUMER)
    read(s, produced=10_000)
    read(fs, produced=MAX48)  # a seller at its counters' end: reserving more must not overflow
    exchange.setOffer(1, 2**32 - 1, sender=seller)  # the largest reserve: nothing to sell
    exchange.setOffer(1, 0, sender=full_seller)
    limit = exchange.maxPurchaseWh()
    exchange.setRule(1000, limit, 2**96 // limit - 1, [seller, full_seller], [255, 0], sender=buyer)
    exchange.setRule(1000, 1, 1, [full_seller], [7], sender=poor_buyer)  # no balance at all
    token.mint(buyer, 2**95, sender=admin)
    token.approve(exchange, 2**95, sender=buyer)
    exchange.deposit(buyer, 2**95, sender=buyer)
    now = clock.now()
    rows = [(b, 2, now, 0, 10, 0), (pb, 2, now, 5, 5, 0), (s, 2, now, 10_000, 0, 0), (fs, 2, now, MAX48, 0, 1000)]
    tx = exchange.submitReadings(packed(rows), sender=oracle)
    assert len(tx.events.filter(exchange.MeterReading)) == 4
    assert len(tx.events.filter(exchange.BuyEnergy)) + len(tx.events.filter(exchange.PurchaseSkipped)) == 2


# 3. checks-effects-interactions with a token that calls back -------------------------------------

@pytest.fixture
def callback_exchange(project, admin, operator, fee_recipient):
    cb = admin.deploy(project.CallbackToken, True)  # hooks that revert make the transfer revert
    ex = admin.deploy(project.EnergyExchange, cb, admin, ADMIN_DELAY, fee_recipient, FEE_BPS)
    ex.grantRole(ex.OPERATOR_ROLE(), operator, sender=admin)
    return cb, ex


@pytest.fixture
def attacker(project, admin, operator, oracle, callback_exchange):
    cb, ex = callback_exchange
    member = admin.deploy(project.ReentrantMember, ex)
    ex.registerMeter(member, PROSUMER, oracle, sender=operator)
    return member


def fund(cb, ex, member_address, payer, amount):
    cb.mint(payer, amount, sender=payer)
    cb.approve(ex, amount, sender=payer)
    ex.deposit(member_address, amount, sender=payer)


def test_a_withdrawal_cannot_be_reentered(callback_exchange, attacker, admin, stranger):
    cb, ex = callback_exchange
    fund(cb, ex, attacker, admin, TOKEN)
    attacker.arm(ex.withdraw.encode_input(attacker, TOKEN), sender=admin)
    attacker.act(ex.withdraw.encode_input(attacker, TOKEN), sender=admin)
    assert attacker.reentered() and not attacker.reentrySucceeded()
    assert cb.balanceOf(attacker) == TOKEN and ex.balanceOf(attacker) == 0 and cb.balanceOf(ex) == 0


def test_reading_settlement_and_expiry_move_no_tokens(callback_exchange, attacker, admin, operator, oracle, accounts,
                                                      clock, chain):
    """The seller is a contract with a hook; settling never calls the token, so it cannot re-enter."""
    cb, ex = callback_exchange
    buyer = accounts[4]
    b = ex.registerMeter(buyer, CONSUMER, oracle, sender=operator).events[0].meterId
    s = ex.meterOf(attacker)
    ex.submitReadings(packed([(s, 1, clock.now(), 10_000, 0, 900)]), sender=oracle)
    attacker.act(ex.setOffer.encode_input(PRICE, 0), sender=admin)
    ex.setRule(THRESHOLD, DELTA, PRICE, [attacker], [1], sender=buyer)
    fund(cb, ex, buyer.address, admin, TOKEN)
    attacker.arm(ex.settleExpired.encode_input(b), sender=admin)
    tx = ex.submitReadings(packed([(b, 1, clock.now(), 0, 0, 0)]), sender=oracle)
    assert tx.events.filter(ex.BuyEnergy)
    clock.advance(ex.purchaseTtl() + ex.settleGrace())
    settled = ex.settleExpired(b, sender=admin)
    assert settled.events.filter(ex.PurchaseSettled) and not settled.events.filter(cb.Transfer)
    assert cb.balanceOf(ex) == ex.balanceOf(buyer) + ex.balanceOf(attacker) + ex.feesAccrued()
    with ape.reverts(ex.NoOpenPurchase):
        ex.settleExpired(b, sender=admin)  # paid once


# 4. a buyer withholding its readings -------------------------------------------------------------

def test_withholding_readings_past_expiry_earns_no_refund(exchange, trigger, clock, buyer_meter, stranger, seller,
                                                          buyer):
    trigger()
    seller_before, buyer_before = exchange.balanceOf(seller), exchange.balanceOf(buyer)
    clock.advance(exchange.purchaseTtl() + 1)
    with ape.reverts(exchange.SettlementNotDue):  # the grace lets queued readings land first
        exchange.settleExpired(buyer_meter, sender=stranger)
    clock.advance(exchange.settleGrace())
    event = exchange.settleExpired(buyer_meter, sender=stranger).events.filter(exchange.PurchaseSettled)[0]
    assert event.refunded == 0 and exchange.balanceOf(buyer) == buyer_before
    assert exchange.balanceOf(seller) > seller_before


# 5. one clock per purchase -----------------------------------------------------------------------

def test_a_back_dated_reading_opens_a_purchase_that_starts_now(exchange, read, clock, buyer_meter, stranger):
    skew = exchange.maxClockSkew()
    clock.advance(skew // 2)
    tx = read(buyer_meter, soc=0, ts=clock.now() - skew // 2)  # queued, within the skew
    p = exchange.openPurchase(buyer_meter)
    assert p.start == tx.timestamp and p.expiry == tx.timestamp + exchange.purchaseTtl()
    with ape.reverts(exchange.SettlementNotDue):
        exchange.settleExpired(buyer_meter, sender=stranger)


def test_consumption_metered_before_a_manual_buy_is_not_delivery(exchange, read, clock, buyer, seller, buyer_meter):
    last = exchange.meter(buyer_meter).timestamp
    clock.advance(120)
    start = exchange.buyEnergy(seller, DELTA, sender=buyer).timestamp
    consumed = exchange.meter(buyer_meter).consumedWh
    queued = read(buyer_meter, consumed=consumed + 5 * DELTA, ts=last + 60)  # metered before the purchase
    assert not queued.events.filter(exchange.PurchaseSettled)
    assert exchange.openPurchase(buyer_meter).startConsumedWh == consumed + 5 * DELTA
    at_start = read(buyer_meter, consumed=consumed + 6 * DELTA, ts=start)  # an interval ending at the start
    assert not at_start.events.filter(exchange.PurchaseSettled)
    clock.advance(60)
    after = read(buyer_meter, consumed=consumed + 6 * DELTA + DELTA // 2)
    assert not after.events.filter(exchange.PurchaseSettled)
    clock.advance(60)
    event = read(buyer_meter, consumed=consumed + 7 * DELTA).events.filter(exchange.PurchaseSettled)[0]
    assert event.deliveredWh == DELTA


# 6. reserving a seller's stock at no cost is bounded ---------------------------------------------

def test_a_manual_buy_cannot_reserve_a_sellers_whole_stock(exchange, buyer, seller, buyer_meter):
    stock = exchange.availableWh(seller)
    limit = exchange.maxPurchaseWh()
    assert stock > limit
    with ape.reverts(exchange.DeltaOutOfRange, deltaWh=stock, maxPurchaseWh=limit):
        exchange.buyEnergy(seller, stock, sender=buyer)


def test_the_purchase_bound_is_admin_only_and_positive(exchange, admin, operator):
    assert exchange.setMaxPurchaseWh(2_000, sender=admin).events[0].maxPurchaseWh == 2_000
    with ape.reverts(exchange.ZeroAmount):
        exchange.setMaxPurchaseWh(0, sender=admin)
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.setMaxPurchaseWh(1, sender=operator)


# 7. meters that could never report again ---------------------------------------------------------

def test_seq_cannot_jump_to_its_end(exchange, register, read, seller):
    meter_id = register(seller, PRODUCER)
    step = exchange.MAX_SEQ_STEP()
    for seq in (step + 1, 2**32 - 1):
        with ape.reverts(exchange.SeqStepTooLarge, index=0, meterId=meter_id, seq=seq, lastSeq=0):
            read(meter_id, seq=seq)
    read(meter_id, seq=step)
    assert exchange.meter(meter_id).seq == step


def test_a_replaced_meter_reports_from_zero_and_keeps_its_stock(exchange, operator, seller_meter, read, seller,
                                                                stranger):
    stock = exchange.availableWh(seller)
    old = exchange.meter(seller_meter)
    tx = exchange.replaceMeter(seller_meter, stranger, sender=operator)
    event = tx.events.filter(exchange.MeterReplaced)[0]
    assert (event.meterId, event.oracle, event.lastSeq, event.producedWh, event.consumedWh) == (
        seller_meter, stranger, old.seq, old.producedWh, old.consumedWh)
    assert exchange.availableWh(seller) == stock
    read(seller_meter, seq=1, produced=0, consumed=0, sender=stranger)
    read(seller_meter, produced=500, sender=stranger)
    assert exchange.availableWh(seller) == stock + 500
    assert exchange.meter(seller_meter).oracle == stranger


def test_replacement_waits_for_an_open_purchase_and_is_operator_only(exchange, operator, trigger, buyer_meter,
                                                                     stranger):
    trigger()
    with ape.reverts(exchange.PurchaseAlreadyOpen):
        exchange.replaceMeter(buyer_meter, stranger, sender=operator)
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.replaceMeter(buyer_meter, stranger, sender=stranger)


# 8. admin hand-over in two steps -----------------------------------------------------------------

def test_the_admin_role_is_handed_over_in_two_steps(exchange, admin, stranger, clock):
    with ape.reverts(exchange.AccessControlEnforcedDefaultAdminRules):
        exchange.grantRole(exchange.DEFAULT_ADMIN_ROLE(), stranger, sender=admin)
    exchange.beginDefaultAdminTransfer(stranger, sender=admin)
    with ape.reverts(exchange.AccessControlEnforcedDefaultAdminDelay):
        exchange.acceptDefaultAdminTransfer(sender=stranger)
    clock.advance(ADMIN_DELAY + 1)
    exchange.acceptDefaultAdminTransfer(sender=stranger)
    assert exchange.defaultAdmin() == stranger and not exchange.hasRole(exchange.DEFAULT_ADMIN_ROLE(), admin)
