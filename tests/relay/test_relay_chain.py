"""The relay in a thread against the session anvil: it follows real BuyEnergy/PurchaseSettled."""
from __future__ import annotations

import pytest

from daisee.chain import Community, EventReader
from relay.service import EVENTS
from tests.relay.conftest import OWN_CHANNEL, relay_settings, supply_of, transitions_of, wait_for
from tests.support.anvil import CommunityAdmin
from tests.support.scenario import SELLER_CHANNEL, trade


@pytest.fixture(scope="module")
def other_exchange(anvil, tmp_path_factory):
    """A second deployment of the contracts on the same node: another exchange's events."""
    deployment = anvil.deploy(tmp_path_factory.mktemp("other") / "other.json")
    return CommunityAdmin(Community.open(anvil.settings(deployment)))


def test_purchase_switches_buyer_to_seller_channel(tmp_path, chain_settings, fresh_trade, start_relay):
    config = relay_settings(tmp_path, chain_settings, [fresh_trade])
    start_relay(config)
    purchase_id = fresh_trade.events(fresh_trade.buy(), "BuyEnergy")[0]["purchaseId"]
    supply = wait_for(lambda: (s := supply_of(config, fresh_trade.buyer.address)) and s["source"] == "seller" and s,
                      what="switch to seller")
    assert supply == {"source": "seller", "channel": SELLER_CHANNEL, "seller": fresh_trade.seller.address,
                      "purchase_id": purchase_id}


def test_settlement_switches_buyer_back_to_own_source(tmp_path, chain_settings, fresh_trade, start_relay):
    config = relay_settings(tmp_path, chain_settings, [fresh_trade])
    start_relay(config)
    buyer = fresh_trade.buyer.address
    fresh_trade.buy()
    wait_for(lambda: supply_of(config, buyer)["source"] == "seller", what="switch to seller")
    fresh_trade.deliver()
    # the transitions log is written just after the board
    wait_for(lambda: len(transitions_of(config, buyer)) >= 3, what="switch back to own")
    assert supply_of(config, buyer)["channel"] == OWN_CHANNEL
    assert [t["source"] for t in transitions_of(config, buyer)] == ["own", "seller", "own"]


def test_purchases_of_members_not_wired_here_are_ignored(tmp_path, chain_settings, admin, fresh_trade, start_relay):
    config = relay_settings(tmp_path, chain_settings, [fresh_trade])
    relay = start_relay(config)
    stranger = trade(admin)
    stranger.buy()
    wait_for(relay.caught_up, what="relay caught up")
    assert supply_of(config, stranger.buyer.address) is None
    assert [t["source"] for t in transitions_of(config, fresh_trade.buyer.address)] == ["own"]


def test_purchases_on_another_exchange_are_ignored(tmp_path, chain_settings, other_exchange, start_relay):
    elsewhere = trade(other_exchange)  # same wiring, but its contract is not this relay's deployment
    config = relay_settings(tmp_path, chain_settings, [elsewhere])
    relay = start_relay(config)
    elsewhere.buy()
    wait_for(relay.caught_up, what="relay caught up")
    assert [t["source"] for t in transitions_of(config, elsewhere.buyer.address)] == ["own"]


def test_the_node_sends_only_the_events_of_members_wired_here(chain_settings, admin, fresh_trade):
    """A relay on a Pi downloads its members' purchases, not the whole community's."""
    stranger = trade(admin)
    start = admin.community.w3.eth.block_number + 1
    fresh_trade.buy()
    stranger.buy()
    reader = EventReader(admin.community, names=EVENTS, buyers=[fresh_trade.buyer.address])
    events = reader.fetch(start, admin.community.w3.eth.block_number)
    assert [(e.name, e.args["buyer"]) for e in events] == [("BuyEnergy", fresh_trade.buyer.address)]
    assert EventReader(admin.community, names=EVENTS, buyers=[]).fetch(start, start + 10) == []
