"""Property-based run of the OpenAPI schema (schemathesis): no input gives a 5xx, signed in or not."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from viewer.api import create_app

# The SSE stream never ends by design; it is exercised by the browser test instead.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/api/stream")


@pytest.fixture(scope="module")
def api_schema(store, auth):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(store, auth))


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_for_the_public(case):
    case.call_and_validate(checks=[not_a_server_error])


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_for_the_operator(case, operator_headers):
    case.call_and_validate(headers=operator_headers, checks=[not_a_server_error])
