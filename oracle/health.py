"""What an operator scrapes: a JSON health file rewritten atomically after every loop, and an
optional Prometheus `/metrics` (and `/health` JSON) endpoint on a loopback port."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from daisee.files import write_atomic

METRICS = [
    ("queue_depth", "daisee_oracle_queue_depth", "Readings queued locally, not yet on chain."),
    ("last_seq", "daisee_oracle_last_seq", "Last seq recorded locally."),
    ("chain_seq", "daisee_oracle_chain_seq", "Last seq known to be on chain."),
    ("unconfirmed", "daisee_oracle_unconfirmed", "Readings on chain in blocks not yet chain.confirmations deep."),
    ("quarantined", "daisee_oracle_quarantined_total", "Samples and readings quarantined (validation, refused)."),
]


def write_health(path: Path, snapshot: dict) -> None:
    # rewritten every loop: atomic for readers, no fsync (a Pi's SD card, and stale health is harmless)
    write_atomic(path, json.dumps(snapshot, indent=1, default=str), durable=False)


def prometheus_text(snapshot: dict) -> str:
    lines = []
    for key, name, help_text in METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for meter in snapshot.get("meters", []):
            lines.append(f'{name}{{meter="{meter["meter_id"]}"}} {meter.get(key) or 0}')
    lines += ["# HELP daisee_oracle_meter_stopped 1 when a permanent error stopped the meter.",
              "# TYPE daisee_oracle_meter_stopped gauge"]
    for meter in snapshot.get("meters", []):
        lines.append(f'daisee_oracle_meter_stopped{{meter="{meter["meter_id"]}"}} {int(bool(meter.get("stopped")))}')
    lines += ["# TYPE daisee_oracle_sent_total counter", f"daisee_oracle_sent_total {snapshot.get('sent_total', 0)}",
              "# TYPE daisee_oracle_up gauge", f"daisee_oracle_up {int(snapshot.get('last_error') is None)}"]
    return "\n".join(lines) + "\n"


class MetricsServer:
    """Serves the latest snapshot; never touches the database (that lives in the oracle's thread)."""

    def __init__(self, host: str, port: int, snapshot: Callable[[], dict]):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/metrics":
                    body, kind = prometheus_text(snapshot()).encode(), "text/plain; version=0.0.4"
                elif self.path == "/health":
                    body, kind = json.dumps(snapshot(), default=str).encode(), "application/json"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # scrapes are not worth a log line each
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="oracle-metrics", daemon=True)

    def start(self) -> "MetricsServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
