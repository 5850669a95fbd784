"""Viewer fixtures: real trades on the session anvil, indexed into a fresh SQLite store, served by
the real app; members sign in with their own keys, the operator with the deployer key."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from daisee.chain import Community
from tests.support.anvil import AnvilNode, CommunityAdmin, dev_account
from tests.support.scenario import DELTA_WH, trade
from viewer.api import create_app
from viewer.auth import Authenticator, contract_roles
from viewer.indexer import Indexer
from viewer.store import Store


@pytest.fixture(scope="session")
def viewer_community(chain_settings):
    return Community.open(chain_settings)


@pytest.fixture(scope="session")
def viewer_admin(viewer_community):
    return CommunityAdmin(viewer_community)


@pytest.fixture(scope="session")
def traded(viewer_admin):
    """Two members: one purchase fully delivered and settled, then a second one left open."""
    t = trade(viewer_admin)
    t.buy()
    t.deliver(DELTA_WH)
    t.wait(60)  # the last reading is a minute after the others (time-range queries rely on it)
    t.buy()
    return t


@pytest.fixture(scope="session")
def store(tmp_path_factory, traded, viewer_community):
    store = Store(tmp_path_factory.mktemp("viewer") / "viewer.sqlite")
    Indexer(store, viewer_community).catch_up()
    return store


@pytest.fixture(scope="session")
def auth(viewer_community):
    return Authenticator(contract_roles(viewer_community.exchange), "test.daisee")


@pytest.fixture(scope="session")
def client(store, auth):
    with TestClient(create_app(store, auth)) as client:
        yield client


def signed(client: TestClient, account) -> dict[str, str]:
    """A sign-in request body: the viewer's SIWE message for `account`, personal_signed by it."""
    message = client.get("/api/auth/challenge", params={"address": account.address}).json()["message"]
    return {"message": message, "signature": account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()}


def sign_in(client: TestClient, account) -> dict[str, str]:
    """The wallet flow: ask a challenge, personal_sign it, exchange it for a bearer token."""
    reply = client.post("/api/auth/verify", json=signed(client, account))
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


@pytest.fixture(scope="session")
def buyer_headers(client, traded):
    return sign_in(client, traded.buyer.account)


@pytest.fixture(scope="session")
def seller_headers(client, traded):
    return sign_in(client, traded.seller.account)


@pytest.fixture(scope="session")
def operator_headers(client):
    return sign_in(client, dev_account(0))


@pytest.fixture(scope="module")
def own_node(tmp_path_factory):
    """A private anvil for tests that rewrite history (reorgs) or need exact counts."""
    node = AnvilNode(tmp_path_factory.mktemp("viewer-anvil")).start()
    deployment = node.deploy(tmp_path_factory.mktemp("viewer-deploy") / "local.json")
    yield node, node.settings(deployment)
    node.stop(hard=True)


@pytest.fixture
def chain(own_node):
    """The private node, the community on it and its operator."""
    node, settings = own_node
    community = Community.open(settings)
    return node, community, CommunityAdmin(community)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, chain_settings, traded, grid_account, viewer_admin):
    """The real `daisee-viewer serve` app (indexer thread included) on a loopback port (after every
    session fixture its pages need: ape re-creates module fixtures when a session one appears)."""
    from tests.support.anvil import free_port
    from viewer.settings import ViewerSettings

    import json

    from tests.viewer.test_layers import FORECAST

    from tests.viewer.references import commit_root, past_period, reference

    workdir = tmp_path_factory.mktemp("live")
    (workdir / "forecast.json").write_text(json.dumps(FORECAST))
    (workdir / "references").mkdir()
    period = past_period(viewer_admin.community)
    own = reference(traded.buyer.address, period=period)
    own["version"] = commit_root(viewer_admin, period, own["statement_root"])  # the buyer's root is on chain
    (workdir / "references" / "buyer.json").write_text(json.dumps(own))
    (workdir / "references" / "seller.json").write_text(json.dumps(reference(traded.seller.address, tamper=True)))
    from tests.viewer.test_collective_views import KEYS, REPORT

    (workdir / "collective").mkdir()
    (workdir / "collective" / "conformity.json").write_text(json.dumps(REPORT))
    (workdir / "collective" / "keys.csv").write_text(KEYS)
    settings = ViewerSettings(chain=chain_settings, database=workdir / "v.sqlite", port=free_port(),
                              forecast=workdir / "forecast.json", references=workdir / "references",
                              collective_dir=workdir / "collective")
    with serving(settings, lambda get: get("/api/totals")["purchases"] >= 2 and get("/api/periods")) as url:
        yield url  # up, and the indexer has caught up with the session trades and the committed root


@contextmanager
def serving(settings, ready):
    """The real `daisee-viewer serve` app in a thread, once `ready(get)` is true (get: path -> JSON)."""
    import time

    import httpx

    from viewer.cli import serve_in_thread

    server, thread = serve_in_thread(settings)
    url = f"http://127.0.0.1:{settings.port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if ready(lambda path: httpx.get(f"{url}{path}", timeout=1).json()):
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        raise RuntimeError("viewer did not start or index in time")
    try:
        yield url
    finally:
        server.stop()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def grid_account(viewer_admin):
    """A grid operator: GRID_OPERATOR_ROLE granted on the exchange by its admin (a role, not a list)."""
    from eth_account import Account

    from viewer.auth import GRID_OPERATOR_ROLE

    account = Account.create()
    viewer_admin.operator.transact(viewer_admin.community.exchange.functions.grantRole(GRID_OPERATOR_ROLE, account.address))
    return account


@pytest.fixture(scope="session")
def grid_headers(client, grid_account):
    return sign_in(client, grid_account)
