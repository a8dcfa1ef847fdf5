"""The three endpoints; connections are taken only after the input has validated.

The router is built per app because its habits are settings the benchmarks measure
(docs/per-request-costs.md): whether the dependencies run on the event loop or in FastAPI's
thread pool, how a response body is made (taskapi/writers.py), and whether the endpoints are
`async def` or plain `def` over a synchronous pool. Whatever the settings, /openapi.json is the
same document (tests/test_habits.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from taskapi.cursor import decode_cursor, encode_cursor
from taskapi.db import Database
from taskapi.models import Detail, Ping, Task, TaskIn, TaskPage
from taskapi.repository import TaskRow
from taskapi.settings import Dependencies, Endpoints, ResponseMode
from taskapi.sync_db import SyncPsycopgPool
from taskapi.writers import WRITERS, Writer

# The error statuses docs/api.md gives each route, so /openapi.json (go-gin serves the same
# document) tells a client or a fuzzer the whole story; FastAPI declares 422 by itself.
_INVALID_CURSOR: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {"model": Detail, "description": "`after` is not a cursor this API made"},
}
_TOO_LARGE: dict[int | str, dict[str, Any]] = {
    status.HTTP_413_CONTENT_TOO_LARGE: {"model": Detail, "description": "The body is over 65,536 bytes"},
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": Detail,
        "description": "No database connection: `database unavailable: <cause>`",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "required": True,
                "schema": {"type": "integer", "minimum": 0},
            }
        },
    },
}


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Where a page starts and how long it is, with the key that signs the next page's cursor."""

    after_id: int
    limit: int
    key: bytes

    def next_cursor(self, rows: list[TaskRow]) -> str | None:
        return encode_cursor(rows[-1].id, self.key) if len(rows) == self.limit else None


def _page_request(key: bytes, limit: int, after: str | None) -> PageRequest:
    # limit and after are validated together so a bad limit (422) wins over a bad
    # cursor (400), the order every implementation follows.
    return PageRequest(after_id=0 if after is None else decode_cursor(after, key), limit=limit, key=key)


LimitQuery = Annotated[int, Query(ge=1, le=100)]
AfterQuery = Annotated[str | None, Query()]


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def page_request(request: Request, limit: LimitQuery = 25, after: AfterQuery = None) -> PageRequest:
    # The key is read here rather than through a dependency of its own: each dependency is one
    # more solve_dependencies pass per request (docs/profiles/), for a constant.
    return _page_request(request.app.state.cursor_key, limit, after)


# The same dependencies as plain functions: FastAPI runs each `def` dependency in its thread
# pool, a hop out of the event loop and back for every one on every request.
def get_database_in_thread(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def page_request_in_thread(request: Request, limit: LimitQuery = 25, after: AfterQuery = None) -> PageRequest:
    return _page_request(request.app.state.cursor_key, limit, after)


@dataclass(frozen=True)
class _Providers:
    database: Callable[..., Any]
    page: Callable[..., Any]


_PROVIDERS: dict[Dependencies, _Providers] = {
    "async": _Providers(get_database, page_request),
    "threadpool": _Providers(get_database_in_thread, page_request_in_thread),
}


async def get_sync_database(request: Request) -> SyncPsycopgPool:
    database: SyncPsycopgPool = request.app.state.database
    return database


_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass(frozen=True)
class _Routes:
    """The three route decorators, declared once whichever endpoints they wrap."""

    ping: _Decorator
    list: _Decorator
    create: _Decorator


def _async_endpoints(routes: _Routes, write: Writer, provide: _Providers) -> None:
    PageDep = Annotated[PageRequest, Depends(provide.page)]
    DatabaseDep = Annotated[Database, Depends(provide.database)]

    @routes.ping
    async def ping() -> Any:
        return write.ping()

    @routes.list
    async def list_tasks(page: PageDep, database: DatabaseDep) -> Any:
        async with database.repository() as repo:
            rows = await repo.list_after(page.after_id, page.limit)
        return write.page(rows, page.next_cursor(rows))

    @routes.create
    async def create_task(task: TaskIn, database: DatabaseDep) -> Any:
        async with database.repository() as repo:
            row = await repo.create(task.title, task.description)
        return write.task(row)


def _sync_endpoints(routes: _Routes, write: Writer, provide: _Providers) -> None:
    """The FastAPI template's way: every endpoint a plain `def`, which FastAPI runs on anyio's
    thread pool, blocking its worker thread on the synchronous driver. The dependencies stay as
    APP_DEPENDENCIES says (async by default, on the event loop), so the endpoint is the one
    thing APP_ENDPOINTS changes. The functions keep their names: they name the OpenAPI operations."""
    PageDep = Annotated[PageRequest, Depends(provide.page)]
    DatabaseDep = Annotated[SyncPsycopgPool, Depends(get_sync_database)]

    @routes.ping
    def ping() -> Any:
        return write.ping()

    @routes.list
    def list_tasks(page: PageDep, database: DatabaseDep) -> Any:
        with database.repository() as repo:
            rows = repo.list_after(page.after_id, page.limit)
        return write.page(rows, page.next_cursor(rows))

    @routes.create
    def create_task(task: TaskIn, database: DatabaseDep) -> Any:
        with database.repository() as repo:
            row = repo.create(task.title, task.description)
        return write.task(row)


def create_router(
    dependencies: Dependencies = "async", response: ResponseMode = "serialize", endpoints: Endpoints = "async"
) -> APIRouter:
    write = WRITERS[response]
    router = APIRouter()
    routes = _Routes(
        ping=router.get("/ping/", response_model=Ping, **write.route_options),
        list=router.get(
            "/tasks/",
            response_model=TaskPage,
            responses={**_INVALID_CURSOR, **_UNAVAILABLE},
            **write.route_options,
        ),
        create=router.post(
            "/tasks/",
            response_model=Task,
            status_code=status.HTTP_201_CREATED,
            responses={**_TOO_LARGE, **_UNAVAILABLE},
            **write.route_options,
        ),
    )
    add_endpoints = _sync_endpoints if endpoints == "sync" else _async_endpoints
    add_endpoints(routes, write, _PROVIDERS[dependencies])
    return router
