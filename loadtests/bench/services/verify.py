"""Verify before load: a service that breaks the contract produces no numbers.

A fast subset of tests/contract (which is the full judge): enough to catch a
service that answers 200 with the wrong body, a broken database path, or a
cursor that does not round-trip, in well under a second.
"""

from collections.abc import Callable
from typing import Any

import httpx

from bench.common.errors import BenchError

Check = Callable[[httpx.Client], str | None]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def check_ping(client: httpx.Client) -> str | None:
    r = client.get("/ping/")
    if r.status_code != 200 or _json(r) != {"ping": "pong"}:
        return f"GET /ping/ gave {r.status_code} {r.text[:80]!r}"
    return None


def check_create(client: httpx.Client) -> str | None:
    r = client.post("/tasks/", json={"title": "verify", "description": "contract check"})
    body = _json(r)
    keys = ["id", "title", "description", "done", "created_at"]
    if r.status_code != 201 or not isinstance(body, dict) or list(body) != keys:
        return f"POST /tasks/ gave {r.status_code} {r.text[:80]!r}"
    if body["title"] != "verify" or body["done"] is not False:
        return f"POST /tasks/ stored {body!r}"
    return None


def check_pages(client: httpx.Client) -> str | None:
    first = client.get("/tasks/", params={"limit": 2})
    page = _json(first)
    if first.status_code != 200 or not isinstance(page, dict) or list(page) != ["items", "next"]:
        return f"GET /tasks/ gave {first.status_code} {first.text[:80]!r}"
    if len(page["items"]) == 2 and page["next"]:
        second = _json(client.get("/tasks/", params={"limit": 2, "after": page["next"]}))
        if not isinstance(second, dict) or not second.get("items"):
            return "following next gave no page"
        if second["items"][0]["id"] <= page["items"][-1]["id"]:
            return "the page after the cursor does not continue after it"
    return None


def check_errors(client: httpx.Client) -> str | None:
    expectations = [
        (client.get("/tasks/", params={"after": "not-a-cursor"}), 400),
        (client.get("/tasks/", params={"limit": "101"}), 422),
        (client.post("/tasks/", json={"title": ""}), 422),
        (client.get("/no-such-path"), 404),
    ]
    for response, status in expectations:
        if response.status_code != status or not isinstance(_json(response), dict):
            request = response.request
            return f"{request.method} {request.url.path} gave {response.status_code}, not {status}"
    return None


CHECKS: tuple[Check, ...] = (check_ping, check_create, check_pages, check_errors)


def verify(base_url: str, service: str) -> None:
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            failures = [msg for check in CHECKS if (msg := check(client)) is not None]
    except httpx.HTTPError as exc:
        raise BenchError(f"{service} failed verification: {type(exc).__name__}: {exc}") from None
    if failures:
        raise BenchError(f"{service} failed verification, so it gets no numbers: {'; '.join(failures)}")
