"""The tasks API contract (docs/api.md), judged over real HTTP against any implementation."""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from bench.database.server import Database
from bench.services.response_size import SEEDED_BODY_BYTES, measured_scenarios, response_bytes
from taskapi.cursor import encode_cursor
from tests.contract.conftest import Api

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
TASK_KEYS = ["id", "title", "description", "done", "created_at"]


def is_json(response: httpx.Response) -> bool:
    media_type: str = response.headers.get("content-type", "").split(";")[0].strip()
    return media_type == "application/json"


def create(api: Api, title: str, description: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"title": title}
    if description is not None:
        body["description"] = description
    response = api.client.post("/tasks/", json=body)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def walk(api: Api, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(10_000):
        response = api.client.get("/tasks/", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert list(page) == ["items", "next"]
        assert len(page["items"]) <= limit
        full = len(page["items"]) == limit
        assert (page["next"] is not None) == full, "next must be present exactly when the page is full"
        items.extend(page["items"])
        if page["next"] is None:
            return items
        params = {"limit": limit, "after": page["next"]}
    raise AssertionError("pagination never ended")


def test_ping(api: Api) -> None:
    response = api.client.get("/ping/")
    assert response.status_code == 200
    assert is_json(response)
    assert response.json() == {"ping": "pong"}


def test_create_returns_the_stored_task(api: Api) -> None:
    response = api.client.post("/tasks/", json={"title": "write the contract", "description": "d"})
    assert response.status_code == 201
    assert is_json(response)
    task = response.json()
    assert list(task) == TASK_KEYS
    assert isinstance(task["id"], int)
    assert task["id"] > 0
    assert task["title"] == "write the contract"
    assert task["description"] == "d"
    assert task["done"] is False
    assert RFC3339_UTC.match(task["created_at"]), task["created_at"]


def test_description_defaults_to_empty(api: Api) -> None:
    assert create(api, "no description")["description"] == ""


def test_created_task_reads_back_identically(api: Api) -> None:
    task = create(api, "read me back", "exactly as written")
    listed = {item["id"]: item for item in walk(api, 100)}
    assert listed[task["id"]] == task


@pytest.mark.parametrize(
    "title",
    [
        "héllo wörld",
        "emoji 😀 and CJK 漢字",
        "tab\tnewline\ncontrol\u0001\u001f",
        "  spaces  ",
        "x" * 200,
        "é" * 200,
        'quote " backslash \\ slash /',
        "<script>alert(1)</script>",
    ],
)
def test_titles_are_stored_and_returned_exactly(api: Api, title: str) -> None:
    task = create(api, title, "ünïcödé ✓")
    assert task["title"] == title
    assert task["description"] == "ünïcödé ✓"
    assert {item["id"]: item for item in walk(api, 100)}[task["id"]]["title"] == title


def test_unknown_fields_are_ignored(api: Api) -> None:
    response = api.client.post("/tasks/", json={"title": "extra", "done": True, "id": -5, "x": [1]})
    assert response.status_code == 201
    task = response.json()
    assert task["done"] is False
    assert task["id"] > 0


def _item(type_: str, loc: list[str], msg: str) -> dict[str, Any]:
    return {"type": type_, "loc": loc, "msg": msg}


NOT_OBJECT = _item(
    "model_attributes_type",
    ["body"],
    "Input should be a valid dictionary or object to extract fields from",
)
JSON_INVALID = _item("json_invalid", ["body"], "JSON decode error")
TITLE_NOT_STRING = _item("string_type", ["body", "title"], "Input should be a valid string")

BODY_CASES: list[tuple[str, bytes, str | None, list[dict[str, Any]]]] = [
    ("malformed", b'{"title": ', "application/json", [JSON_INVALID]),
    ("trailing data", b'{"title": "a"} x', "application/json", [JSON_INVALID]),
    ("not utf-8", b'{"title": "a\xff"}', "application/json", [JSON_INVALID]),
    ("empty body", b"", "application/json", [_item("missing", ["body"], "Field required")]),
    ("array", b'[{"title": "a"}]', "application/json", [NOT_OBJECT]),
    ("string", b'"a title"', "application/json", [NOT_OBJECT]),
    ("null", b"null", "application/json", [NOT_OBJECT]),
    ("number", b"42", "application/json", [NOT_OBJECT]),
    ("text/plain", b'{"title": "a"}', "text/plain", [NOT_OBJECT]),
    ("form", b'{"title": "a"}', "application/x-www-form-urlencoded", [NOT_OBJECT]),
    ("no content type", b'{"title": "a"}', None, [NOT_OBJECT]),
    (
        "missing title",
        b'{"description": "d"}',
        "application/json",
        [_item("missing", ["body", "title"], "Field required")],
    ),
    (
        "empty object",
        b"{}",
        "application/json",
        [_item("missing", ["body", "title"], "Field required")],
    ),
    ("title number", b'{"title": 5}', "application/json", [TITLE_NOT_STRING]),
    ("title bool", b'{"title": true}', "application/json", [TITLE_NOT_STRING]),
    ("title null", b'{"title": null}', "application/json", [TITLE_NOT_STRING]),
    ("title array", b'{"title": ["a"]}', "application/json", [TITLE_NOT_STRING]),
    ("title object", b'{"title": {"a": 1}}', "application/json", [TITLE_NOT_STRING]),
    (
        "title empty",
        b'{"title": ""}',
        "application/json",
        [_item("string_too_short", ["body", "title"], "String should have at least 1 character")],
    ),
    (
        "title 201",
        b'{"title": "' + b"x" * 201 + b'"}',
        "application/json",
        [_item("string_too_long", ["body", "title"], "String should have at most 200 characters")],
    ),
    (
        "title 201 multibyte",
        b'{"title": "' + "é".encode() * 201 + b'"}',
        "application/json",
        [_item("string_too_long", ["body", "title"], "String should have at most 200 characters")],
    ),
    (
        "description 2001",
        b'{"title": "a", "description": "' + b"d" * 2001 + b'"}',
        "application/json",
        [
            _item(
                "string_too_long",
                ["body", "description"],
                "String should have at most 2000 characters",
            )
        ],
    ),
    (
        "description null",
        b'{"title": "a", "description": null}',
        "application/json",
        [_item("string_type", ["body", "description"], "Input should be a valid string")],
    ),
    (
        "NUL",
        b'{"title": "a\\u0000b"}',
        "application/json",
        [
            _item(
                "string_pattern_mismatch",
                ["body", "title"],
                "String should match pattern '^[^\\x00]*$'",
            )
        ],
    ),
    (
        "lone surrogate",
        b'{"title": "a\\ud800"}',
        "application/json",
        [
            _item(
                "string_unicode",
                ["body", "title"],
                "Input should be a valid string, unable to parse raw data as a unicode string",
            )
        ],
    ),
    (
        "both fields",
        b'{"title": 1, "description": 2}',
        "application/json",
        [
            TITLE_NOT_STRING,
            _item("string_type", ["body", "description"], "Input should be a valid string"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [c[1:] for c in BODY_CASES],
    ids=[c[0] for c in BODY_CASES],
)
def test_invalid_bodies_are_422_with_exact_items(
    api: Api, body: bytes, content_type: str | None, expected: list[dict[str, Any]]
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = api.client.post("/tasks/", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert is_json(response)
    assert response.json() == {"detail": expected}


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/vnd.api+json", "APPLICATION/JSON"],
)
def test_json_content_types_are_accepted(api: Api, content_type: str) -> None:
    response = api.client.post(
        "/tasks/", content=b'{"title": "typed"}', headers={"content-type": content_type}
    )
    assert response.status_code == 201, response.text


def test_body_over_64_kib_is_413(api: Api) -> None:
    body = b'{"title": "big", "description": "' + b"x" * 70_000 + b'"}'
    response = api.client.post("/tasks/", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "Request Entity Too Large"}


def test_chunked_body_over_64_kib_is_413(api: Api) -> None:
    def chunks() -> Any:
        yield b'{"title": "big", "description": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = api.client.post("/tasks/", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "Request Entity Too Large"}


def test_body_just_under_the_limit_is_parsed(api: Api) -> None:
    body = b'{"title": "near limit", "pad": "' + b"p" * 65_000 + b'"}'
    assert len(body) <= 65_536
    response = api.client.post("/tasks/", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 201


LIMIT_CASES = [
    ("0", "greater_than_equal", "Input should be greater than or equal to 1"),
    ("-1", "greater_than_equal", "Input should be greater than or equal to 1"),
    ("101", "less_than_equal", "Input should be less than or equal to 100"),
    ("1000000000000", "less_than_equal", "Input should be less than or equal to 100"),
    ("99999999999999999999999999", "less_than_equal", "Input should be less than or equal to 100"),
    ("abc", "int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
    ("1.5", "int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
    ("", "int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
    ("1e1", "int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
]


@pytest.mark.parametrize(("limit", "type_", "msg"), LIMIT_CASES, ids=[c[0] or "empty" for c in LIMIT_CASES])
def test_limit_outside_1_to_100_is_422(api: Api, limit: str, type_: str, msg: str) -> None:
    response = api.client.get("/tasks/", params={"limit": limit})
    assert response.status_code == 422
    assert response.json() == {"detail": [_item(type_, ["query", "limit"], msg)]}


@pytest.mark.parametrize(
    ("limit", "count"),
    [("1", 1), ("100", 100), (" 5", 5), ("+5", 5), ("05", 5), ("1_0", 10), ("1.00", 1)],
)
def test_limit_accepts_lax_integers(api: Api, limit: str, count: int) -> None:
    response = api.client.get("/tasks/", params={"limit": limit})
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == count


def test_default_limit_is_25(api: Api) -> None:
    page = api.client.get("/tasks/").json()
    assert len(page["items"]) == 25
    assert page["next"] is not None


def test_repeated_limit_uses_the_last_value(api: Api) -> None:
    page = api.client.get("/tasks/?limit=3&limit=7").json()
    assert len(page["items"]) == 7


def test_pagination_walk_has_no_gaps_or_duplicates(api: Api) -> None:
    small = walk(api, 7)
    large = walk(api, 100)
    ids = [item["id"] for item in small]
    assert len(small) >= 21, "needs at least three pages"
    assert ids == sorted(set(ids)), "ascending, no duplicates"
    assert small == large, "page size must not change what is listed"


def test_limit_bad_wins_over_cursor_bad(api: Api) -> None:
    response = api.client.get("/tasks/", params={"limit": "0", "after": "garbage"})
    assert response.status_code == 422


def test_next_is_opaque_and_url_safe(api: Api) -> None:
    page = api.client.get("/tasks/", params={"limit": 3}).json()
    token = page["next"]
    last_id = page["items"][-1]["id"]
    assert URL_SAFE.match(token)
    assert str(last_id) not in (token, token.lstrip("0"))
    after = api.client.get("/tasks/", params={"limit": 3, "after": token}).json()
    assert after["items"][0]["id"] > last_id


def test_cursor_format_is_shared_across_implementations(api: Api) -> None:
    # A cursor made by the reference encoder (default key) must work in every implementation.
    first_two = api.client.get("/tasks/", params={"limit": 2}).json()["items"]
    token = encode_cursor(first_two[0]["id"], b"fastapi-load-cursor-v1")
    page = api.client.get("/tasks/", params={"limit": 1, "after": token}).json()
    assert page["items"][0]["id"] == first_two[1]["id"]
    assert page["next"] == encode_cursor(first_two[1]["id"], b"fastapi-load-cursor-v1")


def _bad_cursors(api: Api) -> list[str]:
    good = api.client.get("/tasks/", params={"limit": 1}).json()["next"]
    flipped = good[:5] + ("A" if good[5] != "A" else "B") + good[6:]
    return [
        "garbage",
        "",
        good[:-1],
        good + "A",
        good + "==",
        flipped,
        "1",
        "' OR 1=1 --",
        "1; DROP TABLE tasks",
        encode_cursor(5, b"some other key"),
        "AAAAAAAAAAAAAAAAAAAAAA",
        "%%%%",
        "\u00e9" * 22,
    ]


def test_invalid_cursors_are_400(api: Api) -> None:
    for token in _bad_cursors(api):
        response = api.client.get("/tasks/", params={"after": token})
        assert response.status_code == 400, (token, response.text)
        assert response.json() == {"detail": "invalid cursor"}, token


@pytest.mark.parametrize("path", ["/nope", "/ping", "/tasks", "/tasks/1", "/ping/extra"])
def test_unknown_path_is_404_json(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/tasks/", "GET, POST"),
        ("PUT", "/tasks/", "GET, POST"),
        ("PATCH", "/tasks/", "GET, POST"),
        ("POST", "/ping/", "GET"),
        ("DELETE", "/ping/", "GET"),
        ("OPTIONS", "/tasks/", "GET, POST"),
    ],
)
def test_wrong_method_is_405_json(api: Api, method: str, path: str, allow: str) -> None:
    response = api.client.request(method, path)
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == allow


def test_head_is_405(api: Api) -> None:
    assert api.client.head("/ping/").status_code == 405


def test_concurrent_creates_get_distinct_ids(api: Api) -> None:
    # One client shared by 16 threads, with room for 16 connections: 16 requests in flight at once.
    # (A client per request spent its time building TLS contexts, two and a half seconds a target.)
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    with httpx.Client(base_url=api.base_url, timeout=30, limits=limits) as client:

        def one(i: int) -> int:
            response = client.post("/tasks/", json={"title": f"concurrent {i}"})
            assert response.status_code == 201, response.text
            task_id: int = response.json()["id"]
            return task_id

        with ThreadPoolExecutor(max_workers=16) as pool:
            ids = list(pool.map(one, range(48)))
    assert len(set(ids)) == 48


def _backends(url: str, name: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_strategy_is_what_it_claims(api: Api, database: Database) -> None:
    if api.application_name is None or api.pool_max is None:
        pytest.skip("needs the database of a service this suite started")
    name = api.application_name
    in_flight = 16
    ceiling = api.pool_max * api.processes
    statuses: list[int] = []

    def one(_: int) -> None:
        with httpx.Client(base_url=api.base_url, timeout=60) as client:
            statuses.append(client.get("/tasks/", params={"limit": 100}).status_code)

    # Hold a lock on the table so every request stays in flight, inside the database, while we
    # count its backends: a deterministic picture, whatever the machine's speed.
    with psycopg.connect(database.url) as locker, ThreadPoolExecutor(max_workers=in_flight) as pool:
        locker.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        futures = [pool.submit(one, i) for i in range(in_flight)]
        peak = 0
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            peak = max(peak, _backends(database.url, name))
            if peak >= (in_flight if api.variant == "per-request" else ceiling):
                break
            time.sleep(0.05)
        locker.rollback()
        for future in futures:
            future.result()
    assert statuses == [200] * in_flight
    if api.variant == "per-request":
        assert peak == in_flight, (
            f"per-request opens one backend per request in flight: {peak} of {in_flight}"
        )
        deadline = time.monotonic() + 10
        while _backends(database.url, name) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _backends(database.url, name) == 0, "per-request connections must close after the request"
    else:
        assert 1 <= peak <= ceiling, f"pool must stay within {ceiling} backends, saw {peak}"


@pytest.mark.parametrize("scenario", measured_scenarios())
def test_response_sizes_on_the_seeded_table(api: Api, scenario: str) -> None:
    """Every implementation and serialisation variant sends the same bytes for the same rows, so
    the size the serialisation experiment reports beside each page size is one number."""
    if api.application_name is None:
        pytest.skip("needs the seeded database of a service this suite started")
    assert response_bytes(api.base_url, scenario) == SEEDED_BODY_BYTES[scenario]
