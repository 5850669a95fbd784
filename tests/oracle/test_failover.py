"""The oracle's own node dies: with its neighbour's node as a fallback (ChainSettings.fallback_urls)
it goes on submitting there, and every reading reaches the chain once."""
from __future__ import annotations

import shutil

import pytest

from daisee.chain import Community
from tests.oracle.conftest import chain_readings, local_readings, sample_and_flush
from tests.support.anvil import AnvilNode, CommunityAdmin
from tests.support.scenario import funded_account


@pytest.fixture(scope="module")
def neighbour(own_node, tmp_path_factory):
    """A second anvil of the same chain as own_node: started from own_node's state by `sync()`."""
    anvil, _ = own_node
    node = AnvilNode(tmp_path_factory.mktemp("neighbour"))

    def sync() -> AnvilNode:  # what peering does between two nodes of one chain
        node.stop(hard=True)
        anvil.snapshot()
        shutil.copy(anvil.state, node.state)
        return node.start()

    node.sync = sync
    yield node
    node.stop(hard=True)


@pytest.fixture(scope="module")
def chain_settings(own_node, neighbour):
    anvil, deployment = own_node
    return anvil.settings(deployment).model_copy(update={"fallback_urls": [neighbour.url], "request_timeout": 2})


@pytest.fixture(scope="module")
def gateway(chain_settings):
    return funded_account(CommunityAdmin(Community.open(chain_settings)), tokens=0)


def test_the_oracle_goes_on_through_the_fallback_when_its_node_is_killed(own_node, neighbour, make_oracle,
                                                                         register, clock, community):
    anvil, _ = own_node
    meter = register()
    oracle = make_oracle(meter, batch={"max_readings": 3, "max_seconds": 0})
    sample_and_flush(oracle, clock, 4)
    neighbour.sync()  # the neighbour has every block so far
    anvil.stop(hard=True)  # the oracle's own node gone
    sample_and_flush(oracle, clock, 5)
    assert community.w3.provider.endpoint_uri == neighbour.url
    on_chain = chain_readings(community, meter)
    assert [r[0] for r in on_chain] == list(range(1, 10))
    assert on_chain == local_readings(oracle, meter)
