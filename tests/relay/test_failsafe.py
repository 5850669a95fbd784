"""Chain outage on a node of this module's own (stopping it must not disturb the other suites)."""
from __future__ import annotations

import time

import pytest

from daisee.chain import Community
from tests.relay.conftest import relay_settings, supply_of, wait_for
from tests.support.anvil import AnvilNode, CommunityAdmin
from tests.support.scenario import trade

FAILSAFE_AFTER = 1.0


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = AnvilNode(tmp_path_factory.mktemp("relay-anvil")).start()
    deployment = node.deploy(node.workdir / "local.json")
    yield node, node.settings(deployment)
    node.stop(hard=True)


@pytest.fixture
def switched(node, tmp_path, start_relay):
    """A relay following a trade whose purchase is open and switched to the seller."""
    anvil, settings = node
    t = trade(CommunityAdmin(Community.open(settings)))
    config = relay_settings(tmp_path, settings, [t], failsafe_after=FAILSAFE_AFTER)
    start_relay(config)
    t.buy()
    wait_for(lambda: supply_of(config, t.buyer.address)["source"] == "seller", what="switch to seller")
    yield anvil, config, t
    if anvil.proc is None:
        anvil.start()


def test_chain_down_switches_everyone_to_own_source_within_failsafe_after(switched):
    anvil, config, t = switched
    anvil.stop()
    stopped = time.monotonic()
    wait_for(lambda: supply_of(config, t.buyer.address)["source"] == "own", timeout=5, what="fail-safe")
    assert time.monotonic() - stopped <= FAILSAFE_AFTER + 0.5


def test_chain_back_restores_open_purchase_and_follows_its_settlement(switched):
    anvil, config, t = switched
    anvil.stop()
    wait_for(lambda: supply_of(config, t.buyer.address)["source"] == "own", timeout=5, what="fail-safe")
    anvil.start()
    wait_for(lambda: supply_of(config, t.buyer.address)["source"] == "seller", what="open purchase restored")
    t.deliver()
    wait_for(lambda: supply_of(config, t.buyer.address)["source"] == "own", what="settlement followed")
