"""Relay boards: pin levels from supplies. RPi.GPIO is replaced by a recorder (the hardware is the only fake)."""
from __future__ import annotations

import sys
import types

import pytest
from eth_account import Account

from daisee.files import read_json
from relay.board import RpiBoard, SimulatedBoard
from relay.config import MemberWiring, RelaySettings
from relay.state import Supply

MEMBER, SELLER = Account.create().address, Account.create().address
OWN, FROM_SELLER = Supply(channel=0), Supply(source="seller", channel=1, seller=SELLER, purchase_id=3)


def settings(tmp_path, **overrides) -> RelaySettings:
    return RelaySettings(members={MEMBER: MemberWiring(own_channel=0, sellers={SELLER: 1})},
                         board_file=tmp_path / "board.json", transitions_file=tmp_path / "t.jsonl", **overrides)


@pytest.fixture
def gpio(monkeypatch):
    """A stand-in RPi.GPIO module that records output calls in order."""
    calls = []
    fake = types.SimpleNamespace(BCM="BCM", OUT="OUT", setwarnings=lambda flag: None, setmode=lambda mode: None,
                                 setup=lambda pin, mode, initial: calls.append((pin, initial)),
                                 output=lambda pin, level: calls.append((pin, level)))
    package = types.ModuleType("RPi")
    package.GPIO = fake
    monkeypatch.setitem(sys.modules, "RPi", package)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", fake)
    return calls


def test_rpi_board_opens_the_old_source_before_closing_the_new_one(tmp_path, gpio):
    board = RpiBoard(settings(tmp_path, active_low=True))
    board.switch(MEMBER, FROM_SELLER, "startup")
    gpio.clear()
    board.switch(MEMBER, OWN, "settled")
    assert gpio == [(18, 1), (17, 0)]  # active-low: seller's 18 released (high) first, then own 17 closed (low)


def test_simulated_board_resumes_from_its_file_without_a_new_transition(tmp_path):
    SimulatedBoard(settings(tmp_path)).switch(MEMBER, FROM_SELLER, "purchase")
    again = SimulatedBoard(settings(tmp_path))
    assert again.switch(MEMBER, FROM_SELLER, "replay") is False
    assert read_json(tmp_path / "board.json")["pins"] == {"17": 0, "18": 1, "22": 0, "27": 0}
