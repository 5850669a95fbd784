"""The collective allocation per step, the conformity report and the key file: values and access per layer."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from collective.allocate import DefaultDynamic, allocate
from collective.curves import Curves
from tests.viewer.conftest import dev_account, sign_in
from viewer.api import create_app
from simulation.collective import allocation_steps

T0 = 1_800_000_000
STEP = 900
REPORT = {"settings": {}, "billable": False, "days": [
    {"meter": "1:consumption", "day": "2027-01-15", "expected": 96, "present": 95, "filled": 0,
     "status": "NOT_BILLABLE", "flags": [{"code": "GAP", "instant": "2027-01-15T10:00:00Z", "value": None,
                                          "severity": "warning", "file": "", "row": 0}]},
    {"meter": "2:production", "day": "2027-01-15", "expected": 96, "present": 96, "filled": 0, "status": "OK",
     "flags": []}]}
KEYS = "Horodate;1:consumption\n15/01/2027 00:15;0,50\n"


def test_allocation_steps_give_one_row_per_step_and_consumer_in_wh():
    index = pd.date_range(pd.Timestamp(T0 + STEP, unit="s", tz="UTC"), periods=2, freq=f"{STEP}s")
    step = pd.Timedelta(seconds=STEP)
    production = Curves(index, ("9:production",), np.array([[1.0], [0.0]]), step)
    consumption = Curves(index, ("1:consumption", "2:consumption"), np.array([[0.4, 0.2], [0.3, 0.1]]), step)
    members = [SimpleNamespace(meter_id=1, plan=SimpleNamespace(address="0xA")),
               SimpleNamespace(meter_id=2, plan=SimpleNamespace(address="0xB"))]
    rows = allocation_steps(allocate(production, consumption, DefaultDynamic()), members)
    # Step 1: 1 kWh produced covers both consumptions; step 2: nothing local, all complement.
    assert rows == [("0xA", T0 + STEP, 400, 0), ("0xB", T0 + STEP, 200, 0),
                    ("0xA", T0 + 2 * STEP, 0, 300), ("0xB", T0 + 2 * STEP, 0, 100)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("collective")
    (path / "conformity.json").write_text(json.dumps(REPORT))
    (path / "keys.csv").write_text(KEYS)
    return path


@pytest.fixture(scope="module")
def app_client(store, auth, folder, traded):
    store.set_allocation_steps([(traded.buyer.address, T0 + STEP, 120, 30), (traded.buyer.address, T0 + 2 * STEP, 0, 90),
                                (traded.seller.address, T0 + STEP, 5, 0)])
    with TestClient(create_app(store, auth, collective_dir=folder)) as client:
        yield client


@pytest.fixture(scope="module")
def headers(app_client, traded, grid_account):
    return {"buyer": sign_in(app_client, traded.buyer.account), "grid": sign_in(app_client, grid_account)}


def test_a_member_reads_its_own_allocation_per_step(app_client, headers):
    reply = app_client.get("/api/me/allocation", headers=headers["buyer"])
    assert reply.json() == [{"t": T0 + STEP, "local_wh": 120, "complement_wh": 30},
                            {"t": T0 + 2 * STEP, "local_wh": 0, "complement_wh": 90}]


def test_a_members_allocation_is_cut_to_the_range(app_client, headers):
    reply = app_client.get("/api/me/allocation", params={"from": T0 + 2 * STEP}, headers=headers["buyer"])
    assert [r["t"] for r in reply.json()] == [T0 + 2 * STEP]


def test_the_grid_operator_reads_any_members_allocation(app_client, headers, traded):
    reply = app_client.get(f"/api/allocation/{traded.seller.address}", headers=headers["grid"])
    assert reply.json() == [{"t": T0 + STEP, "local_wh": 5, "complement_wh": 0}]


def test_the_pmo_reads_any_members_allocation(app_client, traded):
    reply = app_client.get(f"/api/allocation/{traded.buyer.address}", headers=sign_in(app_client, dev_account(0)))
    assert [r["local_wh"] for r in reply.json()] == [120, 0]


@pytest.mark.parametrize("path", ["/api/allocation/{seller}", "/api/collective/conformity", "/api/collective/keys.csv"])
def test_a_member_is_refused_the_grid_views(app_client, headers, traded, path):
    assert app_client.get(path.format(seller=traded.seller.address), headers=headers["buyer"]).status_code == 403


@pytest.mark.parametrize("path", ["/api/me/allocation", "/api/allocation/{seller}", "/api/collective/conformity",
                                  "/api/collective/keys.csv"])
def test_the_public_is_refused_the_allocation_and_collective_files(app_client, traded, path):
    assert app_client.get(path.format(seller=traded.seller.address)).status_code == 401


def test_the_grid_operator_reads_the_conformity_days_with_flags(app_client, headers):
    days = app_client.get("/api/collective/conformity", headers=headers["grid"]).json()["days"]
    assert [(d["meter"], d["status"], [f["code"] for f in d["flags"]]) for d in days] == [
        ("1:consumption", "NOT_BILLABLE", ["GAP"]), ("2:production", "OK", [])]


def test_the_conformity_report_filters_by_meter(app_client, headers):
    days = app_client.get("/api/collective/conformity", params={"meter": "2:production"}, headers=headers["grid"]).json()["days"]
    assert [d["meter"] for d in days] == ["2:production"]


def test_the_grid_operator_downloads_the_key_file(app_client, headers):
    reply = app_client.get("/api/collective/keys.csv", headers=headers["grid"])
    assert reply.status_code == 200 and reply.text == KEYS and reply.headers["content-type"].startswith("text/csv")


def test_a_missing_collective_folder_is_a_clear_404(store, auth, grid_account):
    with TestClient(create_app(store, auth)) as client:
        reply = client.get("/api/collective/conformity", headers=sign_in(client, grid_account))
    assert reply.status_code == 404 and "collective_dir" in reply.json()["detail"]


def test_an_unreadable_conformity_report_is_a_404(store, auth, grid_account, tmp_path):
    (tmp_path / "conformity.json").write_text("{not json")
    with TestClient(create_app(store, auth, collective_dir=tmp_path)) as client:
        reply = client.get("/api/collective/conformity", headers=sign_in(client, grid_account))
    assert reply.status_code == 404 and "expected shape" in reply.json()["detail"]


def test_a_members_flows_add_up_against_its_readings(app_client, headers, store, traded):
    flows = app_client.get("/api/me/flows", params={"from": 0, "to": 2**40 - 1}, headers=headers["buyer"]).json()
    rows = store._rows("SELECT produced_delta, consumed_delta FROM readings r JOIN meters m USING (meter_id) "
                       "WHERE m.owner = ?", (traded.buyer.address,))
    produced, consumed = (sum(int(r[k]) for r in rows) for k in ("produced_delta", "consumed_delta"))
    assert (flows["produced_wh"], flows["consumed_wh"]) == (produced, consumed)
    assert flows["consumed_wh"] == flows["own_use_wh"] + flows["from_network_wh"]
    assert flows["produced_wh"] == flows["own_use_wh"] + flows["exported_wh"]


def test_a_members_flows_carry_its_settled_purchases_and_allocation(app_client, headers, store, traded):
    flows = app_client.get("/api/me/flows", params={"from": 0, "to": 2**40 - 1}, headers=headers["buyer"]).json()
    delivered = sum(int(p["delivered_wh"] or 0) for p in store._rows(
        "SELECT delivered_wh FROM purchases WHERE buyer = ? AND settled_at IS NOT NULL", (traded.buyer.address,)))
    assert flows["bought_wh"] == delivered and flows["sold_wh"] == 0
    assert (flows["local_wh"], flows["complement_wh"], flows["allocation_steps"]) == (120, 120, 2)


def test_the_public_is_refused_flows(app_client):
    assert app_client.get("/api/me/flows").status_code == 401
