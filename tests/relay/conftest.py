"""Relay fixtures: settings wired to fresh trades, an in-process relay thread driving the simulated
board (the only fake: the hardware), and polling instead of sleeping."""
from __future__ import annotations

import threading
import time

import pytest

from daisee.chain import connect
from daisee.files import read_json
from relay.board import read_transitions
from relay.config import MemberWiring, RelaySettings
from relay.service import Relay
from tests.support.scenario import SELLER_CHANNEL, trade

OWN_CHANNEL = 0


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def relay_settings(folder, chain, trades, **overrides) -> RelaySettings:
    """A relay wired for the buyers of `trades`: own source on channel 0, their seller on the rule's channel."""
    members = {t.buyer.address: MemberWiring(own_channel=OWN_CHANNEL, sellers={t.seller.address: SELLER_CHANNEL})
               for t in trades}
    chain = chain.model_copy(update={"poll_interval": 0.02, "request_timeout": 0.5})
    return RelaySettings(chain=chain, members=members, state_file=folder / "state.json",
                         board_file=folder / "board.json", transitions_file=folder / "transitions.jsonl",
                         **overrides)


def supply_of(config: RelaySettings, member: str) -> dict | None:
    board = read_json(config.board_file) or {}
    return board.get("supply", {}).get(member)


def transitions_of(config: RelaySettings, member: str) -> list[dict]:
    return [t for t in read_transitions(config) if t["member"] == member]


class RelayThread:
    def __init__(self, config: RelaySettings):
        self.config = config
        self.relay = Relay(config)
        self.w3 = connect(config.chain)  # the test's own connection: the relay's opens on its first read
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.relay.run, args=(self.stop,), daemon=True)
        self.thread.start()
        # Started: the board has every member (the relay's first act; it does not wait for the chain).
        wait_for(lambda: all(supply_of(config, m) for m in config.members), what="relay started")

    def close(self):
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()

    def caught_up(self) -> bool:
        return self.relay.state.cursor >= self.w3.eth.block_number


@pytest.fixture
def start_relay():
    """start_relay(config) -> RelayThread; every relay started is stopped at teardown."""
    started: list[RelayThread] = []

    def start(config: RelaySettings) -> RelayThread:
        started.append(RelayThread(config))
        return started[-1]

    yield start
    for r in started:
        r.close()


@pytest.fixture
def fresh_trade(admin):
    return trade(admin)
