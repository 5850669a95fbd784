"""The three access layers: public, member (signed-in key), operator (OPERATOR_ROLE in the contract)."""
from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from tests.viewer.conftest import sign_in, signed
from viewer.api import create_app
from viewer.auth import Authenticator


def test_public_cannot_list_purchases(client):
    assert client.get("/api/purchases").status_code == 401


def test_public_cannot_read_a_member_summary(client, traded):
    assert client.get(f"/api/members/{traded.buyer.address}/summary").status_code == 401


def test_member_cannot_read_another_members_summary(client, buyer_headers, traded):
    assert client.get(f"/api/members/{traded.seller.address}/summary", headers=buyer_headers).status_code == 403


def test_member_cannot_read_another_members_readings(client, buyer_headers, traded):
    reply = client.get(f"/api/meters/{traded.seller.meter_id}/readings", headers=buyer_headers)
    assert reply.status_code == 403


def test_member_purchase_list_is_limited_to_its_own(client, seller_headers, traded):
    items = client.get("/api/purchases", headers=seller_headers).json()["items"]
    assert items and all(traded.seller.address in (p["buyer"], p["seller"]) for p in items)


def test_member_is_not_an_operator(client, buyer_headers):
    assert client.get("/api/auth/me", headers=buyer_headers).json()["operator"] is False


def test_operator_role_comes_from_the_contract(client, operator_headers):
    assert client.get("/api/auth/me", headers=operator_headers).json()["operator"] is True


def test_operator_reads_any_members_summary(client, operator_headers, traded):
    reply = client.get(f"/api/members/{traded.seller.address}/summary", headers=operator_headers)
    assert reply.status_code == 200 and reply.json()["meter_id"] == traded.seller.meter_id


def test_operator_sees_every_meter(client, operator_headers, traded):
    owners = {m["owner"] for m in client.get("/api/meters", headers=operator_headers).json()}
    assert {traded.buyer.address, traded.seller.address} <= owners


def test_signature_by_another_key_is_refused(client, traded):
    message = client.get("/api/auth/challenge", params={"address": traded.buyer.address}).json()["message"]
    forged = Account.create().sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    reply = client.post("/api/auth/verify", json={"message": message, "signature": forged})
    assert reply.status_code == 401


def test_a_challenge_signs_in_only_once(client, traded):
    body = signed(client, traded.seller.account)
    assert client.post("/api/auth/verify", json=body).status_code == 200
    assert client.post("/api/auth/verify", json=body).status_code == 401


def test_an_expired_session_is_refused(store, traded):
    now = [1_000_000.0]
    auth = Authenticator(lambda address: (), "test.daisee", session_ttl=900, clock=lambda: now[0])
    with TestClient(create_app(store, auth)) as client:
        headers = sign_in(client, traded.buyer.account)
        now[0] += 901
        assert client.get("/api/auth/me", headers=headers).status_code == 401
