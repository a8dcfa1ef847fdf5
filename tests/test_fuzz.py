"""Schemathesis against every service's own /openapi.json: no 5xx, nothing the document does not declare.

Cases come from schemathesis strategies driven by Hypothesis inside an ordinary test, so
the session's services and database fixtures apply unchanged. (`schemathesis.pytest.from_fixture`
would be the shorter spelling, but its runner sets `Function._nodeid`, which pytest 9.2 no
longer has.)
"""

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bench.services.manifest import services
from bench.services.stack import RunningService
from tests.conftest import ServiceLauncher

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

MAX_EXAMPLES = 40
# Schemathesis' response checks. Its request-side judgements stay off on purpose:
# positive_data_acceptance would flag the 400 for a well-formed string that is not one of
# our cursors, which the document can say (400 is declared) but not predict.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# GET /ping/ has no input to make invalid, so only valid cases for it.
CASES = [
    ("GET", "/ping/", GenerationMode.POSITIVE),
    ("GET", "/tasks/", GenerationMode.POSITIVE),
    ("GET", "/tasks/", GenerationMode.NEGATIVE),
    ("POST", "/tasks/", GenerationMode.POSITIVE),
    ("POST", "/tasks/", GenerationMode.NEGATIVE),
]


@pytest.fixture(scope="module", params=[m.name for m in services()])
def running(request: pytest.FixtureRequest, launch: ServiceLauncher) -> Iterator[RunningService]:
    with launch(request.param, "pool", env={"DB_POOL_MAX": "2"}) as service:
        yield service


@pytest.fixture(scope="module")
def api_schema(running: RunningService) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{running.url}/openapi.json", timeout=10)


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_fuzzed_requests_get_declared_answers(
    running: RunningService,
    api_schema: schemathesis.BaseSchema,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = api_schema[path][method]
    statuses: set[int] = set()
    with requests.Session() as session:
        # Derandomized: the same cases on every run and for every service. No shrinking:
        # the failure report already carries the case and a curl line to replay it.
        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def exchange(case: schemathesis.Case[Any]) -> None:
            response = case.call_and_validate(
                base_url=running.url, session=session, checks=CHECKS, timeout=10
            )
            statuses.add(response.status_code)

        exchange()
    # The run reached the handlers rather than bouncing off one error.
    wanted = range(200, 300) if mode is GenerationMode.POSITIVE else range(400, 500)
    assert any(status in wanted for status in statuses), sorted(statuses)
