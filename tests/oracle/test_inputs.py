"""Bad inputs through a real gateway: every malformed, slow or implausible answer of a meter ends
as a reason (unavailable, or quarantined), and the gateway's other meters keep being read."""
from __future__ import annotations

import time
from itertools import zip_longest

import pytest

from oracle.drivers import Sample
from oracle.drivers.acs712_serial import format_frame
from oracle.service import Oracle
from tests.oracle.conftest import ScriptedMeter, chain_readings
from tests.oracle.inputs import CITIZENWATT_CORPUS, SERIAL_CORPUS, Base

GOOD = format_frame(9, 100, 50, 12.5)


@pytest.fixture
def corpus_base():
    """A second base, the one that answers badly."""
    server = Base()
    yield server
    server.close()


def test_every_bad_input_is_a_reason_and_the_gateway_keeps_going(
        register, settings_for, clock, community, gateway, base, corpus_base, arduino, credentials):
    bad_cw, bad_serial, good_cw, simulated = (register() for _ in range(4))
    settings = settings_for(bad_cw, meters=[
        {"meter_id": bad_cw, "driver": {"kind": "citizenwatt", "base_url": corpus_base.url, "timeout": 0.5}},
        {"meter_id": bad_serial, "driver": {"kind": "acs712-serial", "port": str(arduino.link), "read_timeout": 0.2}},
        {"meter_id": good_cw, "driver": {"kind": "citizenwatt", "base_url": base.url, "produced_sensor": 2}},
        {"meter_id": simulated, "driver": {"kind": "simulated"}},
    ])
    oracle = Oracle(settings, clock=clock, community=community, account=gateway)
    meters = (bad_cw, bad_serial, good_cw, simulated)
    try:
        first = oracle.sample_once()  # opens the serial port: the pty keeps what is written from now on
        assert "no valid frame" in first.pop(bad_serial) and set(first.values()) == {None}
        accepted = [1, 0, 1, 1]
        # The serial corpus is the shorter: then the Arduino is well and its meter read again.
        for cw, serial in zip_longest(CITIZENWATT_CORPUS, SERIAL_CORPUS, fillvalue=("well", GOOD, None)):
            cw_case, endpoint, answer, cw_reason = cw
            serial_case, line, serial_reason = serial
            corpus_base.answers.clear()
            corpus_base.answers[endpoint] = answer
            arduino.write(line)
            time.sleep(0.05)  # let the bytes cross the pty
            clock.advance(10)
            outcomes = oracle.sample_once()
            assert cw_reason in (outcomes[bad_cw] or ""), (cw_case, outcomes[bad_cw])
            assert (serial_reason in (outcomes[bad_serial] or "") if serial_reason else outcomes[bad_serial] is None), \
                (serial_case, outcomes[bad_serial])
            assert outcomes[good_cw] is None and outcomes[simulated] is None, (cw_case, serial_case, outcomes)
            accepted = [n + (outcomes[m] is None) for n, m in zip(accepted, meters)]
        assert [len(oracle.store.readings(m)) for m in meters] == accepted
        # the bad base's meter: only its first read; the serial one: from when its Arduino is well again
        assert accepted[:2] == [1, len(CITIZENWATT_CORPUS) - len(SERIAL_CORPUS)]
        quarantined = [reason for _, reason in oracle.store.quarantined(bad_serial)]
        # 0 V, negative, NaN, 48 V and none at all: quarantined with the reason, no SoC taken from them
        assert sum("battery voltage" in r for r in quarantined) == 5
        assert oracle.drain()
        assert len(chain_readings(community, good_cw)) == accepted[2]
    finally:
        oracle.close()


class BrokenMeter(ScriptedMeter):
    """A driver with a bug: read() raises something other than DriverUnavailable."""

    def read(self) -> Sample:
        return {}["no such key"]


def test_a_driver_bug_does_not_stop_the_other_meters(register, settings_for, clock, community, gateway, caplog):
    broken, working = register(), register()
    oracle = Oracle(settings_for(broken, working), clock=clock, community=community, account=gateway,
                    drivers={broken: BrokenMeter(clock), working: ScriptedMeter(clock)})
    try:
        for _ in range(2):
            clock.advance(10)
            outcomes = oracle.sample_once()
            assert outcomes == {broken: "driver failed: KeyError: 'no such key'", working: None}
        assert len(oracle.store.readings(working)) == 2
        assert "Traceback" in caplog.text  # logged with where it failed
    finally:
        oracle.close()


def test_a_power_step_is_quarantined_once_then_followed(make_oracle, meter_id, clock):
    """Through the service: the samples confirming a step are remembered between ticks."""
    t = clock.now()
    samples = [Sample(t + 10, 1000.0, 500.0, 600), Sample(t + 20, 17_000.0, 500.0, 600),  # a spike
               Sample(t + 30, 1000.0, 500.0, 600), Sample(t + 40, 17_000.0, 500.0, 600),  # a step...
               Sample(t + 50, 17_100.0, 500.0, 600), Sample(t + 60, 16_900.0, 500.0, 600)]  # ...held
    oracle = make_oracle(meter_id, samples)
    reasons = []
    for _ in samples:
        clock.advance(10)
        reasons.append(oracle.sample_once()[meter_id])
    assert [r and r.split(" from")[0] for r in reasons] == [None, "produced_w jumped", None, "produced_w jumped", None,
                                                           None]
    assert len(oracle.store.quarantined(meter_id)) == 2
