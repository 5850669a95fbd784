"""The `daisee-viewer serve` process: it exits on SIGTERM even while a dashboard's event stream is open."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import yaml

from tests.support.anvil import free_port


def test_serve_exits_on_sigterm_with_an_open_event_stream(tmp_path, chain_settings, traded):
    port = free_port()
    config = tmp_path / "viewer.yaml"
    config.write_text(yaml.safe_dump({"chain": chain_settings.model_dump(mode="json"), "port": port,
                                      "database": str(tmp_path / "v.sqlite")}))
    process = subprocess.Popen([sys.executable, "-m", "viewer.cli", "serve", "-c", str(config)],
                               env={**os.environ, "PYTHONPATH": os.getcwd()})
    url = f"http://127.0.0.1:{port}"
    opened = threading.Event()

    def listen():
        try:
            with httpx.stream("GET", f"{url}/api/stream", timeout=None) as stream:
                for _ in stream.iter_raw():
                    opened.set()
        except httpx.HTTPError:
            pass

    try:
        for _ in range(200):  # until it listens
            try:
                httpx.get(f"{url}/api/status", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        threading.Thread(target=listen, daemon=True).start()
        assert opened.wait(10), "the event stream did not open"
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it captured: killed by SIGTERM, no hang
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
