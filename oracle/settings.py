"""Oracle configuration (YAML + `DAISEE_ORACLE_*` environment), see oracle/example.yaml.

Secrets never appear here: the meter key is an ape keyfile whose passphrase comes from
`APE_ACCOUNTS_<alias>_PASSPHRASE` or a chmod-600 file; CitizenWatt credentials likewise.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from daisee.config import ServiceSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatterySettings(_Strict):
    """How the state of charge is known: `none`, a fuel gauge (the driver reports permille itself)
    or a voltage curve applied to the battery voltage. The simulated driver simulates its battery."""

    source: Literal["none", "fuel_gauge", "voltage_curve"] = "none"
    # (volts, permille) points, any order; linear interpolation, clamped at the ends.
    curve: list[tuple[float, int]] = Field([(11.8, 0), (12.2, 250), (12.5, 500), (12.8, 800), (13.0, 1000)],
                                           min_length=1)
    # Within this many volts beyond the curve's ends a voltage is clamped to them (a lead-acid
    # battery reads ~14.4 V while charging, ~11 V under load); farther, at or below 0 V or not a
    # number, it is a wiring fault: the sample is quarantined, it never gives a SoC.
    margin_v: float = Field(2.0, ge=0)


class SimulatedDriver(_Strict):
    kind: Literal["simulated"] = "simulated"
    profile: Literal["producer", "consumer", "prosumer"] = "prosumer"
    seed: int = 1
    pv_peak_w: float = Field(3000.0, ge=0)
    base_load_w: float = Field(300.0, ge=0)
    evening_peak_w: float = Field(1500.0, ge=0)
    battery_wh: float = Field(5000.0, gt=0)
    initial_soc_permille: int = Field(600, ge=0, le=1000)
    charge_from_seller_w: float = Field(1000.0, ge=0)
    utc_offset_hours: float = 1.0
    relay_state_file: Path | None = None
    member: str | None = None  # checksum address of the meter's owner, to find it in the relay state
    battery_state_file: Path | None = None  # keeps the simulated battery's charge across oracle restarts


class Ina219Sensor(_Strict):
    address: int = 0x40
    shunt_ohms: float = Field(0.1, gt=0)
    max_amps: float = Field(3.2, gt=0)
    busnum: int | None = None


class Ina219Driver(_Strict):
    kind: Literal["ina219"] = "ina219"
    produced: Ina219Sensor | None = None  # PV side
    consumed: Ina219Sensor | None = Ina219Sensor()  # load side
    battery: BatterySettings = BatterySettings()
    battery_sensor: Literal["produced", "consumed"] = "consumed"  # whose bus voltage is the battery's


class Acs712SerialDriver(_Strict):
    kind: Literal["acs712-serial"] = "acs712-serial"
    port: str = "/dev/ttyACM0"  # a device path or any pyserial URL
    baudrate: int = 9600
    read_timeout: float = Field(2.0, gt=0)  # wait at most this long for a valid frame
    battery: BatterySettings = BatterySettings(source="voltage_curve")


class CitizenWattDriver(_Strict):
    kind: Literal["citizenwatt"] = "citizenwatt"
    base_url: str = "http://citizenwatt.local"
    produced_sensor: int | None = None
    consumed_sensor: int | None = 1
    timeout: float = Field(5.0, gt=0)
    # "login:password" in a chmod-600 file, unless CITIZENWATT_LOGIN / CITIZENWATT_PASSWORD are set.
    credentials_file: Path | None = None


DriverSettings = Annotated[
    Union[SimulatedDriver, Ina219Driver, Acs712SerialDriver, CitizenWattDriver], Field(discriminator="kind")
]


class Limits(_Strict):
    """Physical plausibility of a sample; anything outside goes to quarantine."""

    max_power_w: float = Field(20_000.0, gt=0)  # a household connection is < 12 kVA
    max_step_w: float = Field(15_000.0, gt=0)  # change from the last accepted sample...
    step_confirm_samples: int = Field(1, ge=1, le=60)  # ...unless held by this many samples read just before
    max_future_s: float = Field(5.0, ge=0)  # sample timestamp ahead of the oracle clock
    max_gap_s: float = Field(900.0, gt=0)  # longer outages are not integrated at the last power


class MeterSettings(_Strict):
    meter_id: int = Field(ge=1, lt=2**32)
    driver: DriverSettings = SimulatedDriver()
    limits: Limits = Limits()
    # Reported while the driver cannot tell the state of charge (before the first known value):
    # full, so that the contract's buyer rules never fire on a meter that cannot see its battery.
    unknown_soc_permille: int = Field(1000, ge=0, le=1000)


class BatchSettings(_Strict):
    max_readings: int = Field(50, ge=1, le=512)  # capped at the contract's MAX_BATCH (64), read at start
    max_seconds: float = Field(60.0, ge=0)  # send a partial batch when its oldest reading is this old
    in_flight: int = Field(1, ge=1, le=16)  # transactions sent before waiting for receipts


class RetrySettings(_Strict):
    initial_s: float = Field(1.0, gt=0)
    max_s: float = Field(60.0, gt=0)


class HealthSettings(_Strict):
    file: Path | None = Path("/run/daisee-oracle/health.json")
    metrics_port: int | None = None  # serves Prometheus text on 127.0.0.1:<port>/metrics
    metrics_host: str = "127.0.0.1"


class OracleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DAISEE_ORACLE_", env_nested_delimiter="__", extra="forbid")

    account: str = "meter"  # ape account alias of the meter (or gateway) key
    passphrase_file: Path | None = None
    database: Path = Path("/var/lib/daisee-oracle/oracle.db")
    sample_interval: float = Field(5.0, gt=0)
    meters: list[MeterSettings] = Field(default_factory=lambda: [MeterSettings(meter_id=1)], min_length=1)
    batch: BatchSettings = BatchSettings()
    retry: RetrySettings = RetrySettings()
    health: HealthSettings = HealthSettings()
