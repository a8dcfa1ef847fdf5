"""The shared load suite: one Locust user class per scenario, every response judged against docs/api.md."""

import errno
import json
import os
import re
import socket
from collections.abc import Callable
from functools import partial
from itertools import pairwise
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, stats, tag, task
from locust.contrib.fasthttp import FastResponse, ResponseContextManager
from locust.env import Environment
from locust.runners import WorkerRunner

from bench.load.scenarios import (
    CREATE_REQUEST,
    DEFAULT_LIMIT,
    LIST_LIMITS,
    LIST_REQUEST,
    MIXED_CREATE_WEIGHT,
    MIXED_LIST_WEIGHT,
    NEXT_PAGE_REQUEST,
    PAGE_LIMIT,
    PING_REQUEST,
    SCENARIOS,
)

_TASK_KEYS = ["id", "title", "description", "done", "created_at"]  # in the contract's order
_PAGE_KEYS = ["items", "next"]
_CREATED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_CURSOR = re.compile(r"[A-Za-z0-9_-]{22}")
_JSON_TYPES = frozenset({"application/json", "application/json;charset=utf-8"})
_DETAIL_CHARS = 200  # a server's detail is its own text: bound it so one bad reply cannot flood the report
_NEW_TASK = {"title": "load test task", "description": "written by the create scenario"}
# Encoded once: the generator's CPU is the benchmark's ceiling, so it should not re-serialise every request.
_NEW_TASK_BODY = json.dumps(_NEW_TASK)
_JSON_HEADERS = {"Content-Type": "application/json"}

# Transport failures (status 0) as short fixed phrases: the exception's own text carries addresses and
# ports, which would split one cause into a failure row per connection.
_TRANSPORT_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (BrokenPipeError, "connection closed"),
    (TimeoutError, "timed out"),
    (socket.gaierror, "host name not resolved"),
)
_TRANSPORT_ERRORS_BY_NAME = {  # gevent's and geventhttpclient's classes, matched by name, not imported
    "Timeout": "timed out",
    "HTTPConnectionClosed": "connection closed",
    "EmptyResponse": "connection closed",
    "HTTPParseError": "invalid HTTP response",
}


class ContractFailure(Exception):
    """A failed check whose repr is the bare message, so Locust's failure table reads `HTTP 503: ...`."""

    def __repr__(self) -> str:
        return str(self)


def transport_reason(error: BaseException | None) -> str:
    # geventhttpclient wraps the socket error once retries are exhausted.
    cause = getattr(error, "original", None) or error
    if cause is None:
        return "no response"
    for kind, reason in _TRANSPORT_ERRORS:
        if isinstance(cause, kind):
            return reason
    if type(cause).__name__ in _TRANSPORT_ERRORS_BY_NAME:
        return _TRANSPORT_ERRORS_BY_NAME[type(cause).__name__]
    if isinstance(cause, OSError) and cause.errno is not None and cause.errno in errno.errorcode:
        return os.strerror(cause.errno).lower()
    return type(cause).__name__


def _detail(content: bytes | None) -> str | None:
    try:
        body = json.loads(content or b"")
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail[:_DETAIL_CHARS] if isinstance(detail, str) and detail else None


def _verdict(response: FastResponse, expected: int, fits: Callable[[Any], bool]) -> tuple[str | None, Any]:
    """(None, parsed body) for a response the contract allows, else (the reason, None)."""
    if response.status_code == 0:
        return transport_reason(getattr(response, "error", None)), None
    try:
        content = response.content
    except Exception as exc:  # a body cut off mid-read: anything the client raises is the cause
        return f"body could not be read ({type(exc).__name__})", None
    if response.status_code != expected:
        return _detail(content) or "unexpected status", None
    content_type = response.headers.get("content-type") if response.headers is not None else None
    if not isinstance(content_type, str) or content_type.replace(" ", "").lower() not in _JSON_TYPES:
        return "content type is not application/json", None
    try:
        body = json.loads(content or b"")
    except ValueError:
        return "body is not JSON", None
    if not fits(body):
        return "body does not match the contract", None
    return None, body


def judge(response: ResponseContextManager, expected: int, fits: Callable[[Any], bool]) -> tuple[bool, Any]:
    """Marks the request passed or failed in Locust's statistics; returns (passed, parsed body)."""
    reason, body = _verdict(response, expected, fits)
    if reason is None:
        response.success()  # type: ignore[no-untyped-call]  # Locust leaves it unannotated
        return True, body
    response.failure(ContractFailure(f"HTTP {response.status_code}: {reason}"))  # type: ignore[no-untyped-call]
    return False, None


def is_task(value: Any) -> bool:
    return (
        type(value) is dict
        and list(value) == _TASK_KEYS
        and type(value["id"]) is int
        and value["id"] > 0
        and type(value["title"]) is str
        and type(value["description"]) is str
        and type(value["done"]) is bool
        and type(value["created_at"]) is str
        and _CREATED_AT.fullmatch(value["created_at"]) is not None
    )


