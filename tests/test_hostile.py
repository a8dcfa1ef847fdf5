"""Hostile input against every service (pool strategy): never a 5xx, never a stray row, bounded memory."""

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from bench.database.server import Database
from bench.services.manifest import services
from bench.services.stack import RunningService
from taskapi.cursor import encode_cursor
from tests.conftest import ServiceLauncher

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

JSON = {"content-type": "application/json"}
DEFAULT_CURSOR_KEY = b"fastapi-load-cursor-v1"
TASK_KEYS = ["id", "title", "description", "done", "created_at"]
BIG_BODY_BYTES = 10 * 1024 * 1024
RSS_REQUESTS = 20
RSS_GROWTH_LIMIT = 20 * 1024 * 1024

JSON_INVALID = [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}]
NOT_AN_OBJECT = [
    {
        "type": "model_attributes_type",
        "loc": ["body"],
        "msg": "Input should be a valid dictionary or object to extract fields from",
    }
]
TOO_LARGE = {"detail": "Request Entity Too Large"}
INVALID_CURSOR = {"detail": "invalid cursor"}


@pytest.fixture(scope="module", params=[m.name for m in services()])
def running(request: pytest.FixtureRequest, launch: ServiceLauncher) -> Iterator[RunningService]:
    with launch(request.param, "pool", env={"DB_POOL_MAX": "2"}) as service:
        yield service


@pytest.fixture(scope="module")
def client(running: RunningService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def count_rows(database: Database) -> Iterator[Callable[[], int]]:
    with psycopg.connect(database.url, autocommit=True) as conn:

        def count() -> int:
            row = conn.execute("SELECT count(*) FROM tasks").fetchone()
            assert row is not None
            return int(row[0])

        yield count


@contextmanager
def rows_added(count_rows: Callable[[], int], expected: int) -> Iterator[None]:
    before = count_rows()
    yield
    assert count_rows() - before == expected, "the tasks table changed by an unexpected number of rows"


def answered(response: httpx.Response, status: int) -> Any:
    """The JSON body, after checking the status; a 5xx is named as such."""
    assert response.status_code < 500, f"server error {response.status_code}: {response.text[:500]}"
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].split(";")[0] == "application/json"
    return response.json()


# --- request bodies that are not a JSON object ------------------------------------------------

