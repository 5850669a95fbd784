"""An Arduino with ACS712 current sensors (PV side, load side) and a battery voltage divider,
printing one frame per second over USB serial (sketch: oracle/arduino/daisee_meter/).

Frame (ASCII, one per line, NMEA-style checksum):

    $DAISEE,<millis>,<produced_w>,<consumed_w>,<battery_v>*<XX>\\r\\n

`XX` is the XOR of every byte between `$` and `*`, in two hex digits; `battery_v` is empty when
no divider is wired (then set `battery.source: none`: with a voltage curve, a frame without a
voltage is a fault and its sample is quarantined). Frames failing the checksum, partial lines and
garbage are skipped (counted in the log: they are line noise, and an intact frame is checksummed,
so skipping one never skews the mean of the others), and an unplugged Arduino makes the read fail
(DriverUnavailable) until it comes back: the port is reopened on the next read.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from oracle.battery import battery_soc
from oracle.clock import Clock
from oracle.drivers import DriverUnavailable, Sample

log = logging.getLogger(__name__)
MAX_LINE = 128  # longer runs without a newline are line noise


@dataclass(frozen=True)
class Frame:
    millis: int
    produced_w: float
    consumed_w: float
    battery_v: float | None


def checksum(body: bytes) -> str:
    value = 0
    for byte in body:
        value ^= byte
    return f"{value:02X}"


def parse_frame(line: bytes) -> Frame | None:
    """The frame in `line`, or None for anything that is not a whole, intact frame."""
    line = line.strip()
    if not line.startswith(b"$") or b"*" not in line:
        return None
    body, _, given = line[1:].rpartition(b"*")
    if given.decode("ascii", "replace").upper() != checksum(body):
        return None
    fields = body.split(b",")
    if len(fields) != 5 or fields[0] != b"DAISEE":
        return None
    try:
        millis, produced, consumed = int(fields[1]), float(fields[2]), float(fields[3])
        battery = float(fields[4]) if fields[4] else None
    except ValueError:
        return None
    return Frame(millis, produced, consumed, battery)


def frame_line(body: str) -> bytes:
    """`body` framed as the sketch does: `$`, body, `*`, checksum, CRLF."""
    return f"${body}*{checksum(body.encode())}\r\n".encode()


def format_frame(millis: int, produced_w: float, consumed_w: float, battery_v: float | None) -> bytes:
    """The sketch's output for these values (used by tests and the bench)."""
    battery = "" if battery_v is None else f"{battery_v:.2f}"
    return frame_line(f"DAISEE,{millis},{produced_w:.1f},{consumed_w:.1f},{battery}")


class Acs712SerialMeter:
    def __init__(self, settings, clock: Clock):
        self.s, self.clock = settings, clock
        self.port = None
        self.buffer = b""

    def _open(self):
        import serial  # noqa: PLC0415 - only this driver needs pyserial

        try:
            self.port = serial.serial_for_url(self.s.port, baudrate=self.s.baudrate, timeout=0.05)
        except (serial.SerialException, OSError) as exc:
            raise DriverUnavailable(f"cannot open {self.s.port}: {exc}") from exc
        self.buffer = b""
        log.info("serial meter connected on %s", self.s.port)

    def _lines(self) -> list[bytes]:
        data = self.port.read(max(1, self.port.in_waiting))
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > MAX_LINE:
            lines.append(self.buffer)  # line noise: reported as a skipped line, never dropped unseen
            self.buffer = b""
        return lines

    def _frames(self) -> tuple[list[Frame], str]:
        """Every valid frame waiting, or the first one to arrive within read_timeout; and what was
        skipped on the way ("" if nothing)."""
        frames: list[Frame] = []
        skipped, first = 0, b""
        deadline = time.monotonic() + self.s.read_timeout
        while not (frames and not self.port.in_waiting) and time.monotonic() <= deadline:
            for line in self._lines():
                frame = parse_frame(line)
                if frame is not None:
                    frames.append(frame)  # implausible values are the validator's to reject, with a reason
                elif line.strip():
                    skipped, first = skipped + 1, first or line[:MAX_LINE]
        return frames, f"{skipped} line(s) skipped, not intact frames, first {first!r}" if skipped else ""

    def read(self) -> Sample:
        import serial  # noqa: PLC0415

        if self.port is None:
            self._open()
        try:
            frames, skipped = self._frames()
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise DriverUnavailable(f"serial meter lost on {self.s.port}: {exc}") from exc
        if not frames:
            raise DriverUnavailable(f"no valid frame from {self.s.port} within {self.s.read_timeout} s"
                                    + (f" ({skipped})" if skipped else ""))
        if skipped:
            log.info("serial meter %s: %s", self.s.port, skipped)
        # Frames are 1 s means; their mean is the mean power since the previous sample.
        produced = sum(f.produced_w for f in frames) / len(frames)
        consumed = sum(f.consumed_w for f in frames) / len(frames)
        soc, fault = battery_soc(self.s.battery, frames[-1].battery_v)
        return Sample(self.clock.now(), produced, consumed, soc, fault)

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except Exception:  # closing a vanished device may fail: it is gone either way
                pass
            self.port = None
