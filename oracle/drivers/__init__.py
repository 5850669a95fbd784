"""Meter drivers: one tiny interface, `read() -> Sample`, selected by `driver.kind` in the config.
Hardware libraries are imported only inside the driver that needs them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from oracle.clock import Clock


@dataclass(frozen=True)
class Sample:
    """Mean power since the previous sample, at `timestamp` (UTC unix seconds). `fault` says why a
    value the meter did give is implausible (e.g. its battery voltage): the validator rejects the
    whole sample with that reason, so it is quarantined rather than half used."""

    timestamp: float
    produced_w: float
    consumed_w: float
    soc_permille: int | None = None
    fault: str | None = None


class DriverUnavailable(Exception):
    """The meter could not be read this time (unplugged, no data yet, base unreachable)."""


class BadAnswer(DriverUnavailable):
    """The meter answered, but not what its protocol says (malformed body, wrong types)."""


class Driver(Protocol):
    def read(self) -> Sample: ...

    def close(self) -> None: ...


def make_driver(settings, clock: Clock) -> Driver:
    """Build the driver named by `settings.kind` (one of oracle.settings.DriverSettings)."""
    if settings.kind == "simulated":
        from oracle.drivers.simulated import SimulatedMeter

        return SimulatedMeter(settings, clock)
    if settings.kind == "ina219":
        from oracle.drivers.ina219 import Ina219Meter

        return Ina219Meter(settings, clock)
    if settings.kind == "acs712-serial":
        from oracle.drivers.acs712_serial import Acs712SerialMeter

        return Acs712SerialMeter(settings, clock)
    if settings.kind == "citizenwatt":
        from oracle.drivers.citizenwatt import CitizenWattMeter

        return CitizenWattMeter(settings, clock)
    raise ValueError(f"unknown driver kind {settings.kind!r}")
