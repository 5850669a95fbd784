"""The seed's chain (3 Clique validators, a block every 5 s, 6 000 000 gas) against anvil with the
same block time and gas limit, side by side in one run:

    python -m bench poa

A simulated day for 1 000 members is hours of 5 s blocks, too long here. What is MEASURED, on each
chain: GATEWAYS gateway Pis of 50 meters (the real gateway batch, bench/gas.py) all submitting at the
same quarter-hour boundary, ROUNDS times, a purchase-triggering reading sent with every round and a
relay (in-process, simulated board, `confirmations: 0`) following the chain: gas per reading, the
block gas share of every block of that window, and the reading -> relay switched latency. What is
EXTRAPOLATED, by arithmetic from the measured batch gas: the 1 000-member day (20 gateways at every
quarter-hour, 96 rounds, batches packed into blocks by their gas limit as a node packs them; no
purchases counted) and the meters a chain can carry at 15-minute readings (whole batches per block).
"""
from __future__ import annotations

import math
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np

from bench import Figure
from daisee.chain import connect
from daisee.config import ChainSettings

SEED_PERIOD_S, SEED_GAS = 5, 6_000_000
GATEWAYS, PER_GATEWAY, ROUNDS = 4, 50, 6
MEMBERS, READING_EVERY_S = 1000, 900


def run() -> list[Figure]:
    return measure("poa", poa_chain) + measure("anvil", anvil_chain)


@contextmanager
def poa_chain(folder: Path):
    """(ChainSettings, funded_account) of a fresh seed-shaped Clique network with the contracts."""
    from tests.support import geth

    geth.build_geth()
    net = geth.network(folder / "poa", nodes=3, period=SEED_PERIOD_S)
    try:
        net.start()
        net.wait_block(1, timeout=60)
        deployment = geth.deploy(net.nodes[0].url, folder / "poa.json", folder / "ape", timeout=600)
        geth.wait_deployed(net, deployment)
        yield ChainSettings(rpc_url=net.nodes[0].url, deployment=deployment), geth.funded_account
    finally:
        net.stop(hard=True)


@contextmanager
def anvil_chain(folder: Path):
    from tests.support.anvil import AnvilNode
    from tests.support.scenario import funded_account

    node = AnvilNode(folder / "anvil", gas_limit=SEED_GAS).start()
    try:
        settings = node.settings(node.deploy(folder / "anvil.json"))  # ape waits badly on interval mining
        connect(settings).provider.make_request("evm_setIntervalMining", [SEED_PERIOD_S])  # then 5 s blocks
        yield settings, funded_account
    finally:
        node.stop(hard=True)


def measure(name: str, chain) -> list[Figure]:
    from bench.relay import _switched_at
    from eth_account import Account

    from daisee.chain import PROSUMER, Community, Transactor, pack_reading, read_many
    from tests.support import scenario
    from tests.support.anvil import CommunityAdmin
    from tests.support.geth import GAS_MONEY

    with tempfile.TemporaryDirectory() as tmp, chain(Path(tmp)) as (settings, funded_account), \
            mock.patch.object(scenario, "funded_account", funded_account):
        community = Community.open(settings)
        admin = CommunityAdmin(community)
        ex, w3 = community.exchange, community.w3
        # gateway keys funded and their meters registered with every transaction in flight at once
        gateways = [Transactor(community, Account.create()) for _ in range(GATEWAYS)]
        sent = [admin.operator.send_value(g.address, GAS_MONEY) for g in gateways]
        owners = [[Account.create() for _ in range(PER_GATEWAY)] for _ in gateways]  # meter owners send nothing
        sent += [admin.operator.send(ex.functions.registerMeter(o.address, PROSUMER, g.address))
                 for g, group in zip(gateways, owners) for o in group]
        for tx in sent:
            admin.operator.wait(tx)
        meters = [read_many(ex, "meterOf", [[o.address] for o in group]) for group in owners]
        t = scenario.trade(admin, stock_wh=10**9)
        relay, stop, thread = start_relay(settings, community, t, Path(tmp))
        first = w3.eth.block_number + 1
        batch_gas, latencies = [], []
        try:
            for r in range(1, ROUNDS + 1):
                ts = w3.eth.get_block("latest")["timestamp"]
                bought: dict = {}
                buyer = threading.Thread(target=lambda: bought.update(at=time.time(), receipt=t.buy()))
                buyer.start()
                hashes = [g.send(ex.functions.submitReadings(
                    [pack_reading(m, r, ts, 10 * r, 5 * r, 500) for m in ids])) for g, ids in zip(gateways, meters)]
                receipts = [g.wait(h) for g, h in zip(gateways, hashes)]
                buyer.join(timeout=120)
                if r > 1:  # the first round fills the meters' counters: not steady state
                    batch_gas += [(rc["gasUsed"], w3.eth.get_transaction(h)["gas"]) for rc, h in zip(receipts, hashes)]
                purchase = t.events(bought["receipt"], "BuyEnergy")[0]["purchaseId"]
                latencies.append(_switched_at(relay.board, purchase, timeout=60) - bought["at"])
                t.deliver()
        finally:
            stop.set()
            thread.join(timeout=30)
        last = w3.eth.block_number
        shares = np.array([w3.eth.get_block(n)["gasUsed"] for n in range(first, last + 1)]) / SEED_GAS
    return figures(name, shares, batch_gas, latencies, last - first + 1)


