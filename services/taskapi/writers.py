"""How a response body is made, one Writer per APP_RESPONSE (the serialisation habits of issue 18).

Every writer gives the same bytes for the same rows (tests/contract holds them to docs/api.md);
what differs is who validates and who encodes:

- `serialize`: the rows, typed by the driver, are dumped once by a pydantic TypeAdapter into a
  raw Response. FastAPI passes a Response through untouched, so its validation and serialisation
  are sidestepped.
- `idiomatic`: the endpoint returns its data (the page as a dict holding the row objects) and
  FastAPI does the rest: response_model validates it (from attributes) and, since no
  response_class is set, `serialize_json` dumps it to bytes in the same pass through
  pydantic-core (fastapi/routing.py, `use_dump_json`).
- `revalidate`: a `Task` model built per row, then the same FastAPI path validates the page
  against response_model again and dumps it: the write-up's style, a ladder rung.
- `orjson-response`: the same data as `idiomatic` with response_class=ORJSONResponse. A custom
  response_class turns FastAPI's fast path off: it validates, dumps to Python objects
  (`serialize`, mode json) and orjson encodes those.
- `orjson`: a plain dict per row, encoded by orjson.dumps into a raw Response.
- `msgspec`: a msgspec Struct per row, encoded by one msgspec encoder into a raw Response.

Timestamps are written by format_timestamp in every writer: orjson and msgspec drop the
microseconds of a whole second, and the contract wants all six digits.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
from fastapi import Response, status
from fastapi.responses import ORJSONResponse
from pydantic import TypeAdapter

from taskapi.models import Ping, Task, TaskPage, format_timestamp
from taskapi.repository import TaskRow
from taskapi.settings import ResponseMode

_JSON = "application/json"
_PONG = Ping(ping="pong")
_PONG_BYTES = _PONG.model_dump_json().encode()


def _json(body: bytes, status_code: int = status.HTTP_200_OK) -> Response:
    """FastAPI passes a Response through untouched: no validation, no second serialisation."""
    return Response(body, status_code=status_code, media_type=_JSON)


@dataclass(frozen=True)
class Writer:
    """What the endpoints return for each answer, and the keyword arguments every route takes."""

    ping: Callable[[], Any]
    page: Callable[[list[TaskRow], str | None], Any]
    # A raw Response carries the 201 itself; returned data gets the route's status_code=201.
    task: Callable[[TaskRow], Any]
    route_options: dict[str, Any] = field(default_factory=dict)


# serialize


@dataclass(frozen=True, slots=True)
class RowPage:
    """A page of rows as TaskPage writes it: items, then the next cursor."""

    items: list[TaskRow]
    next: str | None


_PAGE_JSON = TypeAdapter(RowPage)
_TASK_JSON = TypeAdapter(TaskRow)

_SERIALIZE = Writer(
    ping=lambda: _json(_PONG_BYTES),
    page=lambda rows, next_cursor: _json(_PAGE_JSON.dump_json(RowPage(rows, next_cursor))),
    task=lambda row: _json(_TASK_JSON.dump_json(row), status.HTTP_201_CREATED),
)


# idiomatic: the data as it comes, validated from its attributes by FastAPI.


def _page_data(rows: list[TaskRow], next_cursor: str | None) -> dict[str, Any]:
    return {"items": rows, "next": next_cursor}


_IDIOMATIC = Writer(ping=lambda: {"ping": "pong"}, page=_page_data, task=lambda row: row)


# revalidate


def _revalidated_page(rows: list[TaskRow], next_cursor: str | None) -> TaskPage:
    return TaskPage(items=[Task.model_validate(row, from_attributes=True) for row in rows], next=next_cursor)


_REVALIDATE = Writer(
    ping=lambda: _PONG,
    page=_revalidated_page,
    task=lambda row: Task.model_validate(row, from_attributes=True),
)


# orjson-response


# FastAPI 0.131 deprecated ORJSONResponse: the class is wrapped by @deprecated, so every
# instantiation (every response) calls warnings.warn with a FastAPIDeprecationWarning (a
# UserWarning). That call is part of what a user of it pays on this FastAPI, so the variant keeps
# it, and the server prints the warning once (Python's default filter). Only a response built
# in-process would meet pytest's filterwarnings=error; tests/test_habits.py builds one on purpose,
# inside pytest.warns, to notice the day the deprecation (or the class) goes.
_ORJSON_RESPONSE = Writer(
    ping=lambda: {"ping": "pong"},
    page=_page_data,
    task=lambda row: row,
    route_options={"response_class": ORJSONResponse},
)


# orjson


def _task_dict(row: TaskRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "done": row.done,
        "created_at": format_timestamp(row.created_at),
    }


_ORJSON = Writer(
    ping=lambda: _json(orjson.dumps({"ping": "pong"})),
    page=lambda rows, next_cursor: _json(
        orjson.dumps({"items": [_task_dict(row) for row in rows], "next": next_cursor})
    ),
    task=lambda row: _json(orjson.dumps(_task_dict(row)), status.HTTP_201_CREATED),
)


# msgspec


class TaskStruct(msgspec.Struct):
    id: int
    title: str
    description: str
    done: bool
    created_at: str


class PageStruct(msgspec.Struct):
    items: list[TaskStruct]
    next: str | None


class PingStruct(msgspec.Struct):
    ping: str


_ENCODER = msgspec.json.Encoder()


def _task_struct(row: TaskRow) -> TaskStruct:
    return TaskStruct(row.id, row.title, row.description, row.done, format_timestamp(row.created_at))


_MSGSPEC = Writer(
    ping=lambda: _json(_ENCODER.encode(PingStruct("pong"))),
    page=lambda rows, next_cursor: _json(
        _ENCODER.encode(PageStruct([_task_struct(row) for row in rows], next_cursor))
    ),
    task=lambda row: _json(_ENCODER.encode(_task_struct(row)), status.HTTP_201_CREATED),
)

WRITERS: dict[ResponseMode, Writer] = {
    "serialize": _SERIALIZE,
    "idiomatic": _IDIOMATIC,
    "revalidate": _REVALIDATE,
    "orjson-response": _ORJSON_RESPONSE,
    "orjson": _ORJSON,
    "msgspec": _MSGSPEC,
}
