"""The saturation search: its stop rules on plain steps, then real searches with a real service and Locust."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.common.errors import BenchError
from bench.common.ports import free_port
from bench.run.knee import (
    ERRORS,
    GENERATOR_BOUND,
    MAX_USERS,
    P99_BOUND,
    PLATEAU,
    STOP_REASONS,
    Step,
    StopRules,
    decide,
    schedule,
)
from bench.run.results import COMPLETE, FAILED, INCOMPLETE, SCHEMA_VERSION, raw_dir
from bench.run.saturate import SaturationRequest, describe, saturate
from bench.run.ticks import Tick, evaluate, read_ticks

RULES = StopRules(p99_bound_ms=500.0, min_gain=0.05, generator_percent=90.0)
SMALL: dict[str, Any] = {
    "service": "fastapi-uvicorn", "start_users": 5, "step_users": 20, "step_seconds": 4, "max_users": 85,
    "seed": 200, "progress": False,
}  # fmt: skip
DOCUMENT_KEYS = {
    "schema_version", "kind", "status", "run_id", "service", "variant", "scenario", "environment",
    "settings", "steps", "knee", "stopped_by", "wrk_from_users", "ceiling_mode", "knee_check",
}  # fmt: skip
STEP_KEYS = {"users", "rps", "p99", "failures", "locust_cpu_percent", "service_cpu_percent", "generator",
             "wrk_cpu_percent", "wrk_threads"}  # fmt: skip


def step(
    users: int, rps: float, p99: float | None = 10.0, failures: int = 0, locust: float | None = 50.0
) -> Step:
    return Step(users, rps, p99, failures, locust, 40.0)


def reason(*steps: Step) -> str | None:
    verdict = decide(steps, RULES, last_users=100)
    return verdict.stopped_by if verdict is not None else None


def small(tmp_path: Path, **overrides: Any) -> SaturationRequest:
    """The real searches' schedule: 5, 25, 45, 65, 85 users, four seconds each."""
    return SaturationRequest(**{**SMALL, "results_dir": tmp_path, **overrides})


# --- the decision on plain steps ------------------------------------------------------------------------


def test_schedule_stops_at_the_last_count_within_the_ceiling() -> None:
    assert schedule(5, 20, 85) == [5, 25, 45, 65, 85]
    assert schedule(10, 20, 100) == [10, 30, 50, 70, 90]
    assert schedule(10, 10, 10) == [10]


def test_plateau_knee_is_the_highest_step_up_to_the_stop() -> None:
    rising_a_little = [step(10, 1000), step(20, 1900), step(30, 1950)]
    verdict = decide(rising_a_little, RULES, last_users=100)
    assert verdict is not None
    assert (verdict.stopped_by, verdict.stop_index, verdict.knee_index) == (PLATEAU, 2, 2)
    falling = [step(10, 1000), step(20, 1900), step(30, 1700)]
    verdict = decide(falling, RULES, last_users=100)
    assert verdict is not None
    assert (verdict.stopped_by, verdict.stop_index, verdict.knee_index) == (PLATEAU, 2, 1)


def test_a_step_over_the_bounds_makes_the_one_before_it_the_knee() -> None:
    for broken, reason in [
        (step(30, 3000, p99=501.0), P99_BOUND),
        (step(30, 3000, failures=1), ERRORS),
        (step(30, 3000, locust=90.0), GENERATOR_BOUND),
    ]:
        verdict = decide([step(10, 1000), step(20, 2000), broken], RULES, last_users=100)
        assert verdict is not None
        assert (verdict.stopped_by, verdict.stop_index, verdict.knee_index) == (reason, 2, 1)


def test_a_first_step_that_breaks_a_rule_leaves_no_knee() -> None:
    verdict = decide([step(10, 1000, failures=3)], RULES, last_users=100)
    assert verdict is not None
    assert (verdict.stopped_by, verdict.knee_index) == (ERRORS, None)


