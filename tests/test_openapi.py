"""One OpenAPI document for every service: go-gin's committed copy is the FastAPI app's own."""

import json
from collections.abc import Iterator

import httpx
import pytest

from bench.common.paths import REPO_ROOT
from bench.services.manifest import services
from taskapi.openapi import openapi_document, render
from tests.conftest import ServiceLauncher

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

COMMITTED = REPO_ROOT / "go-gin" / "openapi.json"
REGENERATE = "uv run python -m taskapi.openapi > go-gin/openapi.json"
# Every status docs/api.md lets each operation answer (404 and 405 belong to no operation).
DECLARED = {
    ("/ping/", "get"): {"200"},
    ("/tasks/", "get"): {"200", "400", "422", "503"},
    ("/tasks/", "post"): {"201", "413", "422", "503"},
}


@pytest.fixture(scope="module", params=[m.name for m in services()])
def base_url(request: pytest.FixtureRequest, launch: ServiceLauncher) -> Iterator[str]:
    with launch(request.param, "pool", env={"DB_POOL_MAX": "2"}) as running:
        yield running.url


def test_committed_document_is_what_the_app_generates() -> None:
    committed = COMMITTED.read_text(encoding="utf-8")
    assert committed == render(openapi_document()), (
        f"go-gin/openapi.json differs from the FastAPI app's document: regenerate it with `{REGENERATE}`"
    )


def test_document_declares_every_status_of_the_contract() -> None:
    paths = openapi_document()["paths"]
    declared = {
        (path, method): set(operation["responses"])
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert declared == DECLARED
    for method in ("get", "post"):
        unavailable = paths["/tasks/"][method]["responses"]["503"]
        assert unavailable["headers"]["Retry-After"]["required"] is True


def test_service_serves_the_document(base_url: str) -> None:
    response = httpx.get(f"{base_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert response.json() == json.loads(COMMITTED.read_text(encoding="utf-8"))


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_document_path_is_get_only(base_url: str, method: str) -> None:
    response = httpx.request(method, f"{base_url}/openapi.json", timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json() == {"detail": "Method Not Allowed"}
