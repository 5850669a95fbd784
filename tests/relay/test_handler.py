"""The pure event handler, without a chain."""
from __future__ import annotations

from eth_account import Account

from daisee.chain import ChainEvent
from relay.config import MemberWiring, RelaySettings
from relay.handler import apply, initial_state

BUYER, SELLER, STRANGER = (Account.create().address for _ in range(3))
CONFIG = RelaySettings(members={BUYER: MemberWiring(own_channel=0, sellers={SELLER: 1})})


def event(name: str, purchase_id: int, buyer: str = BUYER, channel: int = 1) -> ChainEvent:
    args = {"purchaseId": purchase_id, "buyer": buyer, "seller": SELLER}
    if name == "BuyEnergy":
        args.update(wh=200, amount=10**16, channel=channel)
    else:
        args.update(deliveredWh=200, paid=10**16, refunded=0, fee=0)
    return ChainEvent(name, args, "0x" + "11" * 20, 10, "0x" + "00" * 32, "0x" + "00" * 32, 0)


def run(*events: ChainEvent):
    state, actions = initial_state(CONFIG, "0x" + "22" * 20, cursor=0), []
    for e in events:
        state, more = apply(state, e, CONFIG)
        actions += more
    return state, actions


def switches(actions):
    return [(a.member, a.supply.source, a.supply.channel) for a in actions if a.kind == "switch"]


def test_purchase_switches_buyer_to_the_seller_channel():
    state, actions = run(event("BuyEnergy", 7))
    assert switches(actions) == [(BUYER, "seller", 1)]
    assert state.supply[BUYER].purchase_id == 7 and state.supply[BUYER].seller == SELLER


def test_settlement_switches_back_to_own_channel():
    state, actions = run(event("BuyEnergy", 7), event("PurchaseSettled", 7))
    assert switches(actions)[-1] == (BUYER, "own", 0)
    assert state.supply[BUYER].source == "own"


def test_replayed_events_do_not_switch_again():
    _, actions = run(event("BuyEnergy", 7), event("PurchaseSettled", 7), event("BuyEnergy", 7),
                     event("PurchaseSettled", 7))
    assert len(switches(actions)) == 2


def test_other_members_are_ignored():
    state, actions = run(event("BuyEnergy", 7, buyer=STRANGER))
    assert actions == [] and STRANGER not in state.supply


def test_channel_mismatch_is_an_error_and_no_switch():
    state, actions = run(event("BuyEnergy", 7, channel=3))
    assert [a.kind for a in actions] == ["error"]
    assert state.supply[BUYER].source == "own"


def test_settlement_of_a_purchase_not_switched_here_keeps_the_supply():
    state, actions = run(event("BuyEnergy", 8), event("PurchaseSettled", 7))
    assert switches(actions) == [(BUYER, "seller", 1)]
    assert state.supply[BUYER].purchase_id == 8