def test_rules_are_checked_errors_then_generator_then_latency_then_plateau() -> None:
    first = step(10, 1000)
    assert reason(first, step(20, 1000, p99=900.0, failures=5, locust=99.0)) == ERRORS
    assert reason(first, step(20, 1000, p99=900.0, locust=99.0)) == GENERATOR_BOUND
    assert reason(first, step(20, 1000, p99=900.0)) == P99_BOUND
    assert reason(first, step(20, 1000)) == PLATEAU


def test_the_search_goes_on_until_max_users_and_unknowns_break_no_rule() -> None:
    growing = [step(10, 1000, p99=None, locust=None), step(20, 2000), step(30, 3000)]
    assert decide(growing, RULES, last_users=40) is None
    verdict = decide(growing, RULES, last_users=30)
    assert verdict is not None
    assert (verdict.stopped_by, verdict.stop_index, verdict.knee_index) == (MAX_USERS, 2, 2)
    assert decide([], RULES, last_users=30) is None
    # No throughput to grow from: no plateau can be judged against it.
    assert decide([step(10, 0.0), step(20, 0.0)], RULES, last_users=30) is None


def test_steps_are_measured_from_the_ticks_after_settling() -> None:
    def tick(at: float, target: int | None, users: int, requests: int, slow: int = 0) -> Tick:
        return Tick(at, target, users, requests, 0, {5.0: requests - slow, 800.0: slow} if requests else {})

    ticks = [
        tick(100.0, 10, 0, 0),  # the shape asks for 10 users
        tick(101.0, 10, 10, 900),  # settling: not counted
        tick(102.0, 10, 10, 1900),  # the window opens
        tick(103.0, 10, 10, 2900),
        tick(104.0, 20, 10, 3900),  # asks for 20, still at 10: closes the first window
        tick(105.0, 20, 20, 5000),
        tick(106.0, 20, 20, 7000, slow=20),
        tick(107.0, 20, 20, 9000, slow=40),  # 40 of the window's 2000 took 800 ms: p99 is 800
        tick(108.0, None, 20, 11000, slow=60),
    ]
    steps, verdict = evaluate(ticks, [], [10, 20], RULES, finished=True)
    assert [(s.users, s.rps, s.p99) for s in steps] == [(10, 1000.0, 5.0), (20, 2000.0, 800.0)]
    assert verdict is not None
    assert verdict.stopped_by == P99_BOUND
    # While Locust runs, a step is judged only once its ticks are final and samples cover it.
    assert evaluate(ticks[:4], [], [10, 20], RULES, finished=False) == ([], None)


# --- real searches ---------------------------------------------------------------------------------------


def children() -> set[tuple[int, float]]:
    return {(p.pid, p.create_time()) for p in psutil.Process().children(recursive=True)}


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_saturate_finds_a_knee_and_leaves_nothing_running(tmp_path: Path) -> None:
    before = children()
    outcome = saturate(small(tmp_path))
    path = tmp_path / outcome.run_id / "fastapi-uvicorn" / "default" / "saturate.json"
    assert outcome.path == path
    doc = load(path)
    assert doc == outcome.document
    assert set(doc) == DOCUMENT_KEYS
    assert (doc["schema_version"], doc["kind"], doc["status"]) == (SCHEMA_VERSION, "saturation", COMPLETE)
    assert (doc["service"], doc["variant"], doc["scenario"]) == ("fastapi-uvicorn", "default", "ping")
    assert doc["settings"] == {
        "start": 5, "step": 20, "step_seconds": 4, "max_users": 85, "p99_bound_ms": 500.0, "min_gain": 0.05,
        "generator_percent": 90.0,
    }  # fmt: skip
    assert "cpu_sets" in doc["environment"]
    assert doc["environment"]["packages"]["locust"]
    steps = doc["steps"]
    assert steps, "at least one step was measured"
    for record in steps:
        assert set(record) == STEP_KEYS
        assert record["rps"] > 0
        assert record["failures"] == 0 or record is steps[-1]
    users = [record["users"] for record in steps]
    assert users == sorted(set(users))
    assert set(users) <= {5, 25, 45, 65, 85}
    assert doc["stopped_by"] in STOP_REASONS
    knee = doc["knee"]
    if knee is not None:
        assert set(knee) == {"users", "rps", "p99", "generator"}
        assert any(knee == {k: r[k] for k in ("users", "rps", "p99", "generator")} for r in steps)
    raw = raw_dir(path)
    assert (raw / "locust.json").is_file()
    assert (raw / "steps.jsonl").is_file()
    assert not list(tmp_path.rglob(".*.tmp")), "no temporary files left"
    assert describe(outcome).startswith("fastapi-uvicorn [default] ping: ")
    assert children() <= before, "the database, the service and Locust are all gone"


