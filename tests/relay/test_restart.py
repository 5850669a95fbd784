"""`daisee-relay run` killed (SIGKILL) in the middle of a stream of purchases and started again:
every purchase is switched to its seller exactly once and back exactly once; and a process dying
between saving a switch and making it has the switch completed after its restart."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from relay.board import SimulatedBoard
from relay.service import Relay
from relay.state import RelayState
from tests.relay.conftest import relay_settings, supply_of, transitions_of, wait_for

CYCLES = 6
KILL_AFTER_BUY_OF, RESTART_AFTER_CYCLE = 2, 3  # cycle 3 runs entirely while the relay is down


def start_service(config_file: Path) -> subprocess.Popen:
    """The `daisee-relay run` command, as systemd starts it (module form: no dependency on PATH)."""
    command = [sys.executable, "-m", "relay.cli", "--config", str(config_file), "run"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_relay_killed_mid_stream_neither_misses_nor_doubles_a_switch(tmp_path, chain_settings, fresh_trade):
    config = relay_settings(tmp_path, chain_settings, [fresh_trade])
    config_file = tmp_path / "relay.yaml"
    config_file.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    buyer, bought = fresh_trade.buyer.address, []
    w3 = fresh_trade.admin.community.w3

    service = start_service(config_file)
    try:
        wait_for(config.board_file.is_file, what="relay started")
        for cycle in range(CYCLES):
            bought.append(fresh_trade.events(fresh_trade.buy(), "BuyEnergy")[0]["purchaseId"])
            if cycle == KILL_AFTER_BUY_OF:
                # Killed after the switch: killed between saving and making it, the purchase would settle
                # before the restarted relay reads the chain, and a settled purchase goes to no seller.
                wait_for(lambda: (moves := transitions_of(config, buyer)) and moves[-1]["purchase_id"] == bought[-1],
                         what="switch before the kill")
                service.send_signal(signal.SIGKILL)
                service.wait(timeout=10)
            fresh_trade.deliver()
            if cycle == RESTART_AFTER_CYCLE:
                service = start_service(config_file)
        head = w3.eth.block_number
        wait_for(lambda: (s := RelayState.load(config.state_file)) and s.cursor >= head, timeout=20,
                 what="relay caught up")
        # state is saved before the board switches: wait for the board to have acted too
        wait_for(lambda: len(transitions_of(config, buyer)) >= 1 + 2 * CYCLES, timeout=20,
                 what="board switched")
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=10)

    moves = [(t["source"], t["purchase_id"]) for t in transitions_of(config, buyer)]
    assert moves == [("own", None)] + [move for p in bought for move in (("seller", p), ("own", None))]


class PowerCut(Exception):
    pass


class BoardLosingPower(SimulatedBoard):
    """Dies while writing a switch to a seller: the relay saved it, the board never made it."""

    def _drive(self, changes):
        if any(supply.source == "seller" for supply in self.supply.values()):
            raise PowerCut
        super()._drive(changes)


def test_switch_saved_but_not_made_is_completed_once_the_chain_is_read(tmp_path, chain_settings, fresh_trade,
                                                                        start_relay):
    config = relay_settings(tmp_path, chain_settings, [fresh_trade])
    buyer = fresh_trade.buyer.address
    dying = Relay(config, board=BoardLosingPower(config))
    dying.start()
    purchase_id = fresh_trade.events(fresh_trade.buy(), "BuyEnergy")[0]["purchaseId"]
    with pytest.raises(PowerCut):
        dying.step()
    assert RelayState.load(config.state_file).supply[buyer].purchase_id == purchase_id
    assert supply_of(config, buyer)["source"] == "own"
    start_relay(config)
    wait_for(lambda: len(transitions_of(config, buyer)) >= 2, what="switch completed")  # logged after the board
    assert [(t["source"], t["purchase_id"]) for t in transitions_of(config, buyer)] == [
        ("own", None), ("seller", purchase_id)]
    assert supply_of(config, buyer)["purchase_id"] == purchase_id
