"""Power is integrated over elapsed time into counters that never go back, even across restarts."""
from __future__ import annotations

from daisee.chain import pack_reading
from oracle.drivers import Sample
from oracle.readings import MeterState, advance

HOUR = 3600.0


def test_energy_is_power_times_elapsed_time():
    state = advance(MeterState(), Sample(0.0, 0.0, 0.0, 500), 2 * HOUR, 1000)
    state = advance(state, Sample(HOUR / 2, 1000.0, 400.0, 500), 2 * HOUR, 1000)
    assert (state.produced_wh, state.consumed_wh) == (500.0, 200.0)


def test_gap_longer_than_max_gap_is_not_integrated():
    state = advance(MeterState(), Sample(0.0, 1000.0, 1000.0, 500), 900, 1000)
    state = advance(state, Sample(HOUR, 1000.0, 1000.0, 500), 900, 1000)
    assert (state.produced_wh, state.seq) == (0.0, 2)


def test_unknown_soc_repeats_the_last_known_one():
    state = advance(MeterState(), Sample(0.0, 0.0, 0.0, 420), 900, 1000)
    assert advance(state, Sample(1.0, 0.0, 0.0, None), 900, 1000).soc_permille == 420


def test_counters_and_seq_survive_a_restart(make_oracle, meter_id, clock):
    oracle = make_oracle(meter_id)
    for _ in range(3):
        clock.advance(360)
        oracle.sample_once()
    before = oracle.store.state(meter_id)
    oracle.close()
    clock.advance(360)
    again = make_oracle(meter_id)
    again.sample_once()
    after = again.store.state(meter_id)
    assert after.seq == before.seq + 1
    assert after.produced_wh == before.produced_wh + 100.0  # 1 kW for 6 minutes


def test_new_oracle_continues_the_chain_counters(make_oracle, meter_id, gateway, admin, clock):
    reading = pack_reading(meter_id, 7, int(clock.now()), 5_000, 3_000, 800)
    admin.as_member(gateway).transact(admin.community.exchange.functions.submitReadings([reading]))
    oracle = make_oracle(meter_id)
    clock.advance(36)
    oracle.sample_once()
    oracle.sample_once()
    first = oracle.store.readings(meter_id)[0]
    assert (first.seq, first.produced_wh, first.consumed_wh) == (8, 5_000, 3_000)
