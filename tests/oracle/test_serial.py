"""The ACS712 Arduino driver through a real pseudo-terminal (what a USB serial port looks like):
a bad-frame corpus, partial lines, garbage, and the Arduino being unplugged and plugged back."""
from __future__ import annotations

import logging
import time

import pytest

from oracle.clock import ManualClock
from oracle.drivers import DriverUnavailable
from oracle.drivers.acs712_serial import Acs712SerialMeter, format_frame, parse_frame
from oracle.settings import Acs712SerialDriver

GOOD = format_frame(1000, 812.5, 230.1, 12.5)
BAD_FRAMES = [
    b"",
    b"garbage\xff\xfe",
    GOOD[:15],  # partial line
    GOOD.replace(b"812.5", b"813.5"),  # checksum mismatch
    b"$DAISEE,1000,812.5,230.1*" + format_frame(0, 0, 0, None)[-4:-2],  # missing field
    b"$OTHER,1,2,3,4*" + b"%02X" % 0,
    b"$DAISEE,abc,1,2,3*00",
    b"DAISEE,1000,812.5,230.1,12.50*00",  # no start marker
]


@pytest.mark.parametrize("line", BAD_FRAMES)
def test_bad_frame_is_skipped(line):
    assert parse_frame(line) is None


def test_good_frame_is_parsed():
    frame = parse_frame(GOOD)
    assert (frame.millis, frame.produced_w, frame.consumed_w, frame.battery_v) == (1000, 812.5, 230.1, 12.5)


@pytest.fixture
def meter(arduino):
    driver = Acs712SerialMeter(Acs712SerialDriver(port=str(arduino.link), read_timeout=0.3), ManualClock())
    yield driver
    driver.close()


def open_and_feed(meter, arduino, data: bytes):
    with pytest.raises(DriverUnavailable):
        meter.read()  # nothing sent yet: opens the port, times out without a frame
    arduino.write(data)
    time.sleep(0.05)  # let the bytes cross the pty before the read collects "everything waiting"


def test_frames_since_last_read_are_averaged(meter, arduino):
    open_and_feed(meter, arduino, format_frame(1, 100, 50, 12.5) + format_frame(2, 300, 150, 12.5))
    sample = meter.read()
    assert (sample.produced_w, sample.consumed_w, sample.soc_permille) == (200.0, 100.0, 500)


def test_garbage_and_partial_lines_between_frames_are_survived(meter, arduino):
    noisy = b"\x00\xffnoise\r\n" + GOOD[:10] + b"\n" + format_frame(3, 400, 40, None) + GOOD[:20]
    open_and_feed(meter, arduino, noisy)
    sample = meter.read()
    assert (sample.produced_w, sample.consumed_w) == (400.0, 40.0)


def test_partial_line_is_completed_by_the_next_read(meter, arduino):
    frame = format_frame(4, 500, 60, None)
    open_and_feed(meter, arduino, frame[:12])
    with pytest.raises(DriverUnavailable):
        meter.read()
    arduino.write(frame[12:])
    assert meter.read().produced_w == 500.0


def test_unplugged_arduino_is_unavailable_then_read_again_when_back(meter, arduino):
    open_and_feed(meter, arduino, GOOD)
    meter.read()
    arduino.unplug()
    with pytest.raises(DriverUnavailable):
        meter.read()
    arduino.plug()
    open_and_feed(meter, arduino, format_frame(5, 700, 70, None))  # the port is reopened (and flushed)
    assert meter.read().produced_w == 700.0


def test_skipped_lines_are_logged_with_the_first_of_them(meter, arduino, caplog):
    open_and_feed(meter, arduino, b"\xffnoise\r\n" + GOOD.replace(b"812.5", b"813.5") + format_frame(6, 800, 80, 12.5))
    with caplog.at_level(logging.INFO, logger="oracle.drivers.acs712_serial"):
        assert meter.read().produced_w == 800.0
    assert "2 line(s) skipped, not intact frames, first b'\\xffnoise" in caplog.text


def test_implausible_battery_voltage_is_a_fault_never_a_soc(meter, arduino):
    """A broken divider wire reads 0 V: clamped, it would be SoC 0 and make the contract buy."""
    open_and_feed(meter, arduino, format_frame(7, 100, 50, 0.0))
    sample = meter.read()
    assert (sample.soc_permille, sample.produced_w) == (None, 100.0)
    assert "battery voltage 0.0 V implausible" in sample.fault
