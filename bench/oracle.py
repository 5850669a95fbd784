"""Oracle throughput: sustained readings per second from one oracle (sampling, SQLite queue,
batched submitReadings with several transactions in flight) into a fresh anvil of its own.

    python -m bench oracle
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from eth_account import Account

from bench import Figure

READINGS = 10_000
METERS = 20  # a gateway: one SQLite commit per sampling round for all its meters
BATCH = 64  # the contract's MAX_BATCH
IN_FLIGHT = 8


def run() -> list[Figure]:
    from daisee.chain import PROSUMER, Community
    from oracle.clock import ManualClock
    from oracle.service import Oracle
    from oracle.settings import OracleSettings
    from tests.support.anvil import AnvilNode, CommunityAdmin
    from tests.support.scenario import funded_account

    with tempfile.TemporaryDirectory() as tmp:
        node = AnvilNode(Path(tmp) / "anvil").start()
        try:
            chain = node.settings(node.deploy(Path(tmp) / "local.json"))
            community = Community.open(chain)
            admin = CommunityAdmin(community)
            gateway = funded_account(admin, tokens=0)
            meter_ids = [admin.register(Account.create(), PROSUMER, gateway) for _ in range(METERS)]
            rounds = READINGS // METERS
            # One simulated sample per second of meter time, ending now (timestamps never in the future).
            clock = ManualClock(time.time() - rounds)
            settings = OracleSettings(
                chain=chain, database=Path(tmp) / "oracle.db",
                meters=[{"meter_id": m, "driver": {"kind": "simulated", "seed": m}} for m in meter_ids],
                batch={"max_readings": BATCH, "max_seconds": 3600, "in_flight": IN_FLIGHT},
                health={"file": None},
            )
            oracle = Oracle(settings, clock=clock, community=community, account=gateway)
            started = time.monotonic()
            sampled = 0
            while oracle.submitter.sent_total < READINGS:
                if sampled < rounds:
                    oracle.sample_once()
                    sampled += 1
                    clock.advance(1)
                if sampled == rounds or oracle.store.pending_count() >= BATCH * IN_FLIGHT:
                    oracle.flush(force=sampled == rounds)
            elapsed = time.monotonic() - started
            assert oracle.submitter.last_error is None, oracle.submitter.last_error
            oracle.close()
        finally:
            node.stop(hard=True)
    return [
        Figure("readings_per_s", READINGS / elapsed, "readings/s", ">= 1000",
               f"{READINGS} readings sampled, queued and submitted in {elapsed:.1f} s"),
        Figure("batch_size", BATCH, "readings", note=f"{IN_FLIGHT} transactions in flight, {METERS} meters"),
    ]
