"""HTTP conformance: security headers, HEAD /, local Swagger UI, 422 detail shaped as the schema says."""
from __future__ import annotations

import re


def test_security_headers_on_every_answer(client):
    for path in ("/", "/api/status", "/static/app.js", "/api/nothing-here"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path


def test_head_of_the_dashboard(client):
    assert client.head("/").status_code == 200


def test_docs_use_only_local_assets(client):
    page = client.get("/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/static/") for s in sources)
    for source in sources:
        assert client.get(source).status_code == 200, source


def test_a_handmade_422_has_the_schema_shape(client):
    detail = client.get("/api/series", params={"from": 10, "to": 5}).json()["detail"]
    assert isinstance(detail, list) and detail[0]["loc"] == ["query", "from"] and "inverted" in detail[0]["msg"]


def test_status_shows_the_chain_head_and_lag(client):
    status = client.get("/api/status").json()
    assert {"head_block", "lag_blocks", "node_seen_at"} <= set(status)


def test_status_lag_is_head_minus_indexed_block(tmp_path, auth):
    from fastapi.testclient import TestClient

    from viewer.api import create_app
    from viewer.store import Store

    store = Store(tmp_path / "v.sqlite")
    store.apply([], 10, {10: "0x0a"})
    store.set_node(head=14, seen_at=1_000)
    with TestClient(create_app(store, auth)) as client:
        status = client.get("/api/status").json()
    assert (status["indexed_block"], status["head_block"], status["lag_blocks"], status["node_seen_at"]) == (10, 14, 4, 1_000)
