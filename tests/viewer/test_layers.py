"""Access layers, roles read from the exchange: every private endpoint refuses the public, the other
layers and other members; the public feed names nobody (no address, amount or relay channel)."""
from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from viewer.api import create_app

OPERATOR_ONLY = ["/api/operator/poison", "/api/operator/members", "/api/operator/purchases/open", "/api/operator/skips",
                 "/api/operator/relays", "/api/operator/statements/0x" + "1" * 40]
GRID_ONLY = ["/api/grid/meters"]
SIGNED_IN = ["/api/meters", "/api/purchases", "/api/usage", "/api/me/daily", "/api/me/export.csv", "/api/auth/me",
             "/api/me/statement"]


@pytest.mark.parametrize("path", OPERATOR_ONLY + GRID_ONLY + SIGNED_IN)
def test_the_public_is_refused(client, path):
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", OPERATOR_ONLY + GRID_ONLY)
def test_a_member_is_refused(client, buyer_headers, path):
    assert client.get(path, headers=buyer_headers).status_code == 403


@pytest.mark.parametrize("path", OPERATOR_ONLY)
def test_the_grid_operator_is_refused_the_pmo_pages(client, grid_headers, path):
    assert client.get(path, headers=grid_headers).status_code == 403


def test_the_grid_operator_sees_no_prices_or_owners(client, grid_headers, traded):
    meters = client.get("/api/grid/meters", headers=grid_headers).json()
    assert {traded.buyer.meter_id, traded.seller.meter_id} <= {m["meter_id"] for m in meters}
    text = json.dumps(meters)
    assert traded.buyer.address not in text and "amount" not in text and "balance" not in text


def test_the_grid_operator_reads_any_meters_readings(client, grid_headers, traded):
    assert client.get(f"/api/meters/{traded.seller.meter_id}/readings", headers=grid_headers).status_code == 200


def test_the_grid_operator_is_refused_member_money(client, grid_headers, traded):
    assert client.get(f"/api/members/{traded.buyer.address}/summary", headers=grid_headers).status_code == 403


def test_the_grid_role_comes_from_the_contract(client, grid_headers):
    assert client.get("/api/auth/me", headers=grid_headers).json()["layer"] == "grid"


def test_a_member_gets_only_its_own_money_per_day(client, buyer_headers, traded):
    days = client.get("/api/me/daily", headers=buyer_headers, params={"from": 0, "to": 2**40 - 1}).json()
    assert sum(int(d["spent"]) for d in days) == 2 * 200 * 10**14  # its two purchases, nobody else's
    assert sum(int(d["earned"]) for d in days) == 0


def test_a_members_csv_holds_only_its_own_purchases(client, seller_headers, traded):
    rows = list(csv.DictReader(io.StringIO(client.get("/api/me/export.csv", headers=seller_headers).text)))
    assert rows and all(traded.seller.address in (r["buyer"], r["seller"]) for r in rows)


def test_the_operator_lists_open_purchases_oldest_first(client, operator_headers, traded):
    page = client.get("/api/operator/purchases/open", headers=operator_headers).json()
    ids = [p["purchase_id"] for p in page["items"]]
    assert page["total"] >= 1 and ids == sorted(ids) and all(p["status"] == "open" for p in page["items"])


def test_the_operator_sees_every_members_meter_health(client, operator_headers, traded):
    rows = {r["owner"]: r for r in client.get("/api/operator/members", headers=operator_headers).json()}
    assert rows[traded.buyer.address]["last_seen"] == traded.buyer.timestamp


def test_public_purchases_page_through_everything_without_names(client, traded):
    first = client.get("/api/public/purchases", params={"limit": 1}).json()
    second = client.get("/api/public/purchases", params={"limit": 1, "offset": 1}).json()
    assert first["total"] >= 2 and first["items"][0]["purchase_id"] > second["items"][0]["purchase_id"]
    assert not {"buyer", "seller", "amount", "channel"} & set(first["items"][0])


def test_the_public_feed_has_no_relay_channel(client, traded):
    """The channel maps one-to-one to a buyer: it would re-identify members."""
    assert all("channel" not in item for item in client.get("/api/feed").json())


FORECAST = {
    "generated_at": "2026-11-23T18:00:00Z", "day": "2026-11-24", "timezone": "Europe/Paris", "step_s": 900,
    "method": "climatology", "skill": {"pv": 0.3, "load": None},
    "slots": [{"start": "2026-11-24T00:00:00+01:00", "end": "2026-11-24T00:15:00+01:00", "pv_kwh": 0.0,
               "pv_p10": 0.0, "pv_p90": 0.0, "load_kwh": 1.2, "load_p10": 0.9, "load_p90": 1.6}],
    "cheap_local_hours": [{"start": "2026-11-24T12:00:00+01:00", "end": "2026-11-24T14:00:00+01:00", "local_share": 0.8}],
}


def test_the_forecast_is_public(store, auth, tmp_path):
    path = tmp_path / "forecast.json"
    path.write_text(json.dumps(FORECAST))
    with TestClient(create_app(store, auth, forecast=path)) as client:
        forecast = client.get("/api/forecast").json()
    assert forecast["day"] == "2026-11-24" and forecast["slots"][0]["load_p90"] == 1.6


def test_no_forecast_is_a_clear_404(store, auth, tmp_path):
    with TestClient(create_app(store, auth, forecast=tmp_path / "absent.json")) as client:
        reply = client.get("/api/forecast")
    assert reply.status_code == 404 and "no forecast yet" in reply.json()["detail"]