def start_relay(settings, community, t, folder: Path):
    from relay.config import MemberWiring, RelaySettings
    from relay.service import Relay
    from tests.support.scenario import SELLER_CHANNEL

    chain = settings.model_copy(update={"poll_interval": 0.1, "request_timeout": 4.0})
    config = RelaySettings(
        chain=chain, members={t.buyer.address: MemberWiring(own_channel=0, sellers={t.seller.address: SELLER_CHANNEL})},
        state_file=folder / "relay-state.json", board_file=folder / "board.json", transitions_file=None)
    relay, stop = Relay(config, community=community), threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    return relay, stop, thread


def day_shares(batch_used: float, batch_limit: float) -> np.ndarray:
    """Block gas shares of a 1 000-member day: 20 gateway batches at every quarter-hour, packed in
    order into blocks by their gas limit (a block takes a transaction only if its limit still fits),
    the other blocks of the quarter empty; 96 quarters alike."""
    batches = math.ceil(MEMBERS / PER_GATEWAY)
    per_block = max(1, int(SEED_GAS // batch_limit))
    burst = [min(per_block, batches - i) * batch_used / SEED_GAS for i in range(0, batches, per_block)]
    quarter = burst + [0.0] * (READING_EVERY_S // SEED_PERIOD_S - len(burst))
    return np.tile(quarter, 24 * 3600 // READING_EVERY_S)


def figures(name: str, shares: np.ndarray, batch_gas: list, latencies: list[float], blocks: int) -> list[Figure]:
    used = statistics.mean(u for u, _ in batch_gas)
    limit = statistics.mean(g for _, g in batch_gas)
    per_reading = used / PER_GATEWAY
    day = day_shares(used, limit)
    capacity = int(SEED_GAS // limit) * PER_GATEWAY * (READING_EVERY_S // SEED_PERIOD_S)
    window = (f"measured: {GATEWAYS} gateways x {PER_GATEWAY} meters at once, {ROUNDS} rounds, {blocks} blocks "
              f"of {SEED_PERIOD_S} s / {SEED_GAS / 1e6:.0f} M gas")
    extrapolated = (f"extrapolated from the measured batch ({used:,.0f} gas used, {limit:,.0f} limit as Transactor "
                    f"sends it): {MEMBERS} members, {math.ceil(MEMBERS / PER_GATEWAY)} batches each quarter-hour, "
                    f"96 quarters, no purchases")
    p = lambda a, q: float(np.percentile(a, q))  # noqa: E731
    return [
        Figure(f"{name}: gas per reading (batch of 50)", per_reading, "gas", note=window),
        Figure(f"{name}: block gas share, window mean", 100 * shares.mean(), "%", note=window),
        Figure(f"{name}: block gas share, window p95", 100 * p(shares, 95), "%", note=window),
        Figure(f"{name}: block gas share, window max", 100 * shares.max(), "%", note=window),
        Figure(f"{name}: block gas share, 1000-member day mean", 100 * day.mean(), "%", note=extrapolated),
        Figure(f"{name}: block gas share, 1000-member day p95", 100 * p(day, 95), "%", note=extrapolated),
        Figure(f"{name}: block gas share, 1000-member day max", 100 * day.max(), "%", note=extrapolated),
        Figure(f"{name}: reading->switch p50", statistics.median(latencies), "s",
               note=f"measured: {len(latencies)} purchases sent with a round, relay poll 0.1 s, 0 confirmations"),
        Figure(f"{name}: reading->switch p95", p(latencies, 95), "s",
               note=f"measured: {len(latencies)} purchases (p95 of so few is near their max)"),
        Figure(f"{name}: meters at 15-min readings", capacity, "meters",
               note=f"extrapolated: {int(SEED_GAS // limit)} whole batches of {PER_GATEWAY} per block x "
                    f"{READING_EVERY_S // SEED_PERIOD_S} blocks a quarter-hour"),
    ]
