"""Seconds from a node failing to the board on own sources, with relay/example.yaml's timings or short
ones (request_timeout 1 s, failsafe_after 3 s). Not a test: a measurement, printed.

    python -m tests.relay.measure_failsafe [--short] [--fault hung|stalled|cut|slow]
"""
from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import yaml

from daisee.chain import Community
from relay.config import MemberWiring, RelaySettings
from tests.relay.conftest import RelayThread, supply_of, transitions_of, wait_for
from tests.relay.flaky_node import FlakyNode
from tests.support.anvil import REPO, AnvilNode, CommunityAdmin
from tests.support.scenario import SELLER_CHANNEL, trade

LIMIT = 300  # seconds; not on own sources by then is printed as inf


def measure(short: bool, fault: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        node = AnvilNode(folder / "anvil").start()
        try:
            settings = node.settings(node.deploy(folder / "local.json"))
            t = trade(CommunityAdmin(Community.open(settings)))
            flaky = FlakyNode(node.url, slow_answer=60)  # `slow`: a byte every ~0.2 s, within either read timeout
            example = yaml.safe_load((REPO / "relay" / "example.yaml").read_text())
            chain = {**example["chain"], "rpc_url": flaky.url, "deployment": str(settings.deployment)}
            if short:
                chain["request_timeout"], example["failsafe_after"] = 1, 3
            config = RelaySettings(
                chain=chain, failsafe_after=example["failsafe_after"],
                members={t.buyer.address: MemberWiring(own_channel=0, sellers={t.seller.address: SELLER_CHANNEL})},
                state_file=folder / "state.json", board_file=folder / "board.json",
                transitions_file=folder / "transitions.jsonl")
            relay = RelayThread(config)
            t.buy()
            wait_for(lambda: (moves := transitions_of(config, t.buyer.address)) and moves[-1]["source"] == "seller",
                     what="switch to seller")
            began = time.monotonic()
            flaky.mode = fault
            try:
                wait_for(lambda: supply_of(config, t.buyer.address)["source"] == "own", timeout=LIMIT)
                took = time.monotonic() - began
            except AssertionError:
                took = math.inf
            flaky.close()
            relay.stop.set()  # not joined: the old relay may be stuck in a read for minutes
            return took
        finally:
            node.stop(hard=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="request_timeout 1 s, failsafe_after 3 s")
    parser.add_argument("--fault", default="hung", choices=["hung", "stalled", "cut", "slow"])
    args = parser.parse_args()
    timings = "short (1 s / 3 s)" if args.short else "example.yaml (5 s / 30 s)"
    print(f"{args.fault} node, {timings}: board on own sources {measure(args.short, args.fault):.1f} s after the fault")


if __name__ == "__main__":
    main()
