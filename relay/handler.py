"""The pure event handler: no chain, no GPIO, no clock. The service loop feeds it events in chain
order and carries out the switches it returns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from web3 import Web3

from daisee.chain import ChainEvent
from relay.config import RelaySettings
from relay.state import RelayState, Supply


@dataclass(frozen=True)
class Action:
    kind: Literal["switch", "skip", "error"]
    member: str
    message: str
    supply: Supply | None = None  # for "switch": the member's new supply


def own_supply(config: RelaySettings, member: str) -> Supply:
    return Supply(source="own", channel=config.members[member].own_channel)


def initial_state(config: RelaySettings, exchange: str, cursor: int) -> RelayState:
    return RelayState(exchange=exchange, cursor=cursor, supply={m: own_supply(config, m) for m in config.members})


def apply(state: RelayState, event: ChainEvent, config: RelaySettings) -> tuple[RelayState, list[Action]]:
    """The state after `event` and what to do about it. Events of members not wired here are ignored."""
    buyer = Web3.to_checksum_address(event.args["buyer"])
    if buyer not in config.members:
        return state, []
    purchase_id = int(event.args["purchaseId"])
    if event.name == "BuyEnergy":
        return _bought(state, event, config, buyer, purchase_id)
    if event.name == "PurchaseSettled":  # delivery complete, or expiry (then refunded > 0)
        return _settled(state, config, buyer, purchase_id)
    return state, []


def _bought(state, event, config, buyer, purchase_id):
    if purchase_id <= state.last_bought.get(buyer, 0):
        return state, [Action("skip", buyer, f"purchase {purchase_id} already handled")]
    state = state.model_copy(update={"last_bought": {**state.last_bought, buyer: purchase_id}})
    seller = Web3.to_checksum_address(event.args["seller"])
    wired = config.members[buyer].sellers.get(seller)
    if wired is None:
        return state, [Action("error", buyer, f"purchase {purchase_id}: seller {seller} is not wired to this board")]
    if wired != event.args["channel"]:
        # The contract took the channel from the buyer's rule; the board's wiring is the physical truth.
        # Switching to either would be a guess, so stay put and tell the operator.
        return state, [
            Action("error", buyer, f"purchase {purchase_id}: rule channel {event.args['channel']} != wired channel "
                                   f"{wired} for seller {seller}; not switching")
        ]
    supply = Supply(source="seller", channel=wired, seller=seller, purchase_id=purchase_id)
    return _switched(state, buyer, supply, f"purchase {purchase_id}: supply from seller {seller} on channel {wired}")


def _settled(state, config, buyer, purchase_id):
    if purchase_id <= state.last_settled.get(buyer, 0):
        return state, [Action("skip", buyer, f"settlement of {purchase_id} already handled")]
    state = state.model_copy(update={"last_settled": {**state.last_settled, buyer: purchase_id}})
    current = state.supply.get(buyer)
    if current is None or current.purchase_id != purchase_id:
        return state, [Action("skip", buyer, f"purchase {purchase_id} settled; it was not switched here")]
    supply = own_supply(config, buyer)
    return _switched(state, buyer, supply, f"purchase {purchase_id} settled: back to own source")


def _switched(state, member, supply, message):
    state = state.model_copy(update={"supply": {**state.supply, member: supply}})
    return state, [Action("switch", member, message, supply)]
