"""The far ends of the meters, for real: a CitizenWatt base on loopback that can also answer
anything (malformed, truncated, dripped a byte at a time, never ending), an Arduino on a
pseudo-terminal; and the corpus of bad inputs each driver must turn into a reason."""
from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from oracle.drivers.acs712_serial import format_frame, frame_line

BASE_TIME = 1_700_000_000.0
LOGIN, PASSWORD = "alice", "s3cret"


def measures(sensor: int, t1: float, t2: float) -> list[dict]:
    """The base's history between t1 and t2: a measure every 10 s; sensor 1 alternates 300 W and
    500 W (but 9999 W at BASE_TIME - 100, before a first read's window), sensor 2 is 1200 W."""
    rows = []
    t = math.ceil(t1 / 10) * 10
    while t < t2 and sensor in (1, 2):
        value = 1200.0 if sensor == 2 else 9999.0 if t == BASE_TIME - 100 else (300.0, 500.0)[t // 10 % 2]
        rows.append({"id": len(rows), "sensor_id": sensor, "timestamp": float(t), "value": value})
        t += 10
    return rows


def http_answer(data=None, *, body: bytes | None = None, status: int = 200,
                content_type: str | None = "application/json", length: int | None = None) -> tuple[bytes, bytes]:
    """(head, body) of an HTTP answer carrying {"data": data}, or `body` as given; `length`
    overrides the Content-Length (a lie), -1 leaves it out (the body then ends with the connection)."""
    body = json.dumps({"data": data, "rate": "day"}).encode() if body is None else body
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Connection: close"]
    if content_type:
        head.append(f"Content-Type: {content_type}")
    if length != -1:
        head.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(head) + "\r\n\r\n").encode(), body


@dataclass(frozen=True)
class Raw:
    """Bytes the base sends instead of its answer: `fast` at once, then `slow` one byte every
    `drip` seconds, then, if `endless`, a space every `drip` seconds until the client hangs up."""

    fast: bytes
    slow: bytes = b""
    drip: float = 0.05
    endless: bool = False

    @classmethod
    def answer(cls, *args, **kw) -> "Raw":
        return cls(b"".join(http_answer(*args, **kw)))

    def send(self, out) -> None:
        try:
            out.write(self.fast)
            for byte in self.slow:
                out.write(bytes([byte]))
                time.sleep(self.drip)
            while self.endless:
                out.write(b" ")
                time.sleep(self.drip)
        except OSError:  # the client gave up (its deadline): so do we
            pass


class CitizenWattBase(BaseHTTPRequestHandler):
    """The base's API over `self.server.now` (which moves `step` s per /api/time call) and
    `measures`, unless `self.server.answers` holds a Raw for the endpoint ("time" or "watts")."""

    def do_POST(self):
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        if form.get("login") != [LOGIN] or form.get("password") != [PASSWORD]:
            self.send_error(403, "Access forbidden")
            return
        parts = self.path.strip("/").split("/")
        if parts == ["api", "time"]:
            endpoint, data = "time", self.server.now
            self.server.now += self.server.step
        elif len(parts) == 7 and parts[2:5] == ["get", "watts", "by_time"]:
            endpoint, data = "watts", measures(int(parts[1]), float(parts[5]), float(parts[6])) or None
        else:
            self.send_error(404)
            return
        self.close_connection = True
        self.server.answers.get(endpoint, Raw.answer(data)).send(self.wfile)

    def log_message(self, *args):
        pass


