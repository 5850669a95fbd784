"""An HTTP JSON-RPC provider over several nodes of one chain: when the node in use does not answer
(connection refused or reset, timeout, an HTTP 5xx from a proxy in front of it), the request goes to
the next node, round the list, and the provider stays there. A JSON-RPC error is an answer (a revert,
a nonce too low, an unknown method): it is returned as it is, never failed over.

A Pi's services list their own node first and the neighbours' after it (`ChainSettings.rpc_url`,
then `fallback_urls`); `daisee.chain.connect` builds this provider for every service.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, TypeVar

import requests
from web3 import HTTPProvider

log = logging.getLogger(__name__)
T = TypeVar("T")

# What says "this node did not answer", as opposed to an answer that is an error.
UNANSWERED = (requests.ConnectionError, requests.Timeout, requests.HTTPError, ConnectionError)


class NoEndpointAnswers(requests.ConnectionError):
    """Every endpoint failed for one request (a requests.ConnectionError, so callers that retry on a
    dead node retry on this too)."""


class FailoverHTTPProvider(HTTPProvider):
    def __init__(self, endpoints: list[str], **kwargs: Any):
        if not endpoints:
            raise ValueError("at least one RPC endpoint is needed")
        self.endpoints = list(dict.fromkeys(endpoints))
        if len(self.endpoints) > 1:
            # web3 retries a dead node five times with back-off (~2 s) before giving up on it: with
            # other nodes to ask, the next node is the retry.
            kwargs.setdefault("exception_retry_configuration", None)
        super().__init__(self.endpoints[0], **kwargs)
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return f"RPC connection {self.endpoint_uri} (of {', '.join(self.endpoints)})"

    def _make_request(self, method, request_data: bytes) -> bytes:
        return self._failover(lambda: super(FailoverHTTPProvider, self)._make_request(method, request_data), method)

    def make_batch_request(self, batch_requests):
        return self._failover(lambda: super(FailoverHTTPProvider, self).make_batch_request(batch_requests), "batch")

    def _failover(self, request: Callable[[], T], method: str) -> T:
        failures = []
        for _ in self.endpoints:
            tried = self.endpoint_uri
            try:
                return request()
            except UNANSWERED as exc:
                failures.append(f"{tried} ({type(exc).__name__}: {exc})")
                if len(self.endpoints) > 1:
                    self._next(tried, method, exc)
        raise NoEndpointAnswers(f"no RPC endpoint answers {method}: " + "; ".join(failures))

    def _next(self, failed: str, method: str, exc: Exception) -> None:
        with self._lock:
            if self.endpoint_uri != failed:  # another thread has moved on already
                return
            following = self.endpoints[(self.endpoints.index(failed) + 1) % len(self.endpoints)]
            self.endpoint_uri = following
        log.warning("RPC endpoint %s did not answer %s (%s): now using %s", failed, method,
                    type(exc).__name__, following)
