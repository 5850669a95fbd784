"""Sign-in with Ethereum (EIP-4361): nobody can block another member's sign-in, a silent node gives a
fast 503 without losing the signed message, sessions end on the server and roles are re-read."""
from __future__ import annotations

import socket
import threading

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from tests.support.anvil import dev_account
from tests.viewer.conftest import sign_in, signed
from viewer.api import create_app
from viewer.auth import Authenticator, contract_roles, role_reader


@pytest.fixture
def silent_node():
    """A TCP port that accepts JSON-RPC connections and never answers (a frozen node)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_the_challenge_is_an_eip4361_message(client, traded):
    message = client.get("/api/auth/challenge", params={"address": traded.buyer.address}).json()["message"]
    assert message.startswith("test.daisee wants you to sign in with your Ethereum account:\n" + traded.buyer.address)
    assert "\nNonce: " in message and "\nExpiration Time: " in message and "\nChain ID: " in message


def test_a_silent_node_gives_503_and_the_message_stays_usable(store, traded, viewer_community, silent_node):
    exchange = viewer_community.exchange
    roles = {"read": role_reader(silent_node, exchange.address, exchange.abi, timeout=0.5)}
    auth = Authenticator(lambda address: roles["read"](address), "test.daisee", role_timeout=0.5)
    with TestClient(create_app(store, auth)) as client:
        body = signed(client, traded.buyer.account)
        reply = client.post("/api/auth/verify", json=body)
        assert reply.status_code == 503 and "node" in reply.json()["detail"]
        roles["read"] = contract_roles(exchange)  # the node is back: the same signed message still works
        assert client.post("/api/auth/verify", json=body).status_code == 200


def test_asking_a_challenge_for_someone_does_not_void_theirs(client, traded):
    body = signed(client, traded.buyer.account)
    client.get("/api/auth/challenge", params={"address": traded.buyer.address})  # an attacker asks for B
    assert client.post("/api/auth/verify", json=body).status_code == 200


def test_a_garbage_signature_does_not_consume_the_message(client, traded):
    body = signed(client, traded.buyer.account)
    forged = Account.create().sign_message(encode_defunct(text=body["message"])).signature.to_0x_hex()
    assert client.post("/api/auth/verify", json={**body, "signature": forged}).status_code == 401
    assert client.post("/api/auth/verify", json=body).status_code == 200


def test_a_flood_of_anonymous_challenges_evicts_nobody(client, traded):
    body = signed(client, traded.seller.account)
    for _ in range(10_001):
        client.app.state.auth.challenge(Account.create().address if _ % 1000 == 0 else traded.buyer.address)
    assert client.post("/api/auth/verify", json=body).status_code == 200


def test_a_message_altered_after_issue_is_refused(client, traded):
    account = traded.buyer.account
    message = client.get("/api/auth/challenge", params={"address": account.address}).json()["message"]
    later = message.replace("Expiration Time: 2", "Expiration Time: 3")  # a thousand years of validity
    signature = account.sign_message(encode_defunct(text=later)).signature.to_0x_hex()
    reply = client.post("/api/auth/verify", json={"message": later, "signature": signature})
    assert reply.status_code == 401 and "not issued by this viewer" in reply.json()["detail"]


def test_a_message_for_another_domain_is_refused(client, traded):
    other = Authenticator(lambda a: (), "evil.example")
    message, _ = other.challenge(traded.buyer.address)
    signature = traded.buyer.account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    reply = client.post("/api/auth/verify", json={"message": message, "signature": signature})
    assert reply.status_code == 401 and "evil.example" in reply.json()["detail"]


def test_garbage_instead_of_a_message_is_a_clear_401(client):
    reply = client.post("/api/auth/verify", json={"message": "hello", "signature": "0x" + "11" * 65})
    assert reply.status_code == 401 and "EIP-4361" in reply.json()["detail"]


def test_logout_ends_the_session_on_the_server(client, traded):
    headers = sign_in(client, traded.buyer.account)
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_a_revoked_role_stops_working_after_role_ttl(store, traded):
    now = [1_000_000.0]
    granted = {"operator"}
    auth = Authenticator(lambda address: set(granted), "test.daisee", clock=lambda: now[0], role_ttl=30)
    with TestClient(create_app(store, auth)) as client:
        body = signed(client, dev_account(0))
        headers = {"Authorization": f"Bearer {client.post('/api/auth/verify', json=body).json()['token']}"}
        assert client.get("/api/operator/skips", headers=headers).status_code == 200
        granted.clear()  # revoked on chain
        now[0] += 31
        assert client.get("/api/operator/skips", headers=headers).status_code == 403


def test_role_recheck_with_a_silent_node_is_503_not_stale_access(store, traded):
    now = [1_000_000.0]
    state = {"down": False}

    def roles(address):
        if state["down"]:
            raise ConnectionError("node down")
        return {"operator"}

    auth = Authenticator(roles, "test.daisee", clock=lambda: now[0], role_ttl=30)
    with TestClient(create_app(store, auth)) as client:
        headers = sign_in(client, dev_account(0))
        state["down"], now[0] = True, now[0] + 31
        assert client.get("/api/operator/skips", headers=headers).status_code == 503


def test_a_long_garbage_message_is_refused_before_the_full_parse(client):
    """The ABNF parse takes seconds on long garbage: the HMAC'd fields are checked first."""
    text = "test.daisee wants you to sign in with your Ethereum account:\n" + "x" * 900
    reply = client.post("/api/auth/verify", json={"message": text, "signature": "0x" + "11" * 65})
    assert reply.status_code == 401 and "issued by this viewer" in reply.json()["detail"]
