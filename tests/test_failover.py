"""daisee.chain.connect over several endpoints (daisee.failover) against real anvil nodes: a node that
does not answer is skipped for the next, an error answer is not, and none answering is a clear error."""
from __future__ import annotations

import logging

import pytest
from web3.exceptions import Web3RPCError

from daisee.chain import connect
from daisee.config import ChainSettings
from daisee.failover import NoEndpointAnswers
from tests.support.anvil import AnvilNode, free_port


@pytest.fixture
def two_nodes(tmp_path):
    nodes = [AnvilNode(tmp_path / name).start() for name in ("a", "b")]
    yield nodes
    for node in nodes:
        node.stop(hard=True)


def settings(*urls: str) -> ChainSettings:
    return ChainSettings(rpc_url=urls[0], fallback_urls=list(urls[1:]), request_timeout=2)


def mine(node: AnvilNode, blocks: int) -> None:
    connect(settings(node.url)).provider.make_request("anvil_mine", [hex(blocks)])


def test_settings_list_the_first_endpoint_first_and_each_once():
    s = settings("http://a:1", "http://b:2", "http://a:1", "http://c:3")
    assert s.rpc_urls == ["http://a:1", "http://b:2", "http://c:3"]


def test_services_spread_over_the_endpoints_each_with_the_others_as_fallbacks():
    s = settings("http://a:1", "http://b:2", "http://c:3")
    assert [(r.rpc_url, r.fallback_urls) for r in (s.rotated(1), s.rotated(5), s.rotated(-1))] == [
        ("http://b:2", ["http://c:3", "http://a:1"]),
        ("http://c:3", ["http://a:1", "http://b:2"]),
        ("http://c:3", ["http://a:1", "http://b:2"]),
    ]
    assert settings("http://a:1").rotated(4).rpc_urls == ["http://a:1"]


def test_a_dead_first_endpoint_sends_requests_to_the_next(two_nodes, caplog):
    a, b = two_nodes
    mine(b, 7)  # b is told apart by its height
    w3 = connect(settings(a.url, b.url))
    assert w3.eth.block_number == 0
    a.stop(hard=True)
    with caplog.at_level(logging.WARNING, logger="daisee.failover"):
        assert w3.eth.block_number == 7
    assert w3.provider.endpoint_uri == b.url
    assert f"{a.url} did not answer" in caplog.text and f"now using {b.url}" in caplog.text


def test_it_comes_back_round_to_the_first_when_the_second_dies(two_nodes):
    a, b = two_nodes
    mine(a, 3)
    w3 = connect(settings(a.url, b.url))
    a.stop()  # graceful: its state written, for the restart
    assert w3.eth.block_number == 0  # b
    a.start()  # its state kept: 3 blocks
    b.stop(hard=True)
    assert w3.eth.block_number == 3
    assert w3.provider.endpoint_uri == a.url


def test_an_error_answer_is_not_failed_over(two_nodes):
    a, b = two_nodes
    w3 = connect(settings(a.url, b.url))
    with pytest.raises(Web3RPCError):
        w3.eth.get_block("0x" + "ab" * 32)  # a malformed block hash: the node answers with an error
    response = w3.provider.make_request("no_such_method", [])
    assert "error" in response
    assert w3.provider.endpoint_uri == a.url


def test_no_endpoint_answering_is_one_error_naming_them_all(two_nodes):
    a, b = two_nodes
    for node in two_nodes:
        node.stop(hard=True)
    w3 = connect(settings(a.url, b.url))
    with pytest.raises(NoEndpointAnswers) as failed:
        w3.eth.block_number
    assert a.url in str(failed.value) and b.url in str(failed.value)


def test_a_single_dead_endpoint_is_the_same_clear_error():
    url = f"http://127.0.0.1:{free_port()}"
    w3 = connect(settings(url))
    with pytest.raises(NoEndpointAnswers, match=url):
        w3.eth.chain_id
