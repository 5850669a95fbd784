"""Relay boards. A channel's relay is closed while some member's supply uses that channel; the
board turns the members' supplies into pin levels and writes them break-before-make, so that a
member is never fed by two sources in parallel. Two backends: RPi.GPIO (BCM numbering) and a
simulated board whose state is a JSON file (read by the oracle's simulated driver and the tests)."""
from __future__ import annotations

import json
import threading
import time
from collections import deque

from daisee.files import read_json, write_atomic
from relay.config import RelaySettings
from relay.state import Supply


class Board:
    def __init__(self, config: RelaySettings):
        self.pins = dict(config.pins)
        self.active_low = config.active_low
        self.supply: dict[str, Supply] = {}  # what the hardware is doing now, per member
        self.levels: dict[int, int] = {}  # last level written per pin; unknown pins get written
        self.switches = 0
        self.recent: deque[dict] = deque(maxlen=100)  # the latest transitions, for a reader in-process
        self.lock = threading.Lock()  # the service thread and a reader (bench, tests) share the board

    def switch(self, member: str, supply: Supply, reason: str) -> bool:
        """Make `member` take `supply`. Returns whether that was a transition (False: already so)."""
        with self.lock:
            if self.supply.get(member) == supply and self._changes() == []:
                return False
            self.supply[member] = supply
            changes = self._changes()
            # Break before make: open the relays that go off before closing those that go on.
            changes.sort(key=lambda change: self._is_on(change[1]))
            self._drive(changes)
            self.levels.update(changes)
            transition = {"t": time.time(), "member": member, "reason": reason, **supply.model_dump()}
            self.switches += 1
            self.recent.append(transition)
            self._record(transition)
            return True

    def assume(self, supplies: dict[str, Supply]) -> None:
        """Take `supplies` as the position of members the board knows nothing about yet (a fresh RPi board),
        so that switching one member does not open the relays of the others."""
        for member, supply in supplies.items():
            self.supply.setdefault(member, supply)

    def switch_all(self, supplies: dict[str, Supply], reason: str) -> int:
        return sum(self.switch(member, supply, reason) for member, supply in supplies.items())

    def close(self) -> None:
        """Leave the relays as they are: dropping them when the service stops would cut the supply."""

    def _is_on(self, level: int) -> bool:
        return bool(level) != self.active_low

    def _changes(self) -> list[tuple[int, int]]:
        used = {supply.channel for supply in self.supply.values()}
        wanted = {pin: int((channel in used) != self.active_low) for channel, pin in self.pins.items()}
        return [(pin, level) for pin, level in wanted.items() if self.levels.get(pin) != level]

    def _drive(self, changes: list[tuple[int, int]]) -> None:
        raise NotImplementedError

    def _record(self, transition: dict) -> None:
        """Keep a history where the backend has one (the simulated board)."""


class SimulatedBoard(Board):
    """Pins and supplies in a JSON file replaced atomically; every transition appended to a JSON-lines log.
    The board resumes from its file, as real relays keep their position across a service restart."""

    def __init__(self, config: RelaySettings):
        super().__init__(config)
        self.board_file = config.board_file
        self.transitions_file = config.transitions_file
        saved = read_json(self.board_file) or {}
        self.levels = {int(pin): level for pin, level in saved.get("pins", {}).items()}
        self.supply = {member: Supply(**s) for member, s in saved.get("supply", {}).items()}

    def _drive(self, changes: list[tuple[int, int]]) -> None:
        pins = {**self.levels, **dict(changes)}
        state = {
            "pins": {str(pin): level for pin, level in sorted(pins.items())},
            "supply": {member: supply.model_dump() for member, supply in self.supply.items()},
            "updated": time.time(),
        }
        write_atomic(self.board_file, json.dumps(state, indent=1))

    def _record(self, transition: dict) -> None:
        if self.transitions_file is not None:
            self.transitions_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.transitions_file, "a") as f:
                f.write(json.dumps(transition) + "\n")


class RpiBoard(Board):
    """RPi.GPIO, BCM pin numbers. Imported only here: the library exists only on a Pi (`pip install .[pi]`)."""

    def __init__(self, config: RelaySettings):
        super().__init__(config)
        import RPi.GPIO as GPIO  # noqa: N814 - the library's own name

        self.gpio = GPIO
        GPIO.setwarnings(False)  # pins left as outputs by the previous run are expected
        GPIO.setmode(GPIO.BCM)
        self._set_up: set[int] = set()

    def _drive(self, changes: list[tuple[int, int]]) -> None:
        for pin, level in changes:
            if pin not in self._set_up:
                # Output with its level from the start: no glitch through a default level.
                self.gpio.setup(pin, self.gpio.OUT, initial=level)
                self._set_up.add(pin)
            else:
                self.gpio.output(pin, level)


def make_board(config: RelaySettings) -> Board:
    return RpiBoard(config) if config.backend == "rpi" else SimulatedBoard(config)


def read_transitions(config: RelaySettings) -> list[dict]:
    path = config.transitions_file
    if path is None or not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
