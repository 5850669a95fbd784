"""A CitizenWatt base (Raspberry Pi receiving the CitizenWatt sensor) read over its HTTP API.

`POST /api/time` gives the base's clock; `POST /api/<sensor>/get/watts/by_time/<t1>/<t2>` the
measures between two of its timestamps, as {"data": [{"timestamp": t, "value": W}, ...] | null}.
Every call carries the `login` and `password` form fields, which come from CITIZENWATT_LOGIN /
CITIZENWATT_PASSWORD or a chmod-600 file holding `login:password`, never from the YAML.

Whatever the base (or a proxy in front of it) answers, a read ends within `timeout` seconds per
call, as a Sample or a DriverUnavailable naming what was wrong: an answer that is not the
documented JSON is a BadAnswer, and one malformed measure fails the whole read rather than
averaging the measures that happened to parse.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import socket
import threading
import time
from http.client import HTTPConnection, HTTPException, HTTPResponse, HTTPSConnection
from urllib.parse import urlencode, urlsplit

from daisee.files import read_private
from oracle.clock import Clock
from oracle.drivers import BadAnswer, DriverUnavailable, Sample

log = logging.getLogger(__name__)
MAX_ANSWER = 8 << 20  # bytes; a day of one sensor's measures is ~1 MB
MAX_NESTING = 16  # the base's answers nest 3 deep
JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
LOOKBACK_S = 60.0  # window of the first read after a start (the base keeps history)


def load_credentials(path) -> dict[str, str]:
    login, password = os.environ.get("CITIZENWATT_LOGIN"), os.environ.get("CITIZENWATT_PASSWORD")
    if login is not None and password is not None:
        return {"login": login, "password": password}
    if path is None:
        raise PermissionError("CitizenWatt credentials: set CITIZENWATT_LOGIN/CITIZENWATT_PASSWORD or credentials_file")
    login, _, password = read_private(path).partition(":")
    return {"login": login, "password": password}


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _number(value, what: str) -> float:
    """`value` as a finite float, else BadAnswer naming `what` (JSON also gives strings, null,
    lists, booleans, NaN, 1e999 as inf and integers of any size)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadAnswer(f"{what} is {_short(value)}, not a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise BadAnswer(f"{what} {_short(value)} is not a finite number")
    return number


def _too_deep(body: bytes) -> bool:
    """Whether `body` nests deeper than MAX_NESTING. The json parser recurses in C: deep enough, it
    raises RecursionError, or crashes the process when the recursion limit was raised (py_ecc sets
    100 000 where it is loaded). C-speed passes only: with strings gone (their brackets do not
    nest), each pass removes the innermost pairs; a few unpaired ones (truncated JSON) are left to
    the parser, which cannot recurse deeper than the passes plus those."""
    brackets = JSON_STRING.sub(b"", body).translate(None, NOT_BRACKETS)
    for _ in range(MAX_NESTING):
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
    return len(brackets) > MAX_NESTING


def _shut(sock: socket.socket | None) -> None:
    """Ends the call in progress on `sock`: a read blocked on it wakes up and sees the end."""
    try:
        if sock is not None:  # None: still connecting, which its own timeout bounds
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed: the call finished meanwhile
        pass


class CitizenWattMeter:
    def __init__(self, settings, clock: Clock):
        self.s, self.clock = settings, clock
        self.auth = load_credentials(settings.credentials_file)
        self.url = urlsplit(settings.base_url)
        if self.url.scheme not in ("http", "https") or not self.url.hostname:
            raise ValueError(f"CitizenWatt base_url {settings.base_url!r} is not an http(s) URL")
        self.last_base_time: float | None = None

    def _exchange(self, path: str, where: str) -> tuple[HTTPResponse, bytes]:
        """POST `path`, the whole call within `timeout` seconds. Socket timeouts bound each read
        only: a base dripping its answer a byte at a time would hold the gateway's loop for ever,
        so at the deadline a timer shuts the socket."""
        late = DriverUnavailable(f"{where}: no complete answer within {self.s.timeout} s")
        deadline = time.monotonic() + self.s.timeout
        connection_class = HTTPSConnection if self.url.scheme == "https" else HTTPConnection
        connection = connection_class(self.url.hostname, self.url.port, timeout=self.s.timeout)
        connected = None
        # connection.sock while connecting (TLS handshake included), then the socket connected: the
        # connection lets go of it once the answer's headers say "Connection: close".
        watchdog = threading.Timer(self.s.timeout, lambda: _shut(connection.sock or connected))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.connect()
            connected = connection.sock
            if time.monotonic() >= deadline:  # the watchdog may have fired before there was a socket to shut
                raise late
            connection.request("POST", self.url.path.rstrip("/") + path, body=urlencode(self.auth),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = connection.getresponse()
            body = response.read(MAX_ANSWER + 1)
        except (OSError, HTTPException) as exc:
            raise (late if time.monotonic() >= deadline else
                   DriverUnavailable(f"{where}: {type(exc).__name__}: {exc}")) from exc
        finally:
            watchdog.cancel()
            connection.close()
        if time.monotonic() >= deadline:  # an answer without length, read until the socket was shut, is cut short
            raise late
        return response, body

    def _post(self, path: str):
        """The `data` of the base's JSON answer to `path`."""
        where = f"CitizenWatt base {path}"
        response, body = self._exchange(path, where)
        if response.status != 200:
            raise DriverUnavailable(f"{where}: HTTP {response.status} {response.reason}")
        if len(body) > MAX_ANSWER:
            raise BadAnswer(f"{where}: answer larger than {MAX_ANSWER} bytes")
        if response.length:  # read(amt) returns what came before the connection closed, silently
            raise BadAnswer(f"{where}: answer cut short, {response.length} bytes of its Content-Length missing")
        content_type = response.getheader("Content-Type", "")
        if content_type.partition(";")[0].strip().lower() != "application/json":
            raise BadAnswer(f"{where}: answer is {content_type or 'untyped'}, not application/json: {_short(body)}")
        if _too_deep(body):
            raise BadAnswer(f"{where}: answer nests deeper than {MAX_NESTING} levels: {_short(body)}")
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise BadAnswer(f"{where}: answer is not JSON ({type(exc).__name__}): {_short(body)}") from exc
        if not isinstance(answer, dict) or "data" not in answer:
            raise BadAnswer(f"{where}: answer has no 'data': {_short(answer)}")
        return answer["data"]

    def _mean_watts(self, sensor: int | None, t1: float, t2: float) -> float:
        if sensor is None:
            return 0.0
        measures = self._post(f"/api/{sensor}/get/watts/by_time/{t1:.3f}/{t2:.3f}")
        if measures is None or measures == []:
            raise DriverUnavailable(f"CitizenWatt sensor {sensor}: no measure between {t1:.0f} and {t2:.0f}")
        if not isinstance(measures, list):
            raise BadAnswer(f"CitizenWatt sensor {sensor}: data is {_short(measures)}, not a list of measures")
        values = []
        for i, measure in enumerate(measures):
            if not isinstance(measure, dict) or "value" not in measure:
                raise BadAnswer(f"CitizenWatt sensor {sensor}: measure {i} is {_short(measure)}, not {{'value': W}}")
            values.append(_number(measure["value"], f"CitizenWatt sensor {sensor}: measure {i} value"))
        return sum(values) / len(values)

    def read(self) -> Sample:
        base_now = _number(self._post("/api/time"), "CitizenWatt base /api/time")
        t1 = self.last_base_time
        if t1 is not None and base_now < t1:
            log.warning("CitizenWatt base clock went back from %.0f to %.0f: reading its last %.0f s", t1, base_now,
                        LOOKBACK_S)
        if t1 is None or base_now < t1:  # else the window would stay empty until the base's clock caught up
            t1 = base_now - LOOKBACK_S
        produced = self._mean_watts(self.s.produced_sensor, t1, base_now)
        consumed = self._mean_watts(self.s.consumed_sensor, t1, base_now)
        self.last_base_time = base_now
        return Sample(self.clock.now(), produced, consumed, None)

    def close(self) -> None:
        pass
