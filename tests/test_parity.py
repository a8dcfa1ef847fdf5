"""The same requests against every service give the same answers, apart from timestamps."""

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.database.seed import reset_tasks
from bench.database.server import Database
from bench.services.manifest import services
from bench.services.stack import StackOptions, start_service

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

TIMESTAMP = re.compile(r'"created_at":"[^"]+"')
SEED = 30

# (method, path, params, body bytes, content type): every branch of the contract.
SEQUENCE: list[tuple[str, str, dict[str, str], bytes | None, str | None]] = [
    ("GET", "/ping/", {}, None, None),
    ("GET", "/tasks/", {}, None, None),
    ("GET", "/tasks/", {"limit": "7"}, None, None),
    ("POST", "/tasks/", {}, b'{"title": "parity", "description": "same everywhere"}', "application/json"),
    ("POST", "/tasks/", {}, '{"title": "ünï 😀 \\t"}'.encode(), "application/json"),
    ("POST", "/tasks/", {}, b'{"title": ""}', "application/json"),
    ("POST", "/tasks/", {}, b'{"title": 1, "description": null}', "application/json"),
    ("POST", "/tasks/", {}, b"{", "application/json"),
    ("POST", "/tasks/", {}, b"[]", "application/json"),
    ("POST", "/tasks/", {}, b'{"title": "a"}', "text/plain"),
    ("POST", "/tasks/", {}, b'{"title": "a"}', None),
    ("POST", "/tasks/", {}, b'{"title": "' + b"x" * 70_000 + b'"}', "application/json"),
    ("GET", "/tasks/", {"limit": "0"}, None, None),
    ("GET", "/tasks/", {"limit": "abc"}, None, None),
    ("GET", "/tasks/", {"limit": "101"}, None, None),
    ("GET", "/tasks/", {"after": "bogus"}, None, None),
    ("GET", "/tasks/", {"after": "AAAAAAAAAAFLXbj69ojgmQ", "limit": "3"}, None, None),
    ("GET", "/tasks/", {"after": "AAAAAAAAABmNhRKWoMJjDQ", "limit": "100"}, None, None),
    ("DELETE", "/tasks/", {}, None, None),
    ("PUT", "/ping/", {}, None, None),
    ("GET", "/missing", {}, None, None),
]


def replay(base_url: str) -> list[tuple[int, str, str | None]]:
    answers = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for method, path, params, body, content_type in SEQUENCE:
            headers = {"content-type": content_type} if content_type else {}
            response = client.request(method, path, params=params, content=body, headers=headers)
            media = response.headers.get("content-type", "").split(";")[0]
            text = TIMESTAMP.sub('"created_at":"T"', response.text.replace(": ", ":").replace(", ", ","))
            answers.append((response.status_code, media, response.headers.get("allow")))
            answers.append((0, text, None))
    return answers


def canonical(answers: list[tuple[int, str, str | None]]) -> list[Any]:
    import json

    out: list[Any] = []
    for status, text, allow in answers:
        if status == 0:
            try:
                out.append(json.loads(text))
            except ValueError:
                out.append(text)
        else:
            out.append((status, text, allow))
    return out


@pytest.fixture(scope="module")
def answers(database: Database, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    logs: Path = tmp_path_factory.mktemp("parity")
    results: dict[str, list[Any]] = {}
    for manifest in services():
        # The same table state and identity sequence for every service, so ids and cursors match too.
        reset_tasks(database.url, SEED)
        with start_service(StackOptions(service=manifest.name, seed=SEED), database, logs) as running:
            results[manifest.name] = canonical(replay(running.url))
    reset_tasks(database.url, 120)
    return results


def test_every_service_answers_the_sequence_identically(answers: dict[str, list[Any]]) -> None:
    names = sorted(answers)
    assert len(names) >= 4, names
    reference = answers["fastapi-uvicorn"]
    for name in names:
        for index, (got, want) in enumerate(zip(answers[name], reference, strict=True)):
            assert got == want, (
                f"{name} differs from fastapi-uvicorn at step {index // 2}: {SEQUENCE[index // 2][:3]}"
            )
