import ape

from daisee.chain import CONSUMER, PRODUCER, PROSUMER
from tests.contracts.conftest import packed


def test_register_assigns_sequential_ids_and_records_the_meter(exchange, operator, seller, buyer, oracle):
    tx = exchange.registerMeter(seller, PRODUCER, oracle, sender=operator)
    first = tx.events.filter(exchange.MeterRegistered)[0]
    second = exchange.registerMeter(buyer, CONSUMER, oracle, sender=operator).events[0]
    assert (first.meterId, second.meterId) == (1, 2)
    assert (first.owner, first.oracle, first.kind) == (seller, oracle, PRODUCER)
    info = exchange.meter(1)
    assert (info.owner, info.oracle, info.kind, info.seq) == (seller, oracle, PRODUCER, 0)
    assert exchange.meterOf(buyer) == 2 and exchange.meterCount() == 2


def test_register_is_operator_only(exchange, stranger, seller, oracle):
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.registerMeter(seller, PRODUCER, oracle, sender=stranger)


def test_register_rejects_zero_addresses(exchange, operator, seller, oracle):
    with ape.reverts(exchange.ZeroAddress):
        exchange.registerMeter(ape.utils.ZERO_ADDRESS, PRODUCER, oracle, sender=operator)
    with ape.reverts(exchange.ZeroAddress):
        exchange.registerMeter(seller, PRODUCER, ape.utils.ZERO_ADDRESS, sender=operator)


def test_register_rejects_kind_none(exchange, operator, seller, oracle):
    with ape.reverts(exchange.WrongKind, kind=0):
        exchange.registerMeter(seller, 0, oracle, sender=operator)


def test_a_member_has_one_meter(exchange, operator, register, seller, oracle):
    register(seller, PROSUMER)
    with ape.reverts(exchange.MemberHasMeter, member=seller):
        exchange.registerMeter(seller, PRODUCER, oracle, sender=operator)


def test_one_gateway_key_serves_several_meters(exchange, register, seller, buyer, oracle, clock):
    a, b = register(seller, PRODUCER), register(buyer, CONSUMER)
    now = clock.now()
    exchange.submitReadings(packed([(a, 1, now, 10, 0, 500), (b, 1, now, 0, 20, 500)]), sender=oracle)
    assert (exchange.meter(a).producedWh, exchange.meter(b).consumedWh) == (10, 20)


def test_oracle_rotation_moves_the_right_to_report(exchange, operator, register, read, seller, oracle, stranger):
    meter_id = register(seller, PRODUCER)
    tx = exchange.setMeterOracle(meter_id, stranger, sender=operator)
    assert tx.events[0].oracle == stranger
    with ape.reverts(exchange.WrongOracle, index=0, meterId=meter_id, sender=oracle):
        read(meter_id, produced=1)
    read(meter_id, produced=1, sender=stranger)
    assert exchange.meter(meter_id).producedWh == 1


def test_oracle_rotation_needs_a_known_meter_and_key(exchange, operator, register, seller, stranger):
    with ape.reverts(exchange.NoSuchMeter, meterId=42):
        exchange.setMeterOracle(42, stranger, sender=operator)
    meter_id = register(seller, PRODUCER)
    with ape.reverts(exchange.ZeroAddress):
        exchange.setMeterOracle(meter_id, ape.utils.ZERO_ADDRESS, sender=operator)
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.setMeterOracle(meter_id, stranger, sender=stranger)


def test_deactivated_meter_stops_reporting_and_selling(exchange, operator, seller_meter, read, seller):
    tx = exchange.deactivateMeter(seller_meter, sender=operator)
    assert tx.events[0].meterId == seller_meter
    assert exchange.offerOf(seller).pricePerWh == 0
    with ape.reverts(exchange.UnknownMeter, index=0, meterId=seller_meter):
        read(seller_meter, produced=20_000)


def test_deactivate_is_operator_only_and_needs_a_known_meter(exchange, operator, stranger, seller_meter):
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.deactivateMeter(seller_meter, sender=stranger)
    with ape.reverts(exchange.NoSuchMeter, meterId=99):
        exchange.deactivateMeter(99, sender=operator)


def test_operator_registers_a_street_in_one_multicall(exchange, operator, seller, buyer, oracle):
    calls = [exchange.registerMeter.encode_input(owner, kind, oracle) for owner, kind in
             [(seller, PRODUCER), (buyer, CONSUMER)]]
    tx = exchange.multicall(calls, sender=operator)
    assert [e.owner for e in tx.events.filter(exchange.MeterRegistered)] == [seller.address, buyer.address]
    assert (exchange.meterOf(seller), exchange.meterOf(buyer)) == (1, 2)


def test_multicall_keeps_each_calls_role_check(exchange, stranger, seller, oracle):
    call = exchange.registerMeter.encode_input(seller, PRODUCER, oracle)
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.multicall([call], sender=stranger)
