"""Battery voltage to state of charge: the configured curve within its margin, and no SoC at all
(a fault that gets the sample quarantined) for a voltage only a wiring fault can give."""
from __future__ import annotations

import pytest

from oracle.battery import battery_soc
from oracle.clock import ManualClock
from oracle.drivers.ina219 import Ina219Meter
from oracle.readings import MeterState, rejection
from oracle.settings import BatterySettings, Ina219Driver, Limits

CURVE = BatterySettings(source="voltage_curve")  # 11.8 V .. 13.0 V, margin_v 2.0


@pytest.mark.parametrize("volts, soc", [(12.5, 500), (12.35, 375), (11.8, 0), (13.0, 1000),
                                        (14.4, 1000),  # a lead-acid battery while charging
                                        (10.5, 0)])  # under a heavy load
def test_voltage_on_or_near_the_curve_gives_its_soc(volts, soc):
    assert battery_soc(CURVE, volts) == (soc, None)


@pytest.mark.parametrize("volts", [0.0, -12.5, float("nan"), float("inf"), float("-inf"), 9.79, 15.01, 48.0, 1e9,
                                   "12.5", True])
def test_implausible_voltage_gives_no_soc_but_a_fault(volts):
    soc, fault = battery_soc(CURVE, volts)
    assert soc is None and f"battery voltage {volts!r} V implausible" in fault


def test_margin_is_configurable():
    assert battery_soc(BatterySettings(source="voltage_curve", margin_v=0.1), 14.4)[0] is None
    assert battery_soc(BatterySettings(source="voltage_curve", margin_v=0.1), 13.05) == (1000, None)


def test_missing_voltage_is_a_fault_not_the_last_soc():
    assert battery_soc(CURVE, None) == (None, "no battery voltage in the reading (battery.source is voltage_curve)")


def test_without_a_voltage_curve_there_is_no_soc_to_check():
    assert battery_soc(BatterySettings(source="none"), 0.0) == (None, None)


class Chip:
    """Stands in for pi-ina219's INA219 (the hardware library), reading fixed values."""

    volts = 0.0  # a broken battery wire

    def __init__(self, shunt_ohms, max_amps, address, busnum=None):
        pass

    def configure(self):
        pass

    def power(self):
        return 250_000.0  # mW

    def voltage(self):
        return self.volts


def test_ina219_battery_on_a_broken_wire_gets_the_sample_rejected():
    settings = Ina219Driver(battery=CURVE, battery_sensor="consumed")
    sample = Ina219Meter(settings, ManualClock(), chip_class=Chip).read()
    assert (sample.consumed_w, sample.soc_permille) == (250.0, None)
    assert rejection(sample, MeterState(), Limits(), sample.timestamp) == sample.fault
    assert "battery voltage 0.0 V implausible" in sample.fault
