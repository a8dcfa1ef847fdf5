"""The habits of issue 18 beyond the contract: who serialises, what the middlewares add, how many
threads the `def` endpoints get. tests/contract judges every variant's answers over real HTTP."""

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import pytest
from anyio import to_thread
from fastapi import FastAPI
from fastapi._compat.v2 import ModelField
from fastapi.exceptions import FastAPIDeprecationWarning
from pydantic import PostgresDsn

from bench.common.errors import BenchError
from bench.database.server import Database
from bench.faults.service import pool_exhausted
from bench.services.response_size import response_bytes
from taskapi.app import create_app
from taskapi.repository import TaskRow
from taskapi.settings import Settings
from taskapi.writers import WRITERS

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

POOL_MAX = 3
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
_TIMING = re.compile(r"^app;dur=\d+\.\d{3}$")


T = TypeVar("T")


def _settings(database: Database, **values: Any) -> Settings:
    return Settings(database_url=PostgresDsn(database.url), db_pool_max=POOL_MAX, **values)


def serve(app: FastAPI, requests: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """The app in this process, its lifespan run as a server runs it, on one event loop
    (Starlette's TestClient warns that it wants another HTTP client)."""

    async def main() -> T:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://habits") as client,
        ):
            return await requests(client)

    return anyio.run(main)


@pytest.fixture
def serialize_json_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every call of FastAPI's fast-path serialiser (ModelField.serialize_json)."""
    calls: list[object] = []
    original = ModelField.serialize_json

    def counted(self: ModelField, value: Any, **kwargs: Any) -> bytes:
        calls.append(value)
        return original(self, value, **kwargs)

    monkeypatch.setattr(ModelField, "serialize_json", counted)
    return calls


# orjson-response builds a deprecated ORJSONResponse per response: on purpose (taskapi/writers.py),
# so its warning is let through here, and only here, by its exact text.
_ORJSON_DEPRECATED = pytest.mark.filterwarnings(
    "ignore:ORJSONResponse is deprecated:fastapi.exceptions.FastAPIDeprecationWarning"
)


@pytest.mark.parametrize(
    ("response", "fast_path"),
    [("idiomatic", 2), pytest.param("orjson-response", 0, marks=_ORJSON_DEPRECATED), ("serialize", 0)],
)
def test_only_idiomatic_takes_fastapis_fast_path(
    database: Database, serialize_json_calls: list[object], response: str, fast_path: int
) -> None:
    async def requests(client: httpx.AsyncClient) -> tuple[Any, Any]:
        return (await client.get("/ping/")).json(), (await client.get("/tasks/?limit=3")).json()

    pong, page = serve(create_app(_settings(database, app_response=response)), requests)
    assert pong == {"ping": "pong"}
    assert len(page["items"]) == 3
    assert len(serialize_json_calls) == fast_path


def test_orjson_response_is_still_deprecated_here() -> None:
    """The orjson-response variant pays a deprecation warning per response (taskapi/writers.py);
    this fails the day FastAPI drops the warning or the class."""
    from fastapi.responses import ORJSONResponse

    with pytest.warns(FastAPIDeprecationWarning, match="ORJSONResponse is deprecated"):
        response = ORJSONResponse({"ping": "pong"})
    assert response.body == b'{"ping":"pong"}'


def test_writers_that_encode_themselves_write_the_same_bytes() -> None:
    """A whole-second timestamp is where orjson and msgspec would drop the microseconds."""
    rows = [
        TaskRow(1, 'héllo "wörld"', "tab\there\x01", False, datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)),
        TaskRow(2, "second", "", True, datetime(2026, 12, 2, 10, 0, 0, 123456, tzinfo=UTC)),
    ]
    expected = WRITERS["serialize"].page(rows, "AAAAAAAAAAIAAAAAAAAAAA").body
    assert b'"created_at":"2026-12-02T10:00:00.000000Z"' in expected
    for name in ("orjson", "msgspec"):
        assert WRITERS[name].page(rows, "AAAAAAAAAAIAAAAAAAAAAA").body == expected, name
        assert WRITERS[name].task(rows[0]).body == WRITERS["serialize"].task(rows[0]).body, name
        assert WRITERS[name].task(rows[0]).status_code == 201, name


@pytest.mark.parametrize("mode", ["asgi-1", "asgi-3", "http-1", "http-3"])
def test_every_middleware_layout_does_the_same_work(database: Database, mode: str) -> None:
    async def requests(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get(path) for path in ("/ping/", "/tasks/", "/no-such-path")]

    app = create_app(_settings(database, app_middleware=mode))
    answers = serve(app, requests)
    assert [a.status_code for a in answers] == [200, 200, 404]
    ids = [a.headers["x-request-id"] for a in answers]
    assert all(_HEX_ID.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids), "a fresh id per request"
    assert all(_TIMING.match(a.headers["server-timing"]) for a in answers)
    assert dict(app.state.response_counts.by_status) == {200: 2, 404: 1}


def test_no_middleware_adds_nothing(database: Database) -> None:
    async def requests(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/ping/")

    app = create_app(_settings(database))
    response = serve(app, requests)
    assert "x-request-id" not in response.headers
    assert "server-timing" not in response.headers
    assert app.state.response_counts is None


@pytest.mark.parametrize(("threads", "tokens"), [("anyio", 40), ("pool-max", POOL_MAX)])
def test_the_lifespan_sets_anyios_thread_limiter(database: Database, threads: str, tokens: int) -> None:
    async def requests(client: httpx.AsyncClient) -> tuple[float, int]:
        response = await client.get("/tasks/?limit=2")
        return to_thread.current_default_thread_limiter().total_tokens, response.status_code

    app = create_app(_settings(database, app_endpoints="sync", app_threads=threads))
    assert serve(app, requests) == (tokens, 200)
    assert app.state.thread_tokens == tokens


def test_sync_needs_psycopgs_pool(database: Database) -> None:
    with pytest.raises(ValueError, match="APP_ENDPOINTS=sync"):
        _settings(database, app_endpoints="sync", db_driver="asyncpg")


def test_matched_threads_queue_requests_instead_of_exhausting_the_pool(
    database: Database, tmp_path: Path
) -> None:
    """In the real server: with as many threads as connections, nobody waits inside the pool, so
    nobody gets its 503 pool timeout; they wait for a thread (no timeout) and are served once the
    lock goes. The fault suite expects exactly that of sync-matched; the 503 expectation fails on it."""
    result = pool_exhausted("fastapi-uvicorn", "sync-matched", database, tmp_path, requests=12, queues=True)
    assert result.passed, result.notes
    assert result.error_messages == {}, result.notes
    assert "12 x 200, 0 x pool timeout" in result.notes
    expecting_503s = pool_exhausted("fastapi-uvicorn", "sync-matched", database, tmp_path, requests=12)
    assert not expecting_503s.passed
    assert "the pool was never exhausted" in expecting_503s.notes


def test_response_bytes_refuses_a_scenario_of_many_requests() -> None:
    with pytest.raises(BenchError, match="'mixed' has no single response"):
        response_bytes("http://127.0.0.1:9", "mixed")