MALFORMED = {
    "open-brace": b"{",
    "truncated": b'{"title": "a"',
    "trailing-data": b'{"title": "a"} {}',
    "trailing-comma": b'{"title": "a",}',
    "single-quotes": b"{'title': 'a'}",
    "bare-word": b"title",
    "not-utf8": b'{"title": "\xff\xfe"}',
    "nul-byte": b'{"title": "a"}\x00',
    "deep-nesting-unclosed": b"[" * 60_000,
    # Deeper than any implementation's parser goes (Go's encoding/json stops at 10,000 levels,
    # Python's json at its recursion limit), yet under 64 KiB.
    "deep-nesting": b"[" * 30_000 + b"]" * 30_000,
    "deep-nesting-in-a-field": b'{"title": "a", "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_json_is_422(client: httpx.Client, count_rows: Callable[[], int], body: bytes) -> None:
    with rows_added(count_rows, 0):
        response = client.post("/tasks/", content=body, headers=JSON)
    assert answered(response, 422) == {"detail": JSON_INVALID}


def test_integer_literal_over_4300_digits_is_422(client: httpx.Client, count_rows: Callable[[], int]) -> None:
    # Python's json refuses it (json_invalid), Go's reads it and then finds no string
    # (string_type); either way a 422 and no row.
    body = b'{"title": 1' + b"0" * 5_000 + b"}"
    with rows_added(count_rows, 0):
        response = client.post("/tasks/", content=body, headers=JSON)
    detail = answered(response, 422)["detail"]
    assert [item["type"] for item in detail] in (["json_invalid"], ["string_type"])


WRONG_CONTENT_TYPES = [
    None,
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/jsonx",
    "",
]


@pytest.mark.parametrize(
    "content_type", WRONG_CONTENT_TYPES, ids=lambda c: "missing" if c is None else repr(c)
)
def test_body_without_a_json_content_type_is_never_parsed(
    client: httpx.Client, count_rows: Callable[[], int], content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    with rows_added(count_rows, 0):
        response = client.post("/tasks/", content=b'{"title": "sneaky"}', headers=headers)
    assert answered(response, 422) == {"detail": NOT_AN_OBJECT}


NOT_OBJECTS = {
    "array": b"[]",
    "array-of-task": b'[{"title": "a"}]',
    "string": b'"a title"',
    "number": b"42",
    "null": b"null",
    "true": b"true",
}


@pytest.mark.parametrize("body", NOT_OBJECTS.values(), ids=NOT_OBJECTS.keys())
def test_json_that_is_not_an_object_is_422(
    client: httpx.Client, count_rows: Callable[[], int], body: bytes
) -> None:
    with rows_added(count_rows, 0):
        response = client.post("/tasks/", content=body, headers=JSON)
    assert answered(response, 422) == {"detail": NOT_AN_OBJECT}


# --- query parameters ----------------------------------------------------------------------

LIMITS = {
    "-1": ("greater_than_equal", "Input should be greater than or equal to 1"),
    "0": ("greater_than_equal", "Input should be greater than or equal to 1"),
    "101": ("less_than_equal", "Input should be less than or equal to 100"),
    str(10**12): ("less_than_equal", "Input should be less than or equal to 100"),
    "ten": ("int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
    "1;DROP TABLE tasks": (
        "int_parsing",
        "Input should be a valid integer, unable to parse string as an integer",
    ),
}


@pytest.mark.parametrize(("limit", "expected"), LIMITS.items(), ids=LIMITS.keys())
def test_limit_outside_1_to_100_is_422(
    client: httpx.Client, count_rows: Callable[[], int], limit: str, expected: tuple[str, str]
) -> None:
    with rows_added(count_rows, 0):
        response = client.get("/tasks/", params={"limit": limit})
    type_, msg = expected
    assert answered(response, 422) == {"detail": [{"type": type_, "loc": ["query", "limit"], "msg": msg}]}


def _tamper(token: str, index: int) -> str:
    swapped = "B" if token[index] == "A" else "A"
    return token[:index] + swapped + token[index + 1 :]


CURSORS: dict[str, Callable[[str], str]] = {
    "garbage": lambda _: "not-a-cursor",
    "empty": lambda _: "",
    "garbage-22-chars": lambda _: "!" * 22,
    "truncated-by-one": lambda valid: valid[:-1],
    "truncated-to-half": lambda valid: valid[:11],
    "one-too-long": lambda valid: valid + "A",
    "tampered-id": lambda valid: _tamper(valid, 9),
    "tampered-tag": lambda valid: _tamper(valid, 15),
    "padded": lambda valid: valid + "==",
    "sql-or": lambda _: "' OR 1=1 --",
    "sql-drop": lambda _: "1;DROP TABLE tasks",
    "sql-as-base64": lambda _: base64.urlsafe_b64encode(b"1;DROP TABLE t--").rstrip(b"=").decode(),
    "other-key": lambda _: encode_cursor(1, b"another key"),
    "id-zero": lambda _: encode_cursor(0, DEFAULT_CURSOR_KEY),
}


@pytest.mark.parametrize("make", CURSORS.values(), ids=CURSORS.keys())
def test_cursor_not_made_by_the_api_is_400(
    client: httpx.Client, count_rows: Callable[[], int], make: Callable[[str], str]
) -> None:
    first = answered(client.get("/tasks/", params={"limit": 1}), 200)
    valid = first["next"]
    assert isinstance(valid, str)
    assert len(valid) == 22
    with rows_added(count_rows, 0):
        response = client.get("/tasks/", params={"after": make(valid), "limit": 5})
    assert answered(response, 400) == INVALID_CURSOR
    # The table, and every row of it, is still there for a request with the real cursor.
    assert answered(client.get("/tasks/", params={"after": valid, "limit": 1}), 200)["items"]


# --- bodies far over the limit -------------------------------------------------------------


def _big_chunks() -> Iterator[bytes]:
    piece = b"x" * 65_536
    yield b'{"title": "big", "description": "'
    for _ in range(BIG_BODY_BYTES // len(piece)):
        yield piece
    yield b'"}'


def _post_big(base_url: str, *, chunked: bool) -> httpx.Response:
    # A fresh connection each time: the service closes it after a 413.
    content: bytes | Iterator[bytes] = _big_chunks() if chunked else b"x" * BIG_BODY_BYTES
    with httpx.Client(base_url=base_url, timeout=30) as http:
        return http.post("/tasks/", content=content, headers=JSON)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_10_mb_body_is_413(running: RunningService, count_rows: Callable[[], int], chunked: bool) -> None:
    with rows_added(count_rows, 0):
        response = _post_big(running.url, chunked=chunked)
    assert answered(response, 413) == TOO_LARGE


def _rss(running: RunningService) -> int:
    total = 0
    for proc in running.process.tree():
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue  # a worker that exited between listing and reading
    return total


def test_10_mb_bodies_do_not_grow_memory(running: RunningService, count_rows: Callable[[], int]) -> None:
    # One of each first, so buffers the server keeps for reuse are counted before, not as growth.
    for chunked in (False, True):
        assert _post_big(running.url, chunked=chunked).status_code == 413
    before = _rss(running)
    with rows_added(count_rows, 0):
        for index in range(RSS_REQUESTS):
            response = _post_big(running.url, chunked=index % 2 == 1)
            assert answered(response, 413) == TOO_LARGE
    growth = _rss(running) - before
    assert growth <= RSS_GROWTH_LIMIT, (
        f"RSS grew by {growth / 2**20:.1f} MiB over {RSS_REQUESTS} 10 MB bodies"
    )


# --- what is stored is what was sent --------------------------------------------------------

TITLES = [
    "ünïcödé ✓ 漢字 العربية 😀",
    "tab\there\nnewline\r\nend",
    "".join(chr(code) for code in range(1, 32)) + "\x7f",
    "\u0085\u00a0\u2028\u2029\ufeff\u200b\u202e",
    "e\u0301 and \u00e9",  # NFD and NFC spellings must not be normalised into each other
    "😀" * 200,  # 200 code points, 800 UTF-8 bytes: exactly at the limit
    "\U0010ffff\ufffe\uffff\ufdd0",  # noncharacters are still valid text
    '<script>alert(1)</script> & "quotes" \\ backslash \\u0000',
    "'); DROP TABLE tasks; --",
]


def test_unicode_and_control_characters_are_stored_exactly(
    client: httpx.Client, count_rows: Callable[[], int]
) -> None:
    created: dict[int, tuple[str, str]] = {}
    with rows_added(count_rows, 2 * len(TITLES)):
        for title in TITLES:
            description = title[::-1]
            for ensure_ascii in (True, False):  # \u escapes, then raw UTF-8
                body = json.dumps({"title": title, "description": description}, ensure_ascii=ensure_ascii)
                task = answered(client.post("/tasks/", content=body.encode(), headers=JSON), 201)
                assert (task["title"], task["description"]) == (title, description)
                created[task["id"]] = (title, description)
    after = encode_cursor(min(created) - 1, DEFAULT_CURSOR_KEY)
    page = answered(client.get("/tasks/", params={"after": after, "limit": 100}), 200)
    stored = {item["id"]: (item["title"], item["description"]) for item in page["items"]}
    for task_id, sent in created.items():
        assert stored.get(task_id) == sent, f"task {task_id} reads back differently"


def test_unknown_fields_are_ignored(client: httpx.Client, count_rows: Callable[[], int]) -> None:
    body = {
        "title": "extra fields",
        "id": 1,
        "done": True,
        "created_at": "2000-01-01T00:00:00.000000Z",
        "owner": {"nested": [1, 2, {"deeper": None}]},
        "__proto__": {"admin": True},
        "title2": "x" * 1000,
    }
    with rows_added(count_rows, 1):
        task = answered(client.post("/tasks/", json=body), 201)
    assert list(task) == TASK_KEYS
    assert task["title"] == "extra fields"
    assert task["description"] == ""
    assert task["id"] != 1
    assert task["done"] is False
    assert not task["created_at"].startswith("2000-")
