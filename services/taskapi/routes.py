"""The three endpoints; connections are taken only after the input has validated."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from taskapi.cursor import decode_cursor, encode_cursor
from taskapi.db import Database
from taskapi.models import Detail, Ping, Task, TaskIn, TaskPage

router = APIRouter()
_PONG = Ping(ping="pong")

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


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_cursor_key(request: Request) -> bytes:
    key: bytes = request.app.state.cursor_key
    return key


DatabaseDep = Annotated[Database, Depends(get_database)]
CursorKeyDep = Annotated[bytes, Depends(get_cursor_key)]


@dataclass(frozen=True, slots=True)
class PageRequest:
    after_id: int
    limit: int


def page_request(
    key: CursorKeyDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    after: Annotated[str | None, Query()] = None,
) -> PageRequest:
    # limit and after are validated together so a bad limit (422) wins over a bad
    # cursor (400), the order every implementation follows.
    return PageRequest(after_id=0 if after is None else decode_cursor(after, key), limit=limit)


@router.get("/ping/")
async def ping() -> Ping:
    return _PONG


@router.get("/tasks/", responses={**_INVALID_CURSOR, **_UNAVAILABLE})
async def list_tasks(
    page: Annotated[PageRequest, Depends(page_request)], database: DatabaseDep, key: CursorKeyDep
) -> TaskPage:
    async with database.repository() as repo:
        rows = await repo.list_after(page.after_id, page.limit)
    full = len(rows) == page.limit
    return TaskPage(
        items=[Task.model_validate(row, from_attributes=True) for row in rows],
        next=encode_cursor(rows[-1].id, key) if full else None,
    )


@router.post("/tasks/", status_code=status.HTTP_201_CREATED, responses={**_TOO_LARGE, **_UNAVAILABLE})
async def create_task(task: TaskIn, database: DatabaseDep) -> Task:
    async with database.repository() as repo:
        row = await repo.create(task.title, task.description)
    return Task.model_validate(row, from_attributes=True)
