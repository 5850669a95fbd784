"""README command 1 as a newcomer runs it (`ape run demo`, what `make demo` calls), on an anvil of
its own: it sets up the community, runs the day, prints the summary, then serves the viewer until
interrupted, and the viewer reports what the summary says."""
from __future__ import annotations

import json
from pathlib import Path
import signal
import subprocess

import httpx
import pytest

from daisee.chain import Community, EventReader
from daisee.config import ChainSettings
from tests.support.anvil import AnvilNode, free_port
from viewer.store import Store


@pytest.fixture
def node(tmp_path):
    node = AnvilNode(tmp_path / "anvil").start()
    yield node
    node.stop(hard=True)


def test_demo_runs_a_day_prints_the_summary_and_serves_the_viewer(node, tmp_path):
    port, workdir = free_port(), tmp_path / "demo"
    demo = node.ape("run", "demo", "--members", "5", "--days", "1", "--speed", "0", "--port", str(port),
                    "--workdir", str(workdir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        for line in demo.stdout:
            output.append(line)
            if "Ctrl-C to stop" in line:
                break
        text = "".join(output)
        assert "Ctrl-C to stop" in text, text
        summary = json.loads((workdir / "summary.json").read_text())
        page = httpx.get(f"http://127.0.0.1:{port}", timeout=5)
        viewer = httpx.get(f"http://127.0.0.1:{port}/api/totals", timeout=5).json()
        forecast = httpx.get(f"http://127.0.0.1:{port}/api/forecast", timeout=5)
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, text + rest

    # batteries really run low and purchases really happen and settle: the summary says what the chain says
    community = Community.open(ChainSettings(rpc_url=node.url, deployment=workdir / "deployment.json"))
    events = EventReader(community, ["BuyEnergy", "PurchaseSettled"]).fetch(community.deployment.deployed_block,
                                                                          community.w3.eth.block_number)
    bought = [e for e in events if e.name == "BuyEnergy"]
    settled = [e for e in events if e.name == "PurchaseSettled"]
    totals = summary["totals"]
    assert summary["members"] == 5 and summary["steps"] == 96
    assert totals["purchases"] == len(bought) >= 1
    assert totals["delivered_wh"] == sum(e.args["deliveredWh"] for e in settled) >= 1
    assert int(totals["fees"]) == community.exchange.functions.feesAccrued().call() > 0
    assert "exactly what it owes" in text
    for header in ("produced kWh", "consumed kWh", "bought kWh", "delivered kWh", "paid DSE", "refunded DSE",
                   "fees DSE", "local kWh", "complement kWh"):
        assert header in text
    # the collective allocation of the run's readings: every member's consumption is its own production,
    # a local share or complement from the grid, and the local shares never exceed what was produced
    for m in summary["per_member"]:
        assert abs(m["own_use_wh"] + m["local_wh"] + m["complement_wh"] - m["consumed_wh"]) <= 2, m
    assert 0 < sum(m["local_wh"] for m in summary["per_member"]) <= totals["produced_wh"]
    # ... and the viewer keeps it per step: each member's steps add up to its period total (each step
    # rounded to the Wh on its own)
    store = Store(workdir / "viewer.sqlite")
    for m in summary["per_member"]:
        steps = store.allocation_steps(m["address"], 0, 2**40)
        assert abs(sum(s["local_wh"] for s in steps) - m["local_wh"]) <= len(steps) / 2, m
    assert json.loads((workdir / "collective" / "conformity.json").read_text())["days"]
    assert (workdir / "collective" / "keys.csv").read_text().startswith("Horodate;")
    for phase in ("deploy", "community", "simulation", "summary", "total"):
        assert f"  {phase} " in text

    # the period: billed, committed on chain, settled in tokens, one statement verified
    period = summary["period"]
    ledger = community.contract("PeriodLedger")
    on_chain = ledger.functions.commitment(period["period"], period["version"]).call()
    assert "0x" + on_chain[2].hex() == period["roots"]["statements"]
    pot = community.contract("CollectiveSettlement").functions.pot(period["period"], period["version"]).call()
    assert list(pot) == [period["collected"], period["paid"]] and 0 < period["paid"] <= period["collected"]
    assert period["verified"] and "verified against the chain" in text
    statements = Path(period["statements_dir"])
    assert {p.suffix for p in statements.iterdir()} == {".html", ".pdf"}
    assert len(list(statements.glob("*.pdf"))) == period["statements"]

    # tomorrow's forecast of a real-data community, served by the viewer
    assert forecast.status_code == 200 and forecast.json()["day"] == summary["forecast"]["day"]
    assert len(forecast.json()["slots"]) == 48

    # the viewer served the day
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert viewer["purchases"] == len(bought)
    assert viewer["local_wh"] == sum(m["local_wh"] for m in summary["per_member"])  # the allocation, served
