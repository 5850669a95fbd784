"""A CitizenWatt base (Raspberry Pi receiving the CitizenWatt sensor) read over its HTTP API.

`POST /api/time` gives the base's clock; `POST /api/<sensor>/get/watts/by_time/<t1>/<t2>` the
measures between two of its timestamps, as {"data": [{"timestamp": t, "value": W}, ...] | null}.
Every call carries the `login` and `password` form fields, which come from CITIZENWATT_LOGIN /
CITIZENWATT_PASSWORD or a chmod-600 file holding `login:password`, never from the YAML.
"""
from __future__ import annotations

import os

import requests

from daisee.files import read_private
from oracle.clock import Clock
from oracle.drivers import DriverUnavailable, Sample


def load_credentials(path) -> dict[str, str]:
    login, password = os.environ.get("CITIZENWATT_LOGIN"), os.environ.get("CITIZENWATT_PASSWORD")
    if login is not None and password is not None:
        return {"login": login, "password": password}
    if path is None:
        raise PermissionError("CitizenWatt credentials: set CITIZENWATT_LOGIN/CITIZENWATT_PASSWORD or credentials_file")
    login, _, password = read_private(path).partition(":")
    return {"login": login, "password": password}


class CitizenWattMeter:
    def __init__(self, settings, clock: Clock):
        self.s, self.clock = settings, clock
        self.auth = load_credentials(settings.credentials_file)
        self.http = requests.Session()
        self.last_base_time: float | None = None

    def _post(self, path: str):
        try:
            response = self.http.post(f"{self.s.base_url.rstrip('/')}{path}", data=self.auth, timeout=self.s.timeout)
            response.raise_for_status()
            return response.json()["data"]
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise DriverUnavailable(f"CitizenWatt base {path}: {exc}") from exc

    def _mean_watts(self, sensor: int | None, t1: float, t2: float) -> float:
        if sensor is None:
            return 0.0
        measures = self._post(f"/api/{sensor}/get/watts/by_time/{t1:.3f}/{t2:.3f}") or []
        values = [float(m["value"]) for m in measures if isinstance(m, dict) and "value" in m]
        if not values:
            raise DriverUnavailable(f"CitizenWatt sensor {sensor}: no measure between {t1:.0f} and {t2:.0f}")
        return sum(values) / len(values)

    def read(self) -> Sample:
        base_now = float(self._post("/api/time"))
        # First read after start: look back one sample interval's worth (the base keeps history).
        t1 = self.last_base_time if self.last_base_time is not None else base_now - 60.0
        produced = self._mean_watts(self.s.produced_sensor, t1, base_now)
        consumed = self._mean_watts(self.s.consumed_sensor, t1, base_now)
        self.last_base_time = base_now
        return Sample(self.clock.now(), produced, consumed, None)

    def close(self) -> None:
        self.http.close()
