"""API answers on data indexed from real trades, and clear 4xx for bad parameters."""
from __future__ import annotations

import pytest

from tests.support.scenario import DELTA_WH


def test_totals_count_the_trades(client, traded):
    totals = client.get("/api/totals").json()
    assert totals["purchases"] >= 2 and totals["open_purchases"] >= 1
    assert totals["delivered_wh"] >= DELTA_WH


def test_feed_shows_purchases_without_addresses_or_amounts(client, traded):
    feed = client.get("/api/feed").json()
    assert {"BuyEnergy", "PurchaseSettled"} <= {item["kind"] for item in feed}
    assert not {"buyer", "seller", "amount", "paid"} & set(feed[0])


def test_community_series_sums_consumption(client, traded):
    end = traded.buyer.timestamp
    points = client.get("/api/series", params={"from": end - 86_400, "to": end, "bucket": 3600}).json()
    assert sum(p["consumed_wh"] for p in points) >= DELTA_WH + 1


def test_purchases_filtered_by_status(client, operator_headers, traded):
    page = client.get("/api/purchases", headers=operator_headers,
                      params={"buyer": traded.buyer.address, "status": "settled"}).json()
    assert page["total"] == 1 and page["items"][0]["status"] == "settled"


def test_purchases_filtered_by_seller_paginate(client, operator_headers, traded):
    params = {"seller": traded.seller.address, "limit": 1}
    first = client.get("/api/purchases", headers=operator_headers, params=params).json()
    second = client.get("/api/purchases", headers=operator_headers, params={**params, "offset": 1}).json()
    assert first["total"] == 2
    assert first["items"][0]["purchase_id"] > second["items"][0]["purchase_id"]


def test_member_summary_is_the_bill(client, buyer_headers, traded):
    summary = client.get(f"/api/members/{traded.buyer.address}/summary", headers=buyer_headers).json()
    assert (summary["purchases"], summary["bought_wh"], summary["delivered_wh"]) == (2, 2 * DELTA_WH, DELTA_WH)
    assert int(summary["paid"]) + int(summary["fees"]) + int(summary["refunded"]) < int(summary["spent"])
    assert summary["consumed_wh"] == traded.buyer.consumed


def test_seller_summary_counts_earnings(client, seller_headers, traded):
    summary = client.get(f"/api/members/{traded.seller.address}/summary", headers=seller_headers).json()
    assert summary["sold_wh"] == DELTA_WH and int(summary["earned"]) > 0


def test_readings_of_own_meter_in_a_time_range(client, buyer_headers, traded):
    meter = traded.buyer.meter_id
    page = client.get(f"/api/meters/{meter}/readings", headers=buyer_headers,
                      params={"from": 0, "to": traded.buyer.timestamp - 1}).json()
    assert page["total"] == 2  # the last reading is after `to`


def test_usage_table_row(client, buyer_headers, traded):
    rows = client.get("/api/usage", headers=buyer_headers).json()
    assert [(r["purchased_wh"], r["delivered_wh"], r["consumed_wh"]) for r in rows] == [
        (2 * DELTA_WH, DELTA_WH, traded.buyer.consumed)
    ]


@pytest.mark.parametrize(
    "path, params, fragment",
    [
        ("/api/purchases", {"buyer": "0x1234"}, "pattern"),
        ("/api/purchases", {"limit": 100_000}, "less than or equal"),
        ("/api/series", {"from": 10, "to": 5}, "inverted time range"),
        ("/api/auth/challenge", {"address": "not-an-address"}, "pattern"),
    ],
)
def test_bad_parameters_get_a_clear_4xx(client, operator_headers, path, params, fragment):
    reply = client.get(path, params=params, headers=operator_headers)
    assert 400 <= reply.status_code < 500
    assert fragment in reply.text


def test_an_over_wide_series_keeps_its_latest_buckets(client):
    """Any from/to the schema allows is answered: more than 2000 buckets keeps the latest 2000."""
    points = client.get("/api/series", params={"from": 0, "to": 10**9, "bucket": 10}).json()
    assert points == [] or points[0]["t"] >= 10**9 - 10 * 2000


def test_dashboard_page_and_vendored_chart_js_are_served(client):
    assert "<canvas" in client.get("/").text
    assert client.get("/static/vendor/chart.umd.min.js").status_code == 200


def test_the_collective_allocation_shows_in_usage_and_totals(tmp_path, traded, viewer_community, auth):
    """Written by the PMO's pipeline (the demo does it after a run), not indexed from the chain."""
    from fastapi.testclient import TestClient

    from tests.viewer.conftest import sign_in
    from tests.support.anvil import dev_account
    from viewer.api import create_app
    from viewer.indexer import Indexer
    from viewer.store import Store

    store = Store(tmp_path / "v.sqlite")
    Indexer(store, viewer_community).catch_up()
    with TestClient(create_app(store, auth)) as client:
        assert client.get("/api/totals").json()["local_wh"] is None  # not run yet: shown as such
        store.set_allocation({traded.buyer.address: {"own_use_wh": 0, "local_wh": 150, "complement_wh": 52},
                              traded.seller.address: {"own_use_wh": 40, "local_wh": 0, "complement_wh": 7}})
        totals = client.get("/api/totals").json()
        assert (totals["local_wh"], totals["complement_wh"]) == (150, 59)
        usage = client.get("/api/usage", headers=sign_in(client, dev_account(0))).json()
        by_owner = {u["owner"]: u for u in usage}
        assert (by_owner[traded.buyer.address]["local_wh"], by_owner[traded.buyer.address]["complement_wh"]) == (150, 52)


def test_series_buckets_from_300_s_are_whole_steps(client, traded):
    end = traded.buyer.timestamp
    points = client.get("/api/series", params={"from": end - 86_400, "to": end, "bucket": 1000}).json()
    assert points and all(p["t"] % 1200 == 0 for p in points)
