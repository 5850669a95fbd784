"""Chain outage on a node of this module's own (stopping it must not disturb the other suites). The
relay reads the node through a FlakyNode that fails the way nodes do; the test's own transactions
go to the node directly, so the chain moves on while the relay cannot read it."""
from __future__ import annotations

import time

import pytest

from daisee.chain import Community
from tests.relay.conftest import relay_settings, supply_of, transitions_of, wait_for
from tests.relay.flaky_node import FlakyNode
from tests.support.anvil import AnvilNode, CommunityAdmin
from tests.support.scenario import trade

FAILSAFE_AFTER = 2.0
MARGIN = 1.0  # thread scheduling and fsyncs on a loaded 2-core VM (web3's retries made it 4.4 s, not 2)
SLOW_ANSWER = 3.0  # longer than FAILSAFE_AFTER: a node this slow must not count as readable


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = AnvilNode(tmp_path_factory.mktemp("relay-anvil")).start()
    deployment = node.deploy(node.workdir / "local.json")
    yield node, node.settings(deployment)
    node.stop(hard=True)


@pytest.fixture
def flaky(node):
    anvil, _ = node
    proxy = FlakyNode(anvil.url, slow_answer=SLOW_ANSWER)
    yield proxy
    proxy.close()
    if anvil.proc is None:
        anvil.start()


def follow_trade(node, flaky, folder, start_relay, failsafe_after: float = FAILSAFE_AFTER):
    """A relay reading through `flaky`, following a trade whose purchase is open and switched to the seller."""
    anvil, settings = node
    t = trade(CommunityAdmin(Community.open(settings)))
    config = relay_settings(folder, settings.model_copy(update={"rpc_url": flaky.url}), [t],
                            failsafe_after=failsafe_after)
    relay = start_relay(config)
    t.buy()
    wait_for(lambda: last_move(config, t) == "seller", what="switch to seller")
    return anvil, flaky, config, t, relay


@pytest.fixture
def switched(node, flaky, tmp_path, start_relay):
    return follow_trade(node, flaky, tmp_path, start_relay)


def on(config, t, source: str) -> bool:
    return supply_of(config, t.buyer.address)["source"] == source


def failsafe_within_bound(config, t, since: float) -> float:
    """Seconds from `since` until the board has the buyer on its own source, checked against the promise:
    `failsafe_after` after the last good read (at most `since`), plus one poll interval."""
    wait_for(lambda: on(config, t, "own"), timeout=config.failsafe_after + 15, what="fail-safe")
    took = time.monotonic() - since
    assert took <= config.failsafe_after + config.chain.poll_interval + MARGIN
    return took


def last_move(config, t) -> str | None:
    """The source of the buyer's latest transition; the log is written just after the board."""
    moves = transitions_of(config, t.buyer.address)
    return moves[-1]["source"] if moves else None


def failed_safe(config, t) -> int:
    """Waits for the fail-safe of a buyer on a seller to be logged; returns the number of transitions so far."""
    wait_for(lambda: last_move(config, t) == "own", timeout=config.failsafe_after + 15, what="fail-safe")
    return len(transitions_of(config, t.buyer.address))


def caught_up(relay, t) -> bool:
    """The relay has read up to the chain's head and left the fail-safe."""
    return relay.relay.state.cursor >= t.admin.community.w3.eth.block_number and not relay.relay.failsafe


@pytest.mark.parametrize("fault", ["down", "hung", "stalled", "cut", "slow"])
def test_chain_unreadable_switches_everyone_to_own_source_within_failsafe_after(switched, fault):
    """down: the node's process is gone; hung: it accepts and never answers; stalled: half an answer,
    then silence on an open connection (half-open); cut: half an answer, then a close; slow: a byte at a
    time, each within the read timeout, the whole answer in SLOW_ANSWER seconds."""
    anvil, flaky, config, t, _ = switched
    began = time.monotonic()
    if fault == "down":
        anvil.stop()
    else:
        flaky.mode = fault
    took = failsafe_within_bound(config, t, began)
    assert took >= FAILSAFE_AFTER - 0.5  # an outage shorter than failsafe_after is tolerated


def test_slow_answers_do_not_end_the_failsafe(switched):
    """Every answer of a node slower than failsafe_after is stale when it comes: the relay stays on own sources."""
    _, flaky, config, t, _ = switched
    flaky.mode = "slow"
    switches = failed_safe(config, t)
    wait_for(lambda: flaky.slow_answers >= 2, timeout=4 * SLOW_ANSWER, what="a whole read answered slowly")
    time.sleep(10 * config.chain.poll_interval)  # the read those answers made is handled
    assert len(transitions_of(config, t.buyer.address)) == switches


def test_chain_back_restores_open_purchase_and_follows_its_settlement(switched):
    anvil, _, config, t, _ = switched
    anvil.stop()
    wait_for(lambda: on(config, t, "own"), timeout=FAILSAFE_AFTER + 15, what="fail-safe")
    anvil.start()
    wait_for(lambda: on(config, t, "seller"), what="open purchase restored")
    t.deliver()
    wait_for(lambda: on(config, t, "own"), what="settlement followed")


def test_purchase_settled_during_outage_is_not_switched_back_to_its_seller(switched):
    _, flaky, config, t, relay = switched
    flaky.mode = "hung"
    in_failsafe = failed_safe(config, t)
    t.deliver()
    flaky.mode = "up"
    wait_for(lambda: caught_up(relay, t), what="relay caught up")
    assert transitions_of(config, t.buyer.address)[in_failsafe:] == []
    assert relay.relay.state.supply[t.buyer.address].source == "own"


def test_relay_restarted_during_outage_stays_on_own_sources_until_caught_up(switched, start_relay):
    _, flaky, config, t, first = switched
    flaky.mode = "hung"
    in_failsafe = failed_safe(config, t)
    first.close()
    t.deliver()  # settles while no relay can read the chain
    second = start_relay(config)  # the same state and board files, the node still hung
    watch_until = time.monotonic() + 3 * FAILSAFE_AFTER
    while time.monotonic() < watch_until:
        assert on(config, t, "own")
        time.sleep(config.chain.poll_interval)
    flaky.mode = "up"
    wait_for(lambda: caught_up(second, t), what="restarted relay caught up")
    assert transitions_of(config, t.buyer.address)[in_failsafe:] == []


def test_relay_restarted_during_outage_keeps_its_outage_clock(node, flaky, tmp_path, start_relay):
    # A longer fail-safe than elsewhere, so that the bounds tell this clock from one restarted with the
    # process (fail-safe at 1.5 x failsafe_after) and from a fail-safe at every start (0.5 x).
    failsafe_after = 4.0
    _, flaky, config, t, first = follow_trade(node, flaky, tmp_path, start_relay, failsafe_after)
    began = time.monotonic()
    flaky.mode = "hung"
    time.sleep(failsafe_after / 2)  # the first half of the outage with the first relay
    first.close()
    assert on(config, t, "seller")  # not failed safe yet: the new relay has to
    start_relay(config)
    took = failsafe_within_bound(config, t, began)
    assert took >= 0.75 * failsafe_after - 0.25  # the saved read time may be failsafe_after / 4 old