class Base:
    """A CitizenWatt base on 127.0.0.1, serving until close()."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), CitizenWattBase)
        self.server.now, self.server.step, self.server.answers = BASE_TIME, 10.0, {}
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def answers(self) -> dict[str, Raw]:
        return self.server.answers

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Arduino:
    """The far end of a pty, reached through a stable symlink as udev would provide."""

    def __init__(self, link):
        self.link = link
        self.plug()

    def plug(self):
        self.master, slave = os.openpty()
        self.slave_path = os.ttyname(slave)
        os.close(slave)
        if self.link.is_symlink():
            self.link.unlink()
        self.link.symlink_to(self.slave_path)

    def unplug(self):
        os.close(self.master)
        self.link.unlink()

    def write(self, data: bytes):
        os.write(self.master, data)


# (id, endpoint, what the base sends, what the reason says). A base timeout of 0.5 s is assumed.
HEAD_OF_A_JSON_ANSWER = http_answer(BASE_TIME)[0]
CITIZENWATT_CORPUS = [
    ("time-string", "time", Raw.answer("abc"), "/api/time is 'abc', not a number"),
    ("time-null", "time", Raw.answer(None), "/api/time is None, not a number"),
    ("time-object", "time", Raw.answer({}), "/api/time is {}, not a number"),
    ("time-list", "time", Raw.answer([]), "/api/time is [], not a number"),
    ("time-bool", "time", Raw.answer(True), "/api/time is True, not a number"),
    ("time-numeric-string", "time", Raw.answer(str(BASE_TIME)), "not a number"),
    ("time-nan", "time", Raw.answer(body=b'{"data": NaN}'), "/api/time nan is not a finite number"),
    ("time-overflow", "time", Raw.answer(body=b'{"data": 1e999}'), "/api/time inf is not a finite number"),
    ("time-huge-int", "time", Raw.answer(body=b'{"data": 1' + b"0" * 400 + b"}"), "is not a finite number"),
    ("data-string", "watts", Raw.answer("abc"), "data is 'abc', not a list of measures"),
    ("data-object", "watts", Raw.answer({}), "data is {}, not a list of measures"),
    ("data-int", "watts", Raw.answer(7), "data is 7, not a list of measures"),
    ("data-null", "watts", Raw.answer(None), "no measure between"),
    ("data-empty", "watts", Raw.answer([]), "no measure between"),
    ("value-string", "watts", Raw.answer([{"value": 300}, {"value": "abc"}]), "measure 1 value is 'abc', not a number"),
    ("value-null", "watts", Raw.answer([{"value": None}]), "measure 0 value is None, not a number"),
    ("value-list", "watts", Raw.answer([{"value": [1]}]), "measure 0 value is [1], not a number"),
    ("value-object", "watts", Raw.answer([{"value": {"a": 1}}]), "measure 0 value is {'a': 1}, not a number"),
    ("value-bool", "watts", Raw.answer([{"value": False}]), "measure 0 value is False, not a number"),
    ("value-overflow", "watts", Raw.answer(body=b'{"data": [{"value": -1e999}]}'), "-inf is not a finite number"),
    ("value-huge", "watts", Raw.answer([{"value": 1e300}]), "consumed_w 1e+300 W above max_power_w"),
    ("value-negative", "watts", Raw.answer([{"value": -5}]), "consumed_w is negative"),
    ("row-int", "watts", Raw.answer([{"value": 300}, 1]), "measure 1 is 1, not {'value': W}"),
    ("row-without-value", "watts", Raw.answer([{"timestamp": BASE_TIME}]), "measure 0 is {'timestamp'"),
    ("no-data-key", "time", Raw.answer(body=b'{"rate": "day"}'), "answer has no 'data'"),
    ("answer-list", "time", Raw.answer(body=b"[1, 2]"), "answer has no 'data'"),
    ("truncated-json", "watts", Raw.answer(body=b'{"data": [{"value": 3'), "answer is not JSON (JSONDecodeError)"),
    ("empty-body", "time", Raw.answer(body=b""), "answer is not JSON (JSONDecodeError): b''"),
    ("not-utf8", "time", Raw.answer(body=b'{"data": "\xff"}'), "answer is not JSON (UnicodeDecodeError)"),
    ("brackets-in-strings", "watts", Raw.answer([{"note": "[" * 100, "value": "x"}]), "measure 0 value is 'x'"),
    ("deep-nesting", "watts", Raw.answer(body=b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
     "answer nests deeper than 16 levels"),
    ("html", "time", Raw.answer(body=b"<html>login</html>", content_type="text/html"),
     "answer is text/html, not application/json"),
    ("untyped", "time", Raw.answer(BASE_TIME, content_type=None), "answer is untyped, not application/json"),
    ("http-500", "watts", Raw.answer(body=b"Internal error", status=500, content_type="text/plain"),
     "HTTP 500 Internal Server Error"),
    ("http-302", "time", Raw.answer(body=b"", status=302), "HTTP 302 Found"),
    ("length-lie", "watts", Raw.answer(body=b'{"data": []}', length=1000), "answer cut short, 988 bytes"),
    ("hang-up", "time", Raw(b""), "RemoteDisconnected"),
    ("not-http", "time", Raw(b"SSH-2.0-OpenSSH_9.6\r\n"), "BadStatusLine"),
    ("huge-body", "watts", Raw.answer(body=b" " * (9 << 20)), "answer larger than 8388608 bytes"),
    ("drip-body", "time", Raw(HEAD_OF_A_JSON_ANSWER, http_answer(BASE_TIME)[1]), "no complete answer within 0.5 s"),
    ("drip-headers", "watts", Raw(b"", b"".join(http_answer([{"value": 1}]))), "no complete answer within 0.5 s"),
    ("never-ends", "watts", Raw(http_answer(length=-1)[0], b'{"data": ', endless=True),
     "no complete answer within 0.5 s"),
]

# (id, what the Arduino prints, what the reason says), for the default acs712-serial settings.
SERIAL_CORPUS = [
    ("silence", b"", "no valid frame"),
    ("garbage", b"\x00\xff\xfe garbage\r\n", "no valid frame from"),
    ("no-newline", b"A" * 300, "line(s) skipped, not intact frames, first b'AAAA"),
    ("bad-checksum", format_frame(1, 100, 50, 12.5).replace(b"100.0", b"900.0"), "1 line(s) skipped"),
    ("bad-millis", frame_line("DAISEE,abc,100,50,12.5"), "1 line(s) skipped"),
    ("produced-nan", frame_line("DAISEE,1,nan,50,12.5"), "produced_w is not a finite number"),
    ("consumed-inf", frame_line("DAISEE,1,100,1e999,12.5"), "consumed_w is not a finite number"),
    ("produced-huge", frame_line("DAISEE,1,1e300,50,12.5"), "produced_w 1e+300 W above max_power_w"),
    ("produced-negative", frame_line("DAISEE,1,-5,50,12.5"), "produced_w is negative"),
    ("one-bad-frame-among-good", format_frame(1, 100, 50, 12.5) + frame_line("DAISEE,2,nan,50,12.5"),
     "produced_w is not a finite number"),
    ("battery-0v", format_frame(1, 100, 50, 0.0), "battery voltage 0.0 V implausible"),
    ("battery-negative", format_frame(1, 100, 50, -12.5), "battery voltage -12.5 V implausible"),
    ("battery-nan", frame_line("DAISEE,1,100,50,nan"), "battery voltage nan V implausible"),
    ("battery-absurd", format_frame(1, 100, 50, 48.0), "battery voltage 48.0 V implausible"),
    ("battery-missing", format_frame(1, 100, 50, None), "no battery voltage in the reading"),
]
