"""INA219 current/power monitors on I2C (pi-ina219): one on the PV side, one on the load side.
The library is imported only when this driver is chosen (`pip install .[pi]`); tests pass a
stand-in for the chip class, never for this code."""
from __future__ import annotations

from oracle.battery import battery_soc
from oracle.clock import Clock
from oracle.drivers import DriverUnavailable, Sample


def _chip_class():
    from ina219 import INA219  # noqa: PLC0415 - optional hardware dependency

    return INA219


class Ina219Meter:
    def __init__(self, settings, clock: Clock, chip_class=None):
        self.s, self.clock = settings, clock
        chip_class = chip_class or _chip_class()
        self.chips = {}
        for side in ("produced", "consumed"):
            sensor = getattr(settings, side)
            if sensor is None:
                continue
            kwargs = {"address": sensor.address}
            if sensor.busnum is not None:
                kwargs["busnum"] = sensor.busnum
            chip = chip_class(sensor.shunt_ohms, sensor.max_amps, **kwargs)
            chip.configure()
            self.chips[side] = chip

    def read(self) -> Sample:
        try:
            watts = {side: chip.power() / 1000.0 for side, chip in self.chips.items()}  # library gives mW
            chip = self.chips.get(self.s.battery_sensor)
            volts = chip.voltage() if chip is not None and self.s.battery.source == "voltage_curve" else None
        except OSError as exc:  # I2C bus errors (sensor unplugged, bad contact)
            raise DriverUnavailable(f"INA219 read failed: {exc}") from exc
        soc, fault = battery_soc(self.s.battery, volts)
        return Sample(self.clock.now(), watts.get("produced", 0.0), watts.get("consumed", 0.0), soc, fault)

    def close(self) -> None:
        pass
