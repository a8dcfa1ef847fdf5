"""The shared Locust suite run for real, as the harness runs it, and the invariants of its parsed output."""

import csv
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.common.errors import BenchError
from bench.common.paths import LOCUSTFILE
from bench.common.ports import LOOPBACK, free_port
from bench.load.locust_output import EndpointStats, LocustSummary, parse_locust_output, steady_rps
from bench.load.scenarios import CREATE_REQUEST, LIST_REQUEST, NEXT_PAGE_REQUEST, PING_REQUEST, SCENARIOS
from tests.conftest import ServiceLauncher

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

USERS = 5
AT_ONCE = 4  # Locust processes run side by side by healthy_runs
RUN_SECONDS = 6
STOP_TIMEOUT_S = 5
ERRORS_EXIT_CODE = 1  # Locust's exit code when any request failed (--exit-code-on-error's default)


@dataclass
class LocustResult:
    returncode: int
    output: str
    prefix: Path
    summary: LocustSummary


def start_locust(scenario: str, host: str, workdir: Path) -> tuple[subprocess.Popen[str], Path]:
    """Locust exactly as the harness invokes it, in its own directory with a bare environment."""
    workdir.mkdir(parents=True)
    prefix = workdir / "locust"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), SCENARIOS[scenario].user_class,
        "--headless", "-u", str(USERS), "-r", str(USERS), "-t", f"{RUN_SECONDS}s",
        "--stop-timeout", str(STOP_TIMEOUT_S), "--host", host,
        "--json-file", str(prefix), "--csv", str(prefix), "--csv-full-history", "--reset-stats",
        "--loglevel", "INFO", "--logfile", f"{prefix}.log",
    ]  # fmt: skip
    # No LOCUST_* variable or locust.conf from the caller may change the run.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return process, prefix


def finish_locust(process: subprocess.Popen[str], prefix: Path) -> LocustResult:
    output, _ = process.communicate(timeout=RUN_SECONDS + STOP_TIMEOUT_S + 60)
    return LocustResult(process.returncode, output, prefix, parse_locust_output(prefix, output))


def run_locust(scenario: str, host: str, workdir: Path) -> LocustResult:
    return finish_locust(*start_locust(scenario, host, workdir))


@pytest.fixture(scope="module")
def healthy_runs(
    launch: ServiceLauncher, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, LocustResult]:
    """Every scenario against one healthy service, a few at once to keep the module short: seven
    Locust processes at once on two cores left some of them too few seconds of history."""
    workdir = tmp_path_factory.mktemp("locust-healthy")
    names = list(SCENARIOS)
    results: dict[str, LocustResult] = {}
    with launch("fastapi-uvicorn", "pool") as running:
        for first in range(0, len(names), AT_ONCE):
            batch = names[first : first + AT_ONCE]
            started = {name: start_locust(name, running.url, workdir / name) for name in batch}
            results.update({name: finish_locust(*run) for name, run in started.items()})
    return results


def locust_aggregated_row(prefix: Path) -> dict[str, str]:
    """Locust's own Aggregated row from _stats.csv: a count the parser did not compute."""
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")


def latencies(row: EndpointStats) -> list[float]:
    values = [row.p50, row.p90, row.p95, row.p99, row.p999, row.max]
    assert all(v is not None for v in values), row
    return [v for v in values if v is not None]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_healthy_run_is_consistent(healthy_runs: dict[str, LocustResult], scenario: str) -> None:
    result = healthy_runs[scenario]
    summary = result.summary
    assert result.returncode == 0, result.output[-2000:]
    assert summary.total_requests > 0
    assert summary.total_failures == 0, summary.errors
    assert summary.errors == ()
    assert summary.errors_by_status == {}
    assert summary.exceptions == ()
    # Only the class named on the command line ran, under the scenario's fixed request names.
    assert {e.name for e in summary.endpoints} <= set(SCENARIOS[scenario].requests)
    assert sum(e.requests for e in summary.endpoints) == summary.aggregate.requests == summary.total_requests
    assert int(locust_aggregated_row(result.prefix)["Request Count"]) == summary.total_requests
    assert summary.series, "no per-second history after the stats reset"
    assert summary.series[-1].total_requests == summary.total_requests
    assert summary.series[-1].total_failures == 0
    assert [p.total_requests for p in summary.series] == sorted(p.total_requests for p in summary.series)
    for row in (*summary.endpoints, summary.aggregate):
        values = latencies(row)
        assert values == sorted(values), row
    assert summary.started_at < summary.ended_at
    rps, window_s = steady_rps(summary.series, skip_seconds=0)
    assert rps > 0
    assert 1 <= window_s <= RUN_SECONDS
    assert rps * window_s <= summary.total_requests


