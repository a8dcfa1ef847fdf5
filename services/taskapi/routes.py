"""The three endpoints; connections are taken only after the input has validated.

The router is built per app because two of its habits are settings the ladder measures
(docs/per-request-costs.md): whether the dependencies run on the event loop or in FastAPI's
thread pool, and whether a response is serialised once or returned as a model for FastAPI to
validate against response_model again. Either way /openapi.json is the same document.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import TypeAdapter

from taskapi.cursor import decode_cursor, encode_cursor
from taskapi.db import Database
from taskapi.models import Detail, Ping, Task, TaskIn, TaskPage
from taskapi.repository import TaskRow
from taskapi.settings import Dependencies, ResponseMode

_PONG = Ping(ping="pong")
_JSON = "application/json"

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


@dataclass(frozen=True, slots=True)
class RowPage:
    """A page of rows as TaskPage writes it: items, then the next cursor."""

    items: list[TaskRow]
    next: str | None


# The rows come typed from the driver, so they are written straight to JSON, once: no model per
# row, no second validation against response_model (which still documents the shape in OpenAPI;
# tests/contract holds the bytes to the same contract).
_PAGE_JSON = TypeAdapter(RowPage)
_TASK_JSON = TypeAdapter(TaskRow)


def _json(body: bytes, status_code: int = status.HTTP_200_OK) -> Response:
    """FastAPI passes a Response through untouched: no validation, no second serialisation."""
    return Response(body, status_code=status_code, media_type=_JSON)


def _revalidated_page(rows: list[TaskRow], next_cursor: str | None) -> TaskPage:
    # The write-up's way: a model per row, then FastAPI dumps the page, validates it against
    # response_model and serialises it.
    return TaskPage(items=[Task.model_validate(row, from_attributes=True) for row in rows], next=next_cursor)


def create_router(dependencies: Dependencies = "async", response: ResponseMode = "serialize") -> APIRouter:
    provide = _PROVIDERS[dependencies]
    serialize = response == "serialize"
    router = APIRouter()
    pong = _PONG.model_dump_json().encode()

    @router.get("/ping/", response_model=Ping)
    async def ping() -> Response | Ping:
        return _json(pong) if serialize else _PONG

    @router.get("/tasks/", response_model=TaskPage, responses={**_INVALID_CURSOR, **_UNAVAILABLE})
    async def list_tasks(
        page: Annotated[PageRequest, Depends(provide.page)],
        database: Annotated[Database, Depends(provide.database)],
    ) -> Response | TaskPage:
        async with database.repository() as repo:
            rows = await repo.list_after(page.after_id, page.limit)
        next_cursor = page.next_cursor(rows)
        if serialize:
            return _json(_PAGE_JSON.dump_json(RowPage(rows, next_cursor)))
        return _revalidated_page(rows, next_cursor)

    @router.post(
        "/tasks/",
        response_model=Task,
        status_code=status.HTTP_201_CREATED,
        responses={**_TOO_LARGE, **_UNAVAILABLE},
    )
    async def create_task(
        task: TaskIn, database: Annotated[Database, Depends(provide.database)]
    ) -> Response | Task:
        async with database.repository() as repo:
            row = await repo.create(task.title, task.description)
        if serialize:
            return _json(_TASK_JSON.dump_json(row), status.HTTP_201_CREATED)
        return Task.model_validate(row, from_attributes=True)

    return router
