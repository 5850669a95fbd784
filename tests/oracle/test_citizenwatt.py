"""The CitizenWatt driver against a real HTTP server on loopback speaking the base's API, and
answering slowly or wrongly (the whole corpus of bad answers runs through a gateway in test_inputs)."""
from __future__ import annotations

import time

import pytest

from oracle.clock import ManualClock
from oracle.drivers import BadAnswer, DriverUnavailable
from oracle.drivers.citizenwatt import CitizenWattMeter, load_credentials
from oracle.settings import CitizenWattDriver
from tests.oracle.inputs import BASE_TIME, CITIZENWATT_CORPUS, Raw, http_answer

DRIPPED = {case: (endpoint, raw) for case, endpoint, raw, _ in CITIZENWATT_CORPUS
           if case in ("drip-body", "drip-headers", "never-ends")}


def driver(base, timeout=2.0, **kw):
    return CitizenWattMeter(CitizenWattDriver(base_url=base.url, timeout=timeout, **kw), ManualClock())


def test_power_is_the_mean_of_the_measures_since_last_read(base, credentials):
    sample = driver(base, produced_sensor=2, consumed_sensor=1).read()
    assert (sample.produced_w, sample.consumed_w) == (1200.0, 400.0)  # not the 9999 W measured before


def test_sensor_without_measures_is_unavailable(base, credentials):
    with pytest.raises(DriverUnavailable, match="no measure"):
        driver(base, consumed_sensor=3).read()


def test_wrong_credentials_are_unavailable(base, monkeypatch):
    monkeypatch.setenv("CITIZENWATT_LOGIN", "mallory")
    monkeypatch.setenv("CITIZENWATT_PASSWORD", "guess")
    with pytest.raises(DriverUnavailable, match="HTTP 403"):
        driver(base).read()


def test_credentials_file_readable_by_others_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CITIZENWATT_LOGIN", raising=False)
    secret = tmp_path / "cw"
    secret.write_text("alice:s3cret")
    secret.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_credentials(secret)


def test_malformed_measure_fails_the_whole_read_as_a_bad_answer(base, credentials):
    base.answers["watts"] = Raw.answer([{"value": 300}, {"value": 500}, {"value": "abc"}])
    with pytest.raises(BadAnswer, match="measure 2 value is 'abc'"):
        driver(base).read()


@pytest.mark.parametrize("case", DRIPPED)
def test_dripped_answer_fails_at_the_deadline(base, credentials, case):
    """A byte every 0.05 s: no socket read ever waits the 0.5 s timeout, the whole call does."""
    endpoint, raw = DRIPPED[case]
    base.answers[endpoint] = raw
    meter = driver(base, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(DriverUnavailable, match=r"no complete answer within 0\.5 s"):
        meter.read()
    assert 0.5 <= time.monotonic() - start < 0.5 + 0.25
    base.answers.clear()
    assert meter.read().consumed_w > 0  # nothing left stuck: the next read is a normal one


def test_slow_answer_within_the_timeout_is_read(base, credentials):
    """The dripped answer above is a valid one: given time, it is read (it is the deadline that failed it)."""
    head, body = http_answer(BASE_TIME)
    base.answers["time"] = Raw(head, body, drip=0.02)
    start = time.monotonic()
    assert driver(base, timeout=5).read().consumed_w == 400.0
    assert time.monotonic() - start >= (len(body) - 1) * 0.02  # the last byte leaves after len - 1 drips


def test_base_clock_going_back_reads_its_last_minute(base, credentials):
    meter = driver(base)
    meter.read()
    base.server.now = BASE_TIME - 3600  # e.g. the base's clock corrected by NTP
    assert meter.read().consumed_w == 400.0  # not "no measure" until the base's clock catches up
