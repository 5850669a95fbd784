"""The CitizenWatt driver against a real HTTP server on loopback speaking the base's API."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from oracle.clock import ManualClock
from oracle.drivers import DriverUnavailable
from oracle.drivers.citizenwatt import CitizenWattMeter, load_credentials
from oracle.settings import CitizenWattDriver

BASE_TIME = 1_700_000_000.0
# sensor -> [(timestamp, watts)]
MEASURES = {1: [(BASE_TIME - 50, 300.0), (BASE_TIME - 30, 500.0), (BASE_TIME - 100, 9999.0)],
            2: [(BASE_TIME - 20, 1200.0)]}


class CitizenWattBase(BaseHTTPRequestHandler):
    def do_POST(self):
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        if form.get("login") != ["alice"] or form.get("password") != ["s3cret"]:
            self.send_error(403, "Access forbidden")
            return
        parts = self.path.strip("/").split("/")
        if parts == ["api", "time"]:
            data = BASE_TIME
        elif len(parts) == 7 and parts[2:5] == ["get", "watts", "by_time"]:
            t1, t2 = float(parts[5]), float(parts[6])
            rows = [{"id": i, "sensor_id": int(parts[1]), "timestamp": t, "value": w}
                    for i, (t, w) in enumerate(MEASURES.get(int(parts[1]), [])) if t1 <= t < t2]
            data = rows or None
        else:
            self.send_error(404)
            return
        body = json.dumps({"data": data, "rate": "day"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), CitizenWattBase)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("CITIZENWATT_LOGIN", "alice")
    monkeypatch.setenv("CITIZENWATT_PASSWORD", "s3cret")


def driver(base_url, **kw):
    return CitizenWattMeter(CitizenWattDriver(base_url=base_url, timeout=2, **kw), ManualClock())


def test_power_is_the_mean_of_the_measures_since_last_read(base_url, credentials):
    sample = driver(base_url, produced_sensor=2, consumed_sensor=1).read()
    assert (sample.produced_w, sample.consumed_w) == (1200.0, 400.0)


def test_sensor_without_measures_is_unavailable(base_url, credentials):
    with pytest.raises(DriverUnavailable, match="no measure"):
        driver(base_url, consumed_sensor=3).read()


def test_wrong_credentials_are_unavailable(base_url, monkeypatch):
    monkeypatch.setenv("CITIZENWATT_LOGIN", "mallory")
    monkeypatch.setenv("CITIZENWATT_PASSWORD", "guess")
    with pytest.raises(DriverUnavailable, match="403"):
        driver(base_url).read()


def test_credentials_file_readable_by_others_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CITIZENWATT_LOGIN", raising=False)
    secret = tmp_path / "cw"
    secret.write_text("alice:s3cret")
    secret.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_credentials(secret)
