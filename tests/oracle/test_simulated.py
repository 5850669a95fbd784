"""Simulated meters: deterministic profiles, coherent with the relay state."""
from __future__ import annotations

import json

import pytest

from daisee.files import write_atomic
from oracle.clock import ManualClock
from oracle.drivers.simulated import BATTERY, SimulatedMeter, relay_supply
from oracle.settings import SimulatedDriver

NOON_UTC = 1_700_049_600.0  # 2023-11-15 12:00 UTC
MIDNIGHT_UTC = NOON_UTC + 12 * 3600
ME, SELLER, BUYER = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40


def meter(t: float, **kw) -> SimulatedMeter:
    return SimulatedMeter(SimulatedDriver(utc_offset_hours=0, **kw), ManualClock(t))


def test_same_seed_and_time_give_the_same_sample():
    assert meter(NOON_UTC, seed=7).read() == meter(NOON_UTC, seed=7).read()


def test_pv_produces_at_noon_not_at_midnight():
    assert meter(NOON_UTC, profile="producer").read().produced_w > 1000
    assert meter(MIDNIGHT_UTC, profile="producer").read().produced_w == 0


def test_consumer_load_peaks_in_the_evening():
    evening, night = NOON_UTC + 7.5 * 3600, NOON_UTC + 15 * 3600
    assert meter(evening, profile="consumer").read().consumed_w > 2 * meter(night, profile="consumer").read().consumed_w


def write_relay(path, supply):
    path.write_text(json.dumps({"pins": {}, "supply": supply, "updated": 0}))


def run_night_hour(path, member, profile):
    m = meter(MIDNIGHT_UTC, profile=profile, relay_state_file=path, member=member, charge_from_seller_w=1000)
    first = m.read()
    m.clock.advance(3600)
    return first, m.read()


def test_consumer_supplied_by_seller_charges_and_meters_it(tmp_path):
    state = tmp_path / "relay.json"
    write_relay(state, {ME: {"source": "seller", "channel": 1, "seller": SELLER, "purchase_id": 1}})
    first, later = run_night_hour(state, ME, "consumer")
    assert later.consumed_w > 1000  # load plus charge, all metered as consumed
    assert later.soc_permille > first.soc_permille


def test_consumer_on_own_source_discharges_at_night(tmp_path):
    first, later = run_night_hour(tmp_path / "missing.json", ME, "consumer")
    assert later.soc_permille < first.soc_permille


def test_seller_supplying_a_buyer_discharges(tmp_path):
    state = tmp_path / "relay.json"
    write_relay(state, {BUYER: {"source": "seller", "channel": 1, "seller": ME, "purchase_id": 1}})
    _, supplying = run_night_hour(state, ME, "producer")
    _, idle = run_night_hour(tmp_path / "missing.json", ME, "producer")
    assert supplying.soc_permille < idle.soc_permille


def test_garbled_relay_file_means_own_source(tmp_path):
    state = tmp_path / "relay.json"
    state.write_text("{not json")
    _, garbled = run_night_hour(state, ME, "consumer")
    _, own = run_night_hour(tmp_path / "missing.json", ME, "consumer")
    assert garbled == own


def test_battery_keeps_its_charge_across_an_oracle_restart(tmp_path):
    saved = tmp_path / "battery.bin"
    first = meter(MIDNIGHT_UTC, profile="consumer", battery_state_file=saved)
    first.read()
    first.clock.advance(3 * 3600)
    drained = first.read().soc_permille  # the oracle dies here, without closing its driver
    restarted = meter(MIDNIGHT_UTC + 3 * 3600, profile="consumer", battery_state_file=saved)
    fresh = meter(MIDNIGHT_UTC + 3 * 3600, profile="consumer")
    assert restarted.read().soc_permille == drained < fresh.read().soc_permille


def test_every_relay_switch_is_seen_at_the_next_sample(tmp_path):
    """Meters of a street share one parse of the board file; each relay write must still show."""
    board = tmp_path / "board.json"
    m = meter(MIDNIGHT_UTC, profile="consumer", relay_state_file=board, member=ME)
    # same-size rewrites within one clock tick: only the file's identity tells them apart
    for seller in [SELLER, BUYER, SELLER, BUYER]:
        write_atomic(board, json.dumps({"supply": {"0x" + "d" * 40: {"source": "seller", "seller": seller}}}))
        assert relay_supply(board, SELLER) == ("own", seller == SELLER)
        m.read()


@pytest.mark.parametrize("saved_wh", [float("nan"), float("-inf"), -1e9, 1e12])
def test_garbled_battery_file_restarts_from_the_initial_charge_not_an_empty_battery(tmp_path, saved_wh, caplog):
    """A NaN charge was clamped to an empty battery: SoC 0, which makes the contract buy energy."""
    saved = tmp_path / "battery.bin"
    saved.write_bytes(BATTERY.pack(saved_wh, MIDNIGHT_UTC - 5))
    restarted = meter(MIDNIGHT_UTC, profile="consumer", battery_state_file=saved)
    assert restarted.read().soc_permille == meter(MIDNIGHT_UTC, profile="consumer").read().soc_permille == 600
    assert "implausible, starting from 600 permille" in caplog.text
