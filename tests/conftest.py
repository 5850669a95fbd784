"""Fixtures shared by every suite. Contract tests use ape's fixtures (tests/contracts/conftest.py);
service and end-to-end tests use a real anvil started here (one per session, restartable)."""
from __future__ import annotations

import pytest

from daisee.chain import Community
from tests.support.anvil import AnvilNode, CommunityAdmin


@pytest.fixture(scope="session")
def anvil(tmp_path_factory):
    node = AnvilNode(tmp_path_factory.mktemp("anvil")).start()
    yield node
    node.stop(hard=True)


@pytest.fixture(scope="session")
def deployment(anvil, tmp_path_factory):
    return anvil.deploy(tmp_path_factory.mktemp("deployments") / "local.json")


@pytest.fixture(scope="session")
def chain_settings(anvil, deployment):
    return anvil.settings(deployment)


@pytest.fixture
def community(chain_settings):
    return Community.open(chain_settings)


@pytest.fixture
def admin(community):
    return CommunityAdmin(community)
