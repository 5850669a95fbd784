"""Demo wall time: the README's first command (`ape run demo`, one simulated day of 15-minute steps,
as fast as the node allows, no viewer) for 5 and for 1000 members, each on a fresh anvil of its own.

    python -m bench demo
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bench import Figure
from tests.support.anvil import AnvilNode

RUNS = {5: "<= 120", 1000: "<= 600"}  # seconds for the whole command, ape start-up included


def demo(members: int, folder: Path) -> tuple[float, dict]:
    node = AnvilNode(folder / "anvil").start()
    try:
        started = time.monotonic()
        node.ape_run("demo", "--members", str(members), "--days", "1", "--speed", "0", "--no-viewer",
                     "--workdir", str(folder / "run"), timeout=1800)
        elapsed = time.monotonic() - started
    finally:
        node.stop(hard=True)
    return elapsed, json.loads((folder / "run" / "summary.json").read_text())


def run() -> list[Figure]:
    figures = []
    for members, target in RUNS.items():
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, summary = demo(members, Path(tmp))
        phases = ", ".join(f"{name} {seconds:.1f}" for name, seconds in summary["phases_s"].items())
        totals = summary["totals"]
        figures.append(Figure(
            f"demo_{members}_members_s", elapsed, "s", target,
            f"1 day, {summary['steps']} steps, {summary['oracles']} oracles; {totals['purchases']} purchases, "
            f"{totals['skipped']} skipped; phases (s): {phases}",
        ))
    return figures
