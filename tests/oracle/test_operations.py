"""Operator surface: the CLI's status and read-once, the health file and the /metrics endpoint."""
from __future__ import annotations

import json

import httpx
from click.testing import CliRunner

from oracle.cli import main


def test_status_shows_queue_depth_and_chain_seq(make_oracle, meter_id, clock, tmp_path):
    oracle = make_oracle(meter_id)
    for _ in range(3):
        clock.advance(10)
        oracle.sample_once()
    oracle.flush(force=True)
    clock.advance(10)
    oracle.sample_once()
    result = CliRunner().invoke(main, ["status", "--json", "-c", str(tmp_path / "oracle.yaml")])
    [meter] = json.loads(result.output)
    assert (meter["queue_depth"], meter["last_seq"], meter["chain_seq"]) == (1, 4, 3)


def test_read_once_prints_one_validated_sample(settings_for, tmp_path):
    settings_for(1)
    result = CliRunner().invoke(main, ["read-once", "-c", str(tmp_path / "oracle.yaml")])
    sample = json.loads(result.output)
    assert (sample["driver"], sample["valid"]) == ("simulated", True)
    assert not (tmp_path / "oracle.db").exists()  # nothing queued


def test_health_file_reports_the_queue(make_oracle, meter_id, tmp_path):
    oracle = make_oracle(meter_id, batch={"max_readings": 100, "max_seconds": 3600})
    oracle.run(max_loops=2)
    health = json.loads((tmp_path / "health.json").read_text())
    assert (health["queue_depth"], health["meters"][0]["last_seq"]) == (2, 2)


def test_metrics_endpoint_serves_prometheus_text(make_oracle, meter_id):
    oracle = make_oracle(meter_id, health={"file": None, "metrics_port": 0},
                         batch={"max_readings": 100, "max_seconds": 3600})
    oracle.run(max_loops=1)
    text = httpx.get(f"http://127.0.0.1:{oracle.metrics.port}/metrics").text
    assert f'daisee_oracle_queue_depth{{meter="{meter_id}"}} 1' in text