def is_page(value: Any, limit: int, after_id: int) -> bool:
    if type(value) is not dict or list(value) != _PAGE_KEYS or type(value["items"]) is not list:
        return False
    items, cursor = value["items"], value["next"]
    if len(items) > limit or not all(is_task(item) for item in items):
        return False
    # Ascending ids past the cursor: this is also what guarantees a paginate walk ends.
    if items and (items[0]["id"] <= after_id or any(a["id"] >= b["id"] for a, b in pairwise(items))):
        return False
    if len(items) < limit:
        return cursor is None
    return type(cursor) is str and _CURSOR.fullmatch(cursor) is not None


def is_created(value: Any) -> bool:
    return (
        is_task(value)
        and value["title"] == _NEW_TASK["title"]
        and value["description"] == _NEW_TASK["description"]
        and value["done"] is False
    )


class ContractUser(FastHttpUser):
    """What every scenario shares: closed loop at full speed, redirects not followed (the API has none)."""

    abstract = True
    wait_time = constant(0)
    max_redirects = 0

    def first_page(self, limit: int = DEFAULT_LIMIT) -> None:
        # The default page is asked for without a parameter, as a client that takes the default does.
        url = "/tasks/" if limit == DEFAULT_LIMIT else f"/tasks/?limit={limit}"
        with self.client.get(url, name=LIST_REQUEST, catch_response=True) as response:
            judge(response, 200, partial(is_page, limit=limit, after_id=0))

    def create(self) -> None:
        with self.client.post(
            "/tasks/", data=_NEW_TASK_BODY, headers=_JSON_HEADERS, name=CREATE_REQUEST, catch_response=True
        ) as response:
            judge(response, 201, is_created)


class PingUser(ContractUser):
    abstract = False

    @tag("ping")
    @task
    def ping(self) -> None:
        with self.client.get("/ping/", name=PING_REQUEST, catch_response=True) as response:
            judge(response, 200, lambda body: body == {"ping": "pong"})


class ListUser(ContractUser):
    abstract = False

    @tag("list")
    @task
    def list_first_page(self) -> None:
        self.first_page()


class List1User(ContractUser):
    abstract = False

    @tag("list-1")
    @task
    def list_first_page(self) -> None:
        self.first_page(LIST_LIMITS["list-1"])


class List100User(ContractUser):
    abstract = False

    @tag("list-100")
    @task
    def list_first_page(self) -> None:
        self.first_page(LIST_LIMITS["list-100"])


class PaginateUser(ContractUser):
    abstract = False

    @tag("paginate")
    @task
    def walk(self) -> None:
        url, name, after_id = f"/tasks/?limit={PAGE_LIMIT}", LIST_REQUEST, 0
        while True:
            with self.client.get(url, name=name, catch_response=True) as response:
                passed, page = judge(response, 200, partial(is_page, limit=PAGE_LIMIT, after_id=after_id))
            if not passed or page["next"] is None:
                return
            after_id = page["items"][-1]["id"]
            url, name = f"/tasks/?after={page['next']}&limit={PAGE_LIMIT}", NEXT_PAGE_REQUEST


class CreateUser(ContractUser):
    abstract = False

    @tag("create")
    @task
    def create_task(self) -> None:
        self.create()


class MixedUser(ContractUser):
    abstract = False

    @tag("mixed")
    @task(MIXED_LIST_WEIGHT)
    def list_first_page(self) -> None:
        self.first_page()

    @tag("mixed")
    @task(MIXED_CREATE_WEIGHT)
    def create_task(self) -> None:
        self.create()


def _check_scenarios() -> None:
    """Fail at load time if bench.load.scenarios names a class that is missing here or tagged otherwise."""
    for scenario in SCENARIOS.values():
        user = globals().get(scenario.user_class)
        if not (isinstance(user, type) and issubclass(user, ContractUser)) or user.abstract:
            raise RuntimeError(f"scenario {scenario.name!r}: the locustfile has no {scenario.user_class}")
        tags = {name for method in user.tasks for name in getattr(method, "locust_tag_set", ())}
        if tags != {scenario.name}:
            raise RuntimeError(f"scenario {scenario.name!r}: {scenario.user_class} is tagged {sorted(tags)}")


_check_scenarios()


def _record_final_totals(environment: Environment, **_kwargs: Any) -> None:
    # Locust appends to the per-second history on a one-second timer and writes nothing more on exit,
    # so its last row would miss up to a second of requests. Waiting one tick after the users stopped
    # lets that row carry the run's final totals, equal to the JSON summary's.
    if isinstance(environment.runner, WorkerRunner):
        return
    options = environment.parsed_options
    if options is not None and getattr(options, "csv_prefix", None):
        gevent.sleep(stats.CSV_STATS_INTERVAL_SEC + 0.25)


events.test_stop.add_listener(_record_final_totals)  # type: ignore[no-untyped-call]  # unannotated in Locust
