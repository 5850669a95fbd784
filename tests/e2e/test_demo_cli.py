"""README command 1 as a newcomer runs it (`ape run demo`, what `make demo` calls), on an anvil of
its own: it sets up the community, runs the day, prints the summary, then serves the viewer until
interrupted, and the viewer reports what the summary says."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import pytest
from web3 import Web3

from tests.support.anvil import REPO, AnvilNode, free_port


@pytest.fixture
def node(tmp_path):
    node = AnvilNode(tmp_path / "anvil").start()
    yield node
    node.stop(hard=True)


def test_demo_runs_a_day_prints_the_summary_and_serves_the_viewer(node, tmp_path):
    port, workdir = free_port(), tmp_path / "demo"
    env = {**os.environ, "APE_FOUNDRY_HOST": node.url, "PYTHONPATH": str(REPO),
           "SOLCX_BINARY_PATH": str(REPO / "tools" / "solc")}
    demo = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "ape"), "run", "demo", "--members", "5", "--days", "1", "--speed", "0",
         "--port", str(port), "--workdir", str(workdir)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = []
    try:
        for line in demo.stdout:
            output.append(line)
            if "Ctrl-C to stop" in line:
                break
        text = "".join(output)
        assert "Ctrl-C to stop" in text, text
        summary = json.loads((workdir / "summary.json").read_text())
        totals = summary["totals"]
        url = f"http://127.0.0.1:{port}"
        head = Web3(Web3.HTTPProvider(node.url)).eth.block_number
        deadline = time.monotonic() + 30
        while ((viewer := httpx.get(f"{url}/api/totals", timeout=5).json())["indexed_block"] or 0) < head:
            assert time.monotonic() < deadline, f"viewer indexed {viewer['indexed_block']}, head {head}"
            time.sleep(0.2)
        page = httpx.get(url, timeout=5)
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, text + rest

    # batteries really run low and purchases really happen, settle, and the tokens add up
    assert summary["members"] == 5 and summary["steps"] == 96
    assert totals["purchases"] >= 1 and totals["delivered_wh"] >= 1
    assert totals["paid"] - totals["fees"] == totals["earned"]
    assert "token balances reconcile with the events" in text
    for header in ("produced kWh", "consumed kWh", "bought kWh", "delivered kWh", "paid DSE", "refunded DSE",
                   "fees DSE"):
        assert header in text
    for phase in ("deploy", "community", "simulation", "summary", "total"):
        assert f"  {phase} " in text

    # the viewer, live during the run, has indexed the same day
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert viewer["purchases"] == totals["purchases"]
    assert viewer["delivered_wh"] == totals["delivered_wh"]
    assert int(viewer["fees"]) == totals["fees"]
