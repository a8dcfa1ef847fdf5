"""A bounded subset of the robustness faults; `make robustness` runs the whole matrix."""

import json
import signal
from pathlib import Path

import pytest

from bench.common.errors import BenchError
from bench.database.server import Database
from bench.faults.common import UNAVAILABLE, outage_message
from bench.faults.harness import DATABASE_STARTUP, SERVICE_STARTUP, WARM_UP, harness_interrupted
from bench.faults.postgres import RECOVERY_BOUND_S, postgres_killed_during_create, postgres_restart
from bench.faults.service import POOL_SIZE, POOL_TIMED_OUT, pool_exhausted
from bench.faults.suite import FaultResult, plan, render_table, run_faults

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow


def never_a_500(result: FaultResult) -> None:
    assert all(outage_message(m) for m in result.error_messages), result.error_messages
    assert not any(m.startswith("HTTP 500") for m in result.error_messages)


# The async and the thread-pool code paths; make robustness restarts PostgreSQL under every stack
# and strategy (gin's pool among them), at the suite's full 16 seconds.
@pytest.mark.parametrize(("service", "variant"), [("fastapi-uvicorn", "pool"), ("fastapi-uvicorn", "sync")])
def test_postgres_restart_under_load_recovers_in_the_same_process(
    service: str, variant: str, tmp_path: Path
) -> None:
    result = postgres_restart(service, variant, tmp_path, run_s=12, restart_at_s=4.0)
    assert result.passed, result.notes
    never_a_500(result)
    assert result.recovery_s is not None
    assert result.recovery_s <= RECOVERY_BOUND_S, result.notes
    assert "processes changed" not in result.notes


def test_postgres_killed_during_create_loses_no_acknowledged_task(tmp_path: Path) -> None:
    result = postgres_killed_during_create("fastapi-uvicorn", "pool", tmp_path)
    assert result.passed, result.notes
    assert result.data_lost == 0
    never_a_500(result)
    assert "tasks acknowledged" in result.notes


@pytest.mark.parametrize("variant", ["pool", "sync"])
def test_exhausted_pool_answers_503_within_the_timeout(
    database: Database, tmp_path: Path, variant: str
) -> None:
    requests = 20
    result = pool_exhausted("fastapi-uvicorn", variant, database, tmp_path, requests=requests)
    assert result.passed, result.notes
    # The pool's two connections serve two requests once the lock goes; everyone else times out.
    assert result.error_messages == {POOL_TIMED_OUT: requests - POOL_SIZE}
    assert POOL_TIMED_OUT.startswith(UNAVAILABLE)


def test_run_faults_writes_the_table_and_json_for_gin(tmp_path: Path) -> None:
    messages: list[str] = []
    results = run_faults(["pool-exhausted"], ["gin"], results_dir=tmp_path, progress=messages.append)
    assert [(r.fault, r.stack, r.strategy) for r in results] == [("pool-exhausted", "go-gin", "pool")]
    assert results[0].passed, results[0].notes
    assert set(results[0].error_messages) == {POOL_TIMED_OUT}
    [path] = tmp_path.glob("robustness-*/robustness.json")
    document = json.loads(path.read_text())
    assert document["status"] == "complete"
    assert document["faults"][0]["error_messages"] == results[0].error_messages
    table = render_table(results)
    assert "pool-exhausted  go-gin" in table
    assert "PASS" in table
    assert messages[-1] == f"results: {path}"


@pytest.mark.parametrize(
    ("stage", "sig"),
    [
        (SERVICE_STARTUP, signal.SIGINT),
        (WARM_UP, signal.SIGTERM),
        (DATABASE_STARTUP, signal.SIGINT),
    ],
    ids=["service-startup-SIGINT", "warm-up-SIGTERM", "database-startup-SIGINT"],
)
def test_interrupted_harness_stops_everything(stage: str, sig: signal.Signals, tmp_path: Path) -> None:
    result = harness_interrupted(stage, sig, tmp_path)
    assert result.passed, result.notes
    assert result.leftovers == 0
    assert result.errors == 0, result.error_messages
    assert "exit 130" in result.notes
    assert "run.json incomplete" in result.notes
    # The case file exists once its case has begun (the warm-up), never before.
    assert ("case incomplete" if stage == WARM_UP else "case not written") in result.notes


def test_the_matrix_covers_every_stack_and_strategy() -> None:
    cases = plan(None, None)
    restarts = {(c.stack, c.strategy) for c in cases if c.fault == "postgres-restart"}
    assert ("go-gin", "per-request") in restarts
    assert ("fastapi-granian", "asyncpg") in restarts
    assert ("go-gin", "asyncpg") not in restarts, "asyncpg is a Python driver"
    tuned = {"fastapi-uvicorn", "fastapi-granian", "fastapi-gunicorn"}
    assert {(stack, "tuned") for stack in tuned} <= restarts, "each tuned variant rides out a restart"
    pooled = {(c.stack, c.strategy) for c in cases if c.fault == "pool-exhausted"}
    assert {(stack, "tuned") for stack in tuned} <= pooled
    layers = {("fastapi-uvicorn", v) for v in ("sqlalchemy-core", "sqlalchemy-orm", "sqlalchemy-session")}
    assert layers <= restarts, "each SQLAlchemy data layer rides out a restart"
    assert layers <= pooled
    # `def` endpoints over the synchronous pool: both thread-pool sizes ride out a restart and meet
    # an exhausted pool (sync-matched by queueing for threads, tests/test_habits.py).
    sync = {("fastapi-uvicorn", "sync"), ("fastapi-uvicorn", "sync-matched")}
    assert sync <= restarts
    assert sync <= pooled
    settings = {
        ("fastapi-gunicorn", "asgi-worker"), ("fastapi-uvicorn", "workers"),
        ("fastapi-granian", "workers"), ("fastapi-granian", "runtime-threads"),
    }  # fmt: skip
    assert settings <= restarts, "each server setting rides out a restart"
    overloads = {(c.stack, c.strategy) for c in cases if c.fault == "overload"}
    assert {("fastapi-uvicorn", "limit-concurrency"), ("fastapi-granian", "backpressure")} <= overloads
    assert len([c for c in cases if c.fault == "harness-interrupted"]) == 8
    assert not [c for c in plan(None, ["go-gin"]) if c.fault == "harness-interrupted"]
    with pytest.raises(BenchError, match="known faults: postgres-restart"):
        plan(["postgres-reboot"], None)


def test_a_failing_case_is_shown_with_its_reason() -> None:
    failed = FaultResult(
        fault="pool-exhausted", stack="go-gin", strategy="pool", expected="503s", errors=3,
        error_messages={"HTTP 500: unexpected status": 3}, recovery_s=None, data_lost=None,
        leftovers=0, passed=False, notes="unexpected answers",
    )  # fmt: skip
    table = render_table([failed])
    assert "3 (HTTP 500: unexpected status)" in table
    assert "FAIL pool-exhausted go-gin pool: unexpected answers" in table
    assert table.endswith("0 passed, 1 failed")
