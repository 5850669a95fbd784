"""Relay latency: from just before sending the reading that triggers a purchase to the simulated
board switching the buyer to the seller's channel, on a private anvil, relay in-process."""
from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench import Figure
from daisee.chain import Community
from relay.config import MemberWiring, RelaySettings
from relay.service import Relay
from tests.support.anvil import AnvilNode, CommunityAdmin
from tests.support.scenario import SELLER_CHANNEL, trade

CYCLES = 200
POLL_INTERVAL = 0.01


def _switched_at(board, purchase_id: int, timeout: float = 10.0) -> float:
    """The board's own timestamp of the switch to `purchase_id` (not when this thread noticed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with board.lock:
            for t in reversed(board.recent):
                if t["purchase_id"] == purchase_id:
                    return t["t"]
        time.sleep(0.001)
    raise TimeoutError(f"purchase {purchase_id} not switched within {timeout} s")


def run(cycles: int = CYCLES) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        node = AnvilNode(folder / "anvil").start()
        try:
            settings = node.settings(node.deploy(folder / "local.json"))
            t = trade(CommunityAdmin(Community.open(settings)), stock_wh=10**9)
            config = RelaySettings(
                chain=settings.model_copy(update={"poll_interval": POLL_INTERVAL, "request_timeout": 2.0}),
                members={t.buyer.address: MemberWiring(own_channel=0, sellers={t.seller.address: SELLER_CHANNEL})},
                state_file=folder / "state.json", board_file=folder / "board.json", transitions_file=None,
            )
            relay, stop = Relay(config), threading.Event()
            thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
            thread.start()
            latencies = []
            try:
                for _ in range(cycles):
                    # Two readings a cycle, each a second after the last: keep the node's clock ahead
                    # of them, or the contract rejects them as from the future.
                    t.admin.community.w3.provider.make_request("evm_increaseTime", [2])
                    sent = time.time()
                    purchase_id = t.events(t.buy(), "BuyEnergy")[0]["purchaseId"]
                    latencies.append((_switched_at(relay.board, purchase_id) - sent) * 1000)
                    t.deliver()
            finally:
                stop.set()
                thread.join(timeout=10)
        finally:
            node.stop(hard=True)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    note = f"{cycles} purchases, poll {POLL_INTERVAL * 1000:.0f} ms"
    return [
        Figure("purchase->switch p50", statistics.median(latencies), "ms", note=note),
        Figure("purchase->switch p95", p95, "ms", "<= 250", note=note),
        Figure("purchase->switch max", max(latencies), "ms", note=note),
    ]