def test_a_malformed_forecast_is_a_404_not_a_500(store, auth, tmp_path):
    path = tmp_path / "forecast.json"
    path.write_text(json.dumps({**FORECAST, "step_s": 60}))
    with TestClient(create_app(store, auth, forecast=path)) as client:
        assert client.get("/api/forecast").status_code == 404


def test_the_operator_sees_relay_states(store, auth, tmp_path, operator_headers, traded):
    from relay.state import RelayState, Supply

    good, broken = tmp_path / "street-1" / "state.json", tmp_path / "street-2" / "state.json"
    good.parent.mkdir()
    broken.parent.mkdir()
    RelayState(exchange="0x" + "e" * 40, cursor=3, last_read=1.0,
               supply={traded.buyer.address: Supply(source="seller", channel=1)}).save(good)
    broken.write_text("{not json")
    with TestClient(create_app(store, auth, relay_states=[good, broken])) as client:
        relays = {r["name"]: r for r in client.get("/api/operator/relays", headers=operator_headers).json()}
    assert relays["street-1/state.json"]["on_seller"] == 1 and relays["street-1/state.json"]["cursor"] == 3
    assert relays["street-2/state.json"]["readable"] is False


def statement(member: str) -> dict:
    """A statement as `daisee-collective bill` writes it (statements/<member>.json, keyed by member id)."""
    return {"member": member, "role": "consumer", "period": "2026-11", "version": 1,
            "lines": [{"label": "local energy", "kwh": "0.8", "ttc": "0.12"}], "totals": {}, "due": {"pmo": "0.12"},
            "local_net_cents": -12, "local_debit_cents": 12, "local_credit_cents": 0}


def bill_and_references(tmp_path, traded, bills=True):
    """statements/<member>.json for the buyer and seller and references/ naming their accounts."""
    from tests.viewer.references import reference

    statements, references = tmp_path / "statements", tmp_path / "references"
    statements.mkdir()
    references.mkdir()
    for member, name in ((traded.buyer, "meter-b"), (traded.seller, "meter-s")):
        ref = reference(member.address)
        ref["entry"]["member"] = name
        (references / f"{name}.json").write_text(json.dumps(ref))
        if bills:
            (statements / f"{name}.json").write_text(json.dumps(statement(name)))
    return statements, references


@pytest.fixture
def statements_app(store, auth, tmp_path, traded):
    statements, references = bill_and_references(tmp_path, traded)
    with TestClient(create_app(store, auth, statements=statements, references=references)) as client:
        yield client


def test_a_member_reads_its_own_statement_by_its_reference(statements_app, buyer_headers, traded):
    own = statements_app.get("/api/me/statement", headers=buyer_headers).json()
    assert own["member"] == "meter-b" and own["lines"][0]["kwh"] == "0.8"
    assert own["reference"]["entry"]["account"] == traded.buyer.address and own["reference"]["proof"]


def test_only_the_operator_reads_another_members_statement(statements_app, buyer_headers, operator_headers, traded):
    path = f"/api/operator/statements/{traded.seller.address}"
    assert statements_app.get(path, headers=buyer_headers).status_code == 403
    assert statements_app.get(path, headers=operator_headers).json()["member"] == "meter-s"


def test_a_member_downloads_its_own_rendered_statement(statements_app, buyer_headers, tmp_path):
    rendered = tmp_path / "statements"  # `commit` renders next to references/: <out>/statements/<member>.*
    (rendered / "meter-b.html").write_text("<html>meter-b statement</html>")
    (rendered / "meter-s.pdf").write_bytes(b"%PDF-1.4 meter-s")
    html = statements_app.get("/api/me/statement/html", headers=buyer_headers)
    assert html.status_code == 200 and "meter-b statement" in html.text and html.headers["content-type"].startswith("text/html")
    assert "attachment" in html.headers["content-disposition"]
    pdf = statements_app.get("/api/me/statement/pdf", headers=buyer_headers)  # only the seller's PDF exists
    assert pdf.status_code == 404 and "PDF" in pdf.json()["detail"]
    assert statements_app.get("/api/me/statement/html").status_code == 401
    assert statements_app.get("/api/me/statement/exe", headers=buyer_headers).status_code == 422


def test_no_statement_is_a_clear_404(client, buyer_headers):
    reply = client.get("/api/me/statement", headers=buyer_headers)
    assert reply.status_code == 404 and "no statement" in reply.json()["detail"]


def test_a_reference_without_its_bill_is_a_clear_404(store, auth, tmp_path, buyer_headers, traded):
    statements, references = bill_and_references(tmp_path, traded, bills=False)
    with TestClient(create_app(store, auth, statements=statements, references=references)) as client:
        reply = client.get("/api/me/statement", headers=buyer_headers)
    assert reply.status_code == 404 and "meter-b.json" in reply.json()["detail"]


def test_a_member_gets_its_own_latest_reference_only(store, auth, tmp_path, buyer_headers, seller_headers, traded):
    from tests.viewer.references import reference

    folder = tmp_path / "references"
    folder.mkdir()
    (folder / "old.json").write_text(json.dumps(reference(traded.buyer.address, period=202610)))
    (folder / "new.json").write_text(json.dumps(reference(traded.buyer.address, period=202611)))
    with TestClient(create_app(store, auth, references=folder)) as client:
        assert client.get("/api/me/reference", headers=buyer_headers).json()["period"] == 202611
        assert client.get("/api/me/reference", headers=seller_headers).status_code == 404