def test_paginate_groups_every_cursor_into_one_row(healthy_runs: dict[str, LocustResult]) -> None:
    summary = healthy_runs["paginate"].summary
    rows = {e.name: e for e in summary.endpoints}
    assert set(rows) == {LIST_REQUEST, NEXT_PAGE_REQUEST}
    # The seed holds more than one page of 100, so every walk asks for at least one next page.
    assert rows[NEXT_PAGE_REQUEST].requests >= rows[LIST_REQUEST].requests


def test_mixed_creates_about_a_fifth(healthy_runs: dict[str, LocustResult]) -> None:
    summary = healthy_runs["mixed"].summary
    rows = {e.name: e for e in summary.endpoints}
    assert set(rows) == {LIST_REQUEST, CREATE_REQUEST}
    assert 0.10 <= rows[CREATE_REQUEST].requests / summary.total_requests <= 0.30


def test_database_outage_is_one_grouped_503(launch: ServiceLauncher, tmp_path: Path) -> None:
    closed = f"postgresql://app:x@{LOOPBACK}:{free_port()}/tasks"
    with launch("fastapi-uvicorn", "pool", env={"DATABASE_URL": closed, "DB_POOL_TIMEOUT": "0.2"}) as running:
        result = run_locust("list", running.url, tmp_path / "outage")
    summary = result.summary
    assert result.returncode == ERRORS_EXIT_CODE, result.output[-2000:]
    assert summary.total_failures == summary.total_requests > 0
    # One row per cause at most (connection failed, pool timeout, ...), never one per request.
    assert 1 <= len(summary.errors) <= 4, summary.errors
    for error in summary.errors:
        assert error.name == LIST_REQUEST
        assert error.message.startswith("HTTP 503: database unavailable: "), error
    assert summary.errors_by_status == {"503": summary.total_failures}


@pytest.fixture
def wrong_ping_server() -> Iterator[str]:
    body = json.dumps({"ping": "nope"}).encode()

    class WrongPing(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real servers do

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((LOOPBACK, free_port()), WrongPing)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_wrong_body_on_200_is_a_failure(wrong_ping_server: str, tmp_path: Path) -> None:
    result = run_locust("ping", wrong_ping_server, tmp_path / "wrong-body")
    summary = result.summary
    assert result.returncode == ERRORS_EXIT_CODE, result.output[-2000:]
    assert summary.total_failures == summary.total_requests > 0
    assert [(e.name, e.message) for e in summary.errors] == [
        (PING_REQUEST, "HTTP 200: body does not match the contract")
    ]
    assert summary.errors[0].occurrences == summary.total_failures
    assert summary.errors_by_status == {"200": summary.total_failures}


@pytest.mark.parametrize(
    ("suffix", "damage"),
    [
        (".json", "truncate"),
        (".json", "remove"),
        ("_stats_history.csv", "truncate"),
        ("_failures.csv", "remove"),
        ("_exceptions.csv", "empty"),
    ],
)
def test_damaged_output_names_the_file(
    healthy_runs: dict[str, LocustResult], tmp_path: Path, suffix: str, damage: str
) -> None:
    source = healthy_runs["ping"].prefix
    prefix = tmp_path / source.name
    for path in source.parent.iterdir():
        if path.name.startswith(source.name):
            (tmp_path / path.name).write_bytes(path.read_bytes())
    target = Path(f"{prefix}{suffix}")
    if damage == "remove":
        target.unlink()
    else:
        text = target.read_bytes()
        # Cut mid-line, as a killed writer would: not at a line end, where the rest would still parse.
        target.write_bytes(text[: len(text) // 2].rstrip(b"\r\n") if damage == "truncate" else b"")
    with pytest.raises(BenchError, match=re.escape(str(target))):
        parse_locust_output(prefix)