def test_errors_in_the_first_step_stop_the_search_with_no_knee(tmp_path: Path) -> None:
    # One pooled connection and room for one waiting request: a contract check passes (it asks one
    # request at a time) while five users at once get 503 "pool queue full" from the first second.
    starved = {"DB_POOL_MAX": "1", "DB_POOL_MAX_WAITING": "1"}
    before = children()
    outcome = saturate(small(tmp_path, scenario="list", extra_env=starved))
    doc = outcome.document
    assert doc["status"] == COMPLETE
    assert doc["stopped_by"] == ERRORS
    assert doc["knee"] is None
    assert len(doc["steps"]) == 1
    assert doc["steps"][0]["users"] == 5
    assert doc["steps"][0]["failures"] > 0
    assert (raw_dir(outcome.path) / "stop-requested").is_file(), "the search ended Locust early"
    assert "no sustainable step" in describe(outcome)
    assert children() <= before


def test_a_service_that_fails_verification_gets_no_numbers(tmp_path: Path) -> None:
    refused = {
        "DATABASE_URL": f"postgresql://nobody:none@127.0.0.1:{free_port()}/none",
        "DB_POOL_TIMEOUT": "0.2",
    }
    with pytest.raises(BenchError, match="failed verification"):
        saturate(small(tmp_path, scenario="list", extra_env=refused))
    (path,) = tmp_path.rglob("saturate.json")
    doc = load(path)
    assert (doc["status"], doc["steps"], doc["knee"], doc["stopped_by"]) == (FAILED, [], None, None)
    assert not raw_dir(path).exists(), "Locust never ran"


def test_impossible_settings_fail_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="too short"):
        saturate(SaturationRequest(service="fastapi-uvicorn", step_seconds=2, results_dir=tmp_path))
    with pytest.raises(BenchError, match="known scenarios"):
        saturate(SaturationRequest(service="fastapi-uvicorn", scenario="stress", results_dir=tmp_path))
    assert not any(tmp_path.iterdir())


def test_ctrl_c_mid_search_stops_everything_and_marks_incomplete(tmp_path: Path) -> None:
    """Ctrl-C as a user sends it, to the CLI process: sent from a thread of the test process
    itself, the signal went unanswered twice in full-suite runs (never alone), so it is a real
    process here."""
    log = tmp_path / "interrupted" / "fastapi-uvicorn" / "default" / "raw" / "saturate" / "steps.jsonl"
    # Bounds no step can cross, so a slow moment cannot end the search before its second step.
    command = [
        sys.executable, "-m", "bench", "saturate", "fastapi-uvicorn", "--start", "5", "--step", "20",
        "--step-seconds", "4", "--max-users", "85", "--seed", "200", "--p99-bound", "60000",
        "--generator-percent", "100", "--ceiling", "off", "--run-id", "interrupted",
        "--results-dir", str(tmp_path), "--quiet",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 90
        while sum(t.target == 25 for t in read_ticks(log)) < 2:
            assert proc.poll() is None, f"the search ended before its second step: {proc.communicate()}"
            assert time.monotonic() < deadline, "the second step never began"
            time.sleep(0.2)
        tree = psutil.Process(proc.pid).children(recursive=True)
        assert len(tree) >= 3, "the database, the service and Locust run as its children"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted; everything started was stopped" in err
    doc = load(tmp_path / "interrupted" / "fastapi-uvicorn" / "default" / "saturate.json")
    assert doc["status"] == INCOMPLETE
    assert (doc["knee"], doc["stopped_by"]) == (None, None)
    assert [s["users"] for s in doc["steps"]] in ([], [5])
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, f"left running: {alive}"
