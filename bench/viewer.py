"""Viewer benchmark: indexing throughput and API latency at community scale, without a chain.

Decoded events (the `ChainEvent`s the EventReader yields) are synthesised and written through the
indexer's own write path (`Store.apply`, range by range with the cursor, as `Indexer.step` does);
then the main endpoints are timed with 100 000 purchases indexed.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from bench import Figure
from daisee.chain import ChainEvent
from viewer.api import create_app
from viewer.auth import Authenticator
from viewer.store import Store

MEMBERS = 200
PURCHASES = 100_000
INDEX_TARGET_EVENTS = 100_000
RANGE_BLOCKS = 2000  # the indexer's default batch_blocks
REQUESTS = 300
EXCHANGE = "0x" + "e" * 40
ZERO = "0x" + "0" * 40
START = 1_760_000_000


def _event(name: str, block: int, index: int, **args) -> ChainEvent:
    return ChainEvent(name, args, EXCHANGE, block, f"0x{block:064x}", f"0x{block:032x}{index:032x}", index)


def synthesise(accounts: list[str]) -> list[list[ChainEvent]]:
    """Events grouped per block: registrations and mints, then one purchase per block, each
    with the buyer's reading and its token pull, settled (with payment and fee) a few blocks on."""
    blocks: list[list[ChainEvent]] = [[]]
    for i, owner in enumerate(accounts):
        blocks[0].append(_event("MeterRegistered", 0, 2 * i, meterId=i + 1, owner=owner, oracle=owner, kind=3))
        blocks[0].append(_event("Transfer", 0, 2 * i + 1, **{"from": ZERO, "to": owner, "value": 10**24}))
    consumed = [0] * MEMBERS
    for p in range(1, PURCHASES + 1):
        block = p
        buyer, seller = (p % MEMBERS), (p * 7 + 1) % MEMBERS
        seller = (seller + 1) % MEMBERS if seller == buyer else seller
        consumed[buyer] += 200
        amount = 200 * 10**14
        events = [
            _event("MeterReading", block, 0, meterId=buyer + 1, seq=p, timestamp=START + 60 * p,
                   producedWh=p * 10, consumedWh=consumed[buyer], socPermille=150 + p % 700),
            _event("BuyEnergy", block, 1, purchaseId=p, buyer=accounts[buyer], seller=accounts[seller], wh=200,
                   amount=amount, channel=1),
            _event("Transfer", block, 2, **{"from": accounts[buyer], "to": EXCHANGE, "value": amount}),
        ]
        if p > 3:  # settle the purchase opened three blocks ago
            q = p - 3
            events += [
                _event("PurchaseSettled", block, 3, purchaseId=q, buyer=accounts[q % MEMBERS],
                       seller=accounts[(q * 7 + 1) % MEMBERS], deliveredWh=200, paid=amount * 99 // 100, refunded=0,
                       fee=amount // 100),
                _event("Transfer", block, 4, **{"from": EXCHANGE, "to": accounts[(q * 7 + 1) % MEMBERS],
                                                "value": amount * 99 // 100}),
            ]
        blocks.append(events)
    return blocks


def index(store: Store, blocks: list[list[ChainEvent]], first: int, last: int) -> int:
    """Write blocks [first, last] range by range, as the indexer does; returns the event count."""
    count = 0
    for start in range(first, last + 1, RANGE_BLOCKS):
        end = min(last, start + RANGE_BLOCKS - 1)
        events = [e for b in range(start, end + 1) for e in blocks[b]]
        hashes = {e.block_number: e.block_hash for e in events} | {end: f"0x{end:064x}"}
        timestamps = {b: START + 60 * b for b in range(start, end + 1)}
        store.apply(events, end, hashes, timestamps)
        count += len(events)
    return count


def blocks_for(blocks: list[list[ChainEvent]], events: int) -> int:
    """The last block such that blocks [0, it] hold at least `events` events."""
    total = 0
    for number, block in enumerate(blocks):
        total += len(block)
        if total >= events:
            return number
    return len(blocks) - 1


def latencies(client: TestClient, path: str, headers: dict) -> list[float]:
    out = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        reply = client.get(path, headers=headers)
        out.append((time.perf_counter() - started) * 1000)
        assert reply.status_code == 200, (path, reply.status_code, reply.text[:200])
    return out


def run() -> list[Figure]:
    keys = [Account.create() for _ in range(MEMBERS)]
    accounts = [k.address for k in keys]
    blocks = synthesise(accounts)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite")
        cut = blocks_for(blocks, INDEX_TARGET_EVENTS)
        started = time.monotonic()
        count = index(store, blocks, 0, cut)
        elapsed = time.monotonic() - started
        figures.append(Figure("index 100k events", elapsed, "s", "<= 30", f"{count} events, {cut + 1} blocks"))
        started = time.monotonic()
        rest = index(store, blocks, cut + 1, len(blocks) - 1)
        figures.append(Figure("index rate", (count + rest) / (elapsed + time.monotonic() - started), "events/s",
                              note=f"{count + rest} events in all, {PURCHASES} purchases"))

        operator = Account.create()
        auth = Authenticator(lambda address: address == operator.address, "bench.daisee")
        with TestClient(create_app(store, auth)) as client:
            message = client.get("/api/auth/challenge", params={"address": operator.address}).json()["message"]
            signature = operator.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
            token = client.post("/api/auth/verify", json={"address": operator.address, "signature": signature})
            headers = {"Authorization": f"Bearer {token.json()['token']}"}
            end = START + 60 * PURCHASES
            member = accounts[7]
            endpoints = {
                "totals": "/api/totals",
                "series (1 day, 5 min)": f"/api/series?to={end}&bucket=300",
                "feed": "/api/feed",
                "purchases page": "/api/purchases?limit=50",
                "purchases by buyer": f"/api/purchases?buyer={member}&status=settled",
                "purchases deep page": "/api/purchases?limit=50&offset=50000",
                "member summary": f"/api/members/{member}/summary",
                "meter readings": f"/api/meters/8/readings?from={START}&to={end}&limit=100",
                "usage (all members)": "/api/usage",
            }
            started = time.perf_counter()
            client.get("/api/usage", headers=headers)  # first call computes, the timed ones hit the cache
            figures.append(Figure("usage uncached", (time.perf_counter() - started) * 1000, "ms",
                                  note="once per indexed range"))
            for name, path in endpoints.items():
                ms = sorted(latencies(client, path, headers))
                figures.append(Figure(f"{name} p50", statistics.median(ms), "ms"))
                figures.append(Figure(f"{name} p95", ms[int(0.95 * len(ms)) - 1], "ms", "<= 50"))
    return figures
