"""Viewer benchmark: indexing throughput, then API latency at community scale (100 000 purchases and
2 M readings), alone and under 48 parallel heavy public queries, over real HTTP.

Purchases (registrations, mints, BuyEnergy, PurchaseSettled and their Transfers) go through the
indexer's own write path (`Store.apply`, range by range with the cursor, as `Indexer.step` does):
that gives the index-rate figure. The 2 M readings (200 meters every 15 min, ~104 days) are then
bulk-inserted with SQL and their pre-aggregated steps computed once, because writing them event by
event would take most of the bench's time and measures nothing the index rate does not.

The app runs in its own process (uvicorn, `python -m bench.viewer serve`), so that the load
generator's threads do not share its interpreter; on a 2-core machine client and server still share
the CPUs. The heavy load is the worst public series the API accepts: 48 clients in a loop asking
/api/series with a 299 s bucket (below the pre-aggregated step, so read from the raw readings; the
window is cut to its latest 2000 buckets, ~7 days).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from bench import Figure
from daisee.chain import ChainEvent
from viewer.store import Store

MEMBERS = 200
PURCHASES = 100_000
READINGS = int(os.environ.get("DAISEE_BENCH_VIEWER_READINGS", 2_000_000))
READING_STEP = 900
INDEX_TARGET_EVENTS = 100_000
RANGE_BLOCKS = 2000  # the indexer's default batch_blocks
REQUESTS = 100
REQUESTS_UNDER_LOAD = 40
HEAVY_CLIENTS = 48
EXCHANGE = "0x" + "e" * 40
ZERO = "0x" + "0" * 40
START = 1_760_000_000
DAY = 86_400


def _event(name: str, block: int, index: int, **args) -> ChainEvent:
    return ChainEvent(name, args, EXCHANGE, block, f"0x{block:064x}", f"0x{block:032x}{index:032x}", index)


def synthesise(accounts: list[str]) -> list[list[ChainEvent]]:
    """Events grouped per block: registrations and mints, then one purchase per block with the
    buyer's token pull, settled (with payment and fee) three blocks on."""
    blocks: list[list[ChainEvent]] = [[]]
    for i, owner in enumerate(accounts):
        blocks[0].append(_event("MeterRegistered", 0, 2 * i, meterId=i + 1, owner=owner, oracle=owner, kind=3))
        blocks[0].append(_event("Transfer", 0, 2 * i + 1, **{"from": ZERO, "to": owner, "value": 10**24}))
    for p in range(1, PURCHASES + 1):
        buyer, seller = (p % MEMBERS), (p * 7 + 1) % MEMBERS
        seller = (seller + 1) % MEMBERS if seller == buyer else seller
        amount = 200 * 10**14
        events = [
            _event("BuyEnergy", p, 1, purchaseId=p, buyer=accounts[buyer], seller=accounts[seller], wh=200,
                   amount=amount, channel=1),
            _event("Transfer", p, 2, **{"from": accounts[buyer], "to": EXCHANGE, "value": amount}),
        ]
        if p > 3:
            q = p - 3
            q_seller = (q * 7 + 1) % MEMBERS
            q_seller = (q_seller + 1) % MEMBERS if q_seller == q % MEMBERS else q_seller
            events += [
                _event("PurchaseSettled", p, 3, purchaseId=q, buyer=accounts[q % MEMBERS], seller=accounts[q_seller],
                       deliveredWh=200, paid=amount * 99 // 100, refunded=0, fee=amount // 100),
                _event("Transfer", p, 4, **{"from": EXCHANGE, "to": accounts[q_seller], "value": amount * 99 // 100}),
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


def bulk_readings(store: Store, count: int) -> int:
    """`count` readings, round-robin over the meters every READING_STEP s; returns the last timestamp."""
    per_meter = count // MEMBERS

    def rows():
        for k in range(per_meter):
            t = START + k * READING_STEP
            for m in range(1, MEMBERS + 1):
                yield (m, k + 1, t + m, str(k * 50), str(k * 80), 200 + (k + m) % 600, "50" if k else "0",
                       "80" if k else "0", 1)

    with store.connection() as db:
        db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
        db.execute("""INSERT OR REPLACE INTO steps SELECT (timestamp / 300) * 300 AS t, bigsum(produced_delta),
                      bigsum(consumed_delta), SUM(soc_permille), COUNT(*) FROM readings GROUP BY t""")
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
    return START + (per_meter - 1) * READING_STEP + MEMBERS


# ------------------------------------------------------------------ the server process


def serve(database: str, port: int, operator: str) -> None:
    """The viewer app on `database` (no chain: `operator` holds the operator role); statement
    references from `<database folder>/references`."""
    import uvicorn

    from viewer.api import create_app
    from viewer.auth import Authenticator

    auth = Authenticator(lambda address: {"operator"} if address == operator else set(), "bench.daisee",
                         session_ttl=3600, role_ttl=3600)
    app = create_app(Store(database), auth, references=Path(database).parent / "references")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_server(database: Path, operator: str) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "bench.viewer", "serve", str(database), str(port), operator],
                               env={**os.environ, "PYTHONPATH": os.getcwd()})
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/api/status", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("bench viewer did not start")


def sign_in(client: httpx.Client, account) -> dict[str, str]:
    message = client.get("/api/auth/challenge", params={"address": account.address}).json()["message"]
    signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    token = client.post("/api/auth/verify", json={"message": message, "signature": signature}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def latencies(client: httpx.Client, path: str, headers: dict, requests: int = REQUESTS) -> list[float]:
    out = []
    for _ in range(requests):
        started = time.perf_counter()
        reply = client.get(path, headers=headers)
        out.append((time.perf_counter() - started) * 1000)
        assert reply.status_code == 200, (path, reply.status_code, reply.text[:200])
    return sorted(out)


def p95(ms: list[float]) -> float:
    return ms[max(0, int(0.95 * len(ms)) - 1)]


class HeavyLoad:
    """HEAVY_CLIENTS threads asking the worst public series in a loop (503 'busy' answers count too)."""

    def __init__(self, url: str, path: str):
        self.url, self.path, self.stop = url, path, threading.Event()
        self.answers: dict[int, int] = {}
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(HEAVY_CLIENTS)]

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as client:
            while not self.stop.is_set():
                status = client.get(self.path).status_code
                self.answers[status] = self.answers.get(status, 0) + 1

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        time.sleep(2)  # every client has a query in flight
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)


def browser_figures(url: str, token: str) -> list[Figure]:
    """A member's page load (until its money panel shows) and its statement proof check, in Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context().new_page()
        page.add_init_script(f"sessionStorage.setItem('daisee.token', {token!r})")
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("#money .card", timeout=60_000)
        loaded = (time.perf_counter() - started) * 1000
        page.click("#verifyProof")
        page.wait_for_selector("#proofResult[data-ok='true']", timeout=60_000)
        verify_ms = float(page.get_attribute("#proofResult", "data-ms"))
        browser.close()
    return [Figure("member page load in Chromium", loaded, "ms", note="until the money panel shows"),
            Figure("statement proof check in the browser", verify_ms, "ms", note="ethers: leaf + 2-step proof")]


def run() -> list[Figure]:
    keys = [Account.create() for _ in range(MEMBERS)]
    accounts = [k.address for k in keys]
    blocks = synthesise(accounts)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "bench.sqlite"
        store = Store(database)
        cut = blocks_for(blocks, INDEX_TARGET_EVENTS)
        started = time.monotonic()
        count = index(store, blocks, 0, cut)
        elapsed = time.monotonic() - started
        figures.append(Figure("index 100k events", elapsed, "s", "<= 30", f"{count} events, {cut + 1} blocks"))
        started = time.monotonic()
        rest = index(store, blocks, cut + 1, len(blocks) - 1)
        figures.append(Figure("index rate", (count + rest) / (elapsed + time.monotonic() - started), "events/s",
                              note=f"{count + rest} events in all, {PURCHASES} purchases (indexer write path)"))
        started = time.monotonic()
        end = bulk_readings(store, READINGS)
        figures.append(Figure("bulk-load readings + steps", time.monotonic() - started, "s",
                              note=f"{READINGS} readings, {MEMBERS} meters every {READING_STEP} s (SQL, not the writer)"))

        operator, member = Account.create(), keys[7]
        from tests.viewer.references import reference

        (Path(tmp) / "references").mkdir()
        own = reference(member.address)
        (Path(tmp) / "references" / "member.json").write_text(json.dumps(own))
        # its root committed on chain (the browser compares the computed root with the indexed one)
        root, block = bytes.fromhex(own["statement_root"][2:]), len(blocks)
        store.apply([_event("PeriodCommitted", block, 0, period=own["period"], version=own["version"], inputsRoot=root,
                            allocationRoot=root, statementRoot=root, rulesVersion=1, settlementTotal=0)],
                    block, {block: f"0x{block:064x}"})
        process, url = start_server(database, operator.address)
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                as_operator, as_member = sign_in(client, operator), sign_in(client, member)
                endpoints = {
                    "status": ("/api/status", {}),
                    "totals": ("/api/totals", {}),
                    "series 1 day (15 min)": (f"/api/series?to={end}&bucket=900", {}),
                    "series 30 days (1 h)": (f"/api/series?from={end - 30 * DAY}&to={end}&bucket=3600", {}),
                    "feed": ("/api/feed", {}),
                    "public purchases page": ("/api/public/purchases?limit=20&offset=5000", {}),
                    "member summary": (f"/api/members/{member.address}/summary", as_member),
                    "member daily money": ("/api/me/daily?from=0", as_member),
                    "member purchases page": ("/api/purchases?limit=50", as_member),
                    "member meter series 30 days": (f"/api/meters/8/series?from={end - 30 * DAY}&to={end}&bucket=900",
                                                    as_member),
                    "member meter readings": (f"/api/meters/8/readings?from={START}&to={end}&limit=100", as_member),
                    "operator purchases deep page": ("/api/purchases?limit=50&offset=50000", as_operator),
                    "operator open purchases": ("/api/operator/purchases/open", as_operator),
                    "operator members": ("/api/operator/members", as_operator),
                    "operator usage": ("/api/usage", as_operator),
                }
                for path, headers in endpoints.values():  # warm caches once
                    client.get(path, headers=headers)
                for name, (path, headers) in endpoints.items():
                    figures.append(Figure(f"{name} p95", p95(latencies(client, path, headers)), "ms", "<= 50", "alone"))
                heavy_path = f"/api/series?from={end - 30 * DAY}&to={end}&bucket=299"
                started = time.perf_counter()
                client.get(heavy_path)
                figures.append(Figure("heavy series (raw, 299 s) alone", (time.perf_counter() - started) * 1000, "ms",
                                      note="one call: 2000 buckets of raw readings"))
                with HeavyLoad(url, heavy_path) as load:
                    for name, (path, headers) in endpoints.items():
                        ms = latencies(client, path, headers, REQUESTS_UNDER_LOAD)
                        figures.append(Figure(f"{name} p95 under load", p95(ms), "ms",
                                              "<= 50", f"{HEAVY_CLIENTS} parallel heavy series"))
                answers = dict(load.answers)
                figures += browser_figures(url, as_member["Authorization"].split()[1])
                figures.append(Figure("heavy series answered under load", answers.get(200, 0), "requests",
                                      note=f"status counts {answers} (503 = queue full, by design)"))
        finally:
            process.terminate()
            process.wait(timeout=30)
    return figures


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "serve":
    serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
