import ape
import pytest

from daisee.chain import PRODUCER, PROSUMER, unpack_reading
from tests.contracts.conftest import packed


@pytest.fixture
def meter_id(register, seller):
    return register(seller, PROSUMER)


def test_reading_updates_state_and_emits_the_series(exchange, meter_id, oracle, clock):
    now = clock.now()
    tx = exchange.submitReadings(packed([(meter_id, 1, now, 1500, 700, 640)]), sender=oracle)
    event = unpack_reading(tx.events.filter(exchange.MeterReading)[0].reading)
    assert tuple(event.values()) == (meter_id, 1, now, 1500, 700, 640)
    m = exchange.meter(meter_id)
    assert (m.seq, m.timestamp, m.producedWh, m.consumedWh, m.socPermille) == (1, now, 1500, 700, 640)


def test_batch_records_every_reading_and_keeps_the_last_state(exchange, meter_id, oracle, clock):
    now = clock.now()
    batch = [(meter_id, s, now - 50 + s, 100 * s, 10 * s, 500 + s) for s in range(1, 51)]
    tx = exchange.submitReadings(packed(batch), sender=oracle)
    assert [unpack_reading(e.reading)["seq"] for e in tx.events.filter(exchange.MeterReading)] == list(range(1, 51))
    m = exchange.meter(meter_id)
    assert (m.seq, m.producedWh, m.consumedWh, m.socPermille) == (50, 5000, 500, 550)


def test_seq_may_skip_but_never_repeat(exchange, meter_id, read):
    read(meter_id, seq=5)
    with ape.reverts(exchange.SeqNotIncreasing, index=0, meterId=meter_id, seq=5, lastSeq=5):
        read(meter_id, seq=5)
    with ape.reverts(exchange.SeqNotIncreasing):
        read(meter_id, seq=4)


def test_unknown_meter_reverts(exchange, meter_id, oracle, clock):
    for unknown in (0, 77):
        with ape.reverts(exchange.UnknownMeter, index=1, meterId=unknown):
            exchange.submitReadings(packed([(meter_id, 1, clock.now(), 0, 0, 0), (unknown, 1, clock.now(), 0, 0, 0)]),
                                    sender=oracle)


def test_only_a_gateway_key_reports(exchange, meter_id, read, stranger):
    with ape.reverts(exchange.NotAGateway, sender=stranger):
        read(meter_id, sender=stranger)


def test_only_the_meters_own_gateway_reports(exchange, meter_id, register, read, buyer, stranger, operator):
    exchange.registerMeter(buyer, PRODUCER, stranger, sender=operator)  # stranger: another street's gateway
    with ape.reverts(exchange.WrongOracle, index=0, meterId=meter_id, sender=stranger):
        read(meter_id, sender=stranger)


def test_produced_counter_never_goes_down(exchange, meter_id, read):
    read(meter_id, produced=100)
    with ape.reverts(exchange.CounterDecreased, index=0, meterId=meter_id):
        read(meter_id, produced=99)


def test_consumed_counter_never_goes_down(exchange, meter_id, read):
    read(meter_id, consumed=100)
    with ape.reverts(exchange.CounterDecreased, index=0, meterId=meter_id):
        read(meter_id, consumed=99)


def test_timestamp_beyond_the_clock_skew_reverts(exchange, meter_id, read, clock):
    skew = exchange.maxClockSkew()
    read(meter_id, ts=clock.now() + skew - 30)  # within the allowed skew
    with ape.reverts(exchange.TimestampInFuture):
        read(meter_id, ts=clock.now() + skew + 60)


def test_timestamp_before_the_last_reverts(exchange, meter_id, read, clock):
    now = clock.now()
    read(meter_id, ts=now)
    read(meter_id, ts=now)  # equal timestamps are accepted (two samples in one second)
    with ape.reverts(exchange.TimestampBeforeLast, index=0, timestamp=now - 1, lastTimestamp=now):
        read(meter_id, ts=now - 1)


def test_state_of_charge_is_bounded(exchange, meter_id, read):
    with ape.reverts(exchange.SocOutOfRange, index=0, socPermille=1001):
        read(meter_id, soc=1001)


def test_empty_batch_reverts(exchange, oracle):
    with ape.reverts(exchange.EmptyBatch):
        exchange.submitReadings([], sender=oracle)


def test_oversized_batch_reverts(exchange, meter_id, oracle, clock):
    size = exchange.MAX_BATCH() + 1
    batch = [(meter_id, s, clock.now(), 0, 0, 0) for s in range(1, size + 1)]
    with ape.reverts(exchange.BatchTooLarge, size=size, max=size - 1):
        exchange.submitReadings(packed(batch), sender=oracle)


def test_a_bad_reading_reverts_the_whole_batch_naming_its_index(exchange, meter_id, register, buyer, oracle, clock):
    other = register(buyer, PRODUCER)
    now = clock.now()
    batch = [(meter_id, 1, now, 10, 0, 500), (other, 1, now, 5, 0, 500), (other, 2, now, 4, 0, 500)]
    with ape.reverts(exchange.CounterDecreased, index=2, meterId=other):
        exchange.submitReadings(packed(batch), sender=oracle)
    assert exchange.meter(meter_id).seq == 0 and exchange.meter(other).seq == 0


def test_readings_stop_while_paused(exchange, admin, meter_id, read):
    exchange.pause(sender=admin)
    with ape.reverts(exchange.EnforcedPause):
        read(meter_id, produced=1)
    exchange.unpause(sender=admin)
    read(meter_id, produced=1)
    assert exchange.meter(meter_id).producedWh == 1


def test_pause_is_admin_only(exchange, operator):
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.pause(sender=operator)
