"""Exactly-once under crashes: `daisee-oracle run` is killed with SIGKILL at random moments while
it submits, many times, and the node restarts in the middle; in the end the chain has every
queued reading once, in seq order, exactly as recorded locally."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from daisee.chain import PROSUMER, Community
from oracle.service import Oracle
from oracle.settings import OracleSettings
from tests.oracle.conftest import PASSPHRASE, chain_readings, local_readings, store_key
from tests.support.anvil import REPO, CommunityAdmin
from tests.support.scenario import funded_account

KILLS = 15
ANVIL_RESTART_AT = 7
ALIAS = "crash-gateway"


@pytest.fixture
def crash_setup(own_node, ape_folder, tmp_path):
    anvil, deployment = own_node
    chain = anvil.settings(deployment)
    admin = CommunityAdmin(Community.open(chain))
    key = funded_account(admin, tokens=0)
    store_key(key, ALIAS)
    from eth_account import Account

    meter_id = admin.register(Account.create(), PROSUMER, key)
    config = tmp_path / "oracle.yaml"
    config.write_text(yaml.safe_dump({
        "chain": chain.model_dump(mode="json"),
        "account": ALIAS,
        "database": str(tmp_path / "oracle.db"),
        "sample_interval": 0.02,
        "meters": [{"meter_id": meter_id, "driver": {"kind": "simulated", "profile": "prosumer"}}],
        "batch": {"max_readings": 5, "max_seconds": 0.05},
        "retry": {"initial_s": 0.05, "max_s": 0.3},
        "health": {"file": str(tmp_path / "health.json")},
    }))
    env = {**os.environ, "PYTHONPATH": str(REPO), f"APE_ACCOUNTS_{ALIAS}_PASSPHRASE": PASSPHRASE}
    return anvil, config, env, meter_id, key


def sent_count(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=5) as conn:
        try:
            return conn.execute("SELECT count(*) FROM readings WHERE sent>0").fetchone()[0]
        except sqlite3.OperationalError:  # schema not created yet
            return 0


def wait_for_progress(db: Path, proc: subprocess.Popen, before: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while sent_count(db) <= before:
        assert proc.poll() is None, "oracle exited on its own"
        assert time.monotonic() < deadline, "oracle made no progress"
        time.sleep(0.02)


def test_sigkill_loop_and_node_restart_lose_nothing_and_duplicate_nothing(crash_setup, tmp_path):
    anvil, config, env, meter_id, key = crash_setup
    db = tmp_path / "oracle.db"
    rng = random.Random(20240611)
    for kill in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-m", "oracle.cli", "--log-level", "WARNING", "run", "-c",
                                 str(config)], cwd=REPO, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_for_progress(db, proc, sent_count(db))
            if kill == ANVIL_RESTART_AT:
                anvil.stop()  # the oracle keeps sampling and retries until the node is back
                anvil.start()
                wait_for_progress(db, proc, sent_count(db))
            time.sleep(rng.uniform(0, 0.15))  # a random instant inside the submission cycle
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

    settings = OracleSettings.load(config)
    community = Community.open(settings.chain)
    oracle = Oracle(settings, community=community, account=key)
    try:
        assert oracle.drain(timeout=30)
        local = local_readings(oracle, meter_id)
    finally:
        oracle.close()
    on_chain = chain_readings(community, meter_id)
    assert len(local) > KILLS * 5
    assert [r[0] for r in on_chain] == list(range(1, len(local) + 1))
    assert on_chain == local
