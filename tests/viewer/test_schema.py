"""Property-based run of the OpenAPI schema (schemathesis), bounded: for the public, a member and an
operator, no input gives a 5xx, and every answer conforms to the schema (status code documented,
content type, body shape)."""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.viewer.test_collective_views import KEYS, REPORT
from viewer.api import create_app

# The SSE stream never ends by design; it is exercised by the browser test instead.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/api/stream")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BOUNDED = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api_schema(store, auth, tmp_path_factory):
    collective = tmp_path_factory.mktemp("collective")  # so that the conformity and key file answer 200 too
    (collective / "conformity.json").write_text(json.dumps(REPORT))
    (collective / "keys.csv").write_text(KEYS)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(store, auth, collective_dir=collective))


@schema.parametrize()
@BOUNDED
def test_the_public_gets_no_5xx_and_schema_conformant_answers(case):
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@BOUNDED
def test_a_member_gets_no_5xx_and_schema_conformant_answers(case, buyer_headers):
    case.call_and_validate(headers=buyer_headers, checks=CHECKS)


@schema.parametrize()
@BOUNDED
def test_the_operator_gets_no_5xx_and_schema_conformant_answers(case, operator_headers):
    case.call_and_validate(headers=operator_headers, checks=CHECKS)


@schema.parametrize()
@BOUNDED
def test_the_grid_operator_gets_no_5xx_and_schema_conformant_answers(case, grid_headers):
    case.call_and_validate(headers=grid_headers, checks=CHECKS)
