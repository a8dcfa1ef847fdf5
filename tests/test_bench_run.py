"""The bench runner end to end: real services, real Locust, real result files."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.common.errors import BenchError
from bench.common.results import COMPLETE, INCOMPLETE, SCHEMA_VERSION, find_results, raw_dir
from bench.common.schema import ROUNDS_FILE, Rounds, read_record
from bench.common.sides import Side
from bench.load import cgroups
from bench.run.runner import RunOutcome, RunRequest, run
from bench.services.manifest import services
from bench.services.target import check_target
from tests.conftest import QUICK, ROTATION_SIDES, RotationRun

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

SERVICE_NAMES = [m.name for m in services()]


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def assert_complete_result(doc: dict[str, Any]) -> None:
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["status"] == COMPLETE
    env = doc["environment"]
    for key in ("git_commit", "cpu_model", "cpu_count", "kernel", "python", "packages", "cpu_sets"):
        assert key in env, key
    assert env["packages"]["fastapi"]
    assert doc["server"]["command"], "the exact command line is recorded"
    assert "***" in doc["server"]["env"]["DATABASE_URL"], "no password in results"
    assert doc["database"]["settings"]["max_connections"] == "100"
    assert doc["database"]["version"].startswith("postgres")
    assert doc["throughput"]["rps"] > 0
    assert set(doc["latency_ms"]) == {"p50", "p90", "p95", "p99", "p99_9", "max"}
    latencies = [doc["latency_ms"][k] for k in ("p50", "p90", "p95", "p99", "p99_9", "max")]
    assert latencies == sorted(latencies)
    total = doc["requests"]["total"]
    assert total == sum(e["requests"] for e in doc["endpoints"])
    assert doc["series"][-1]["total_requests"] == total
    assert doc["requests"]["failures"] == 0
    resources = doc["resources"]
    assert resources["service_cpu_ms_per_request"] > 0
    assert resources["cpu_source"] == ("cgroup" if cgroups.usable() else "proc")
    assert resources["service_peak_rss_mb"] > 0
    assert resources["postgres_peak_rss_mb"] > 0
    assert isinstance(doc["generator_bound"], bool)
    assert doc["load"]["locust_command"][0] == sys.executable


def test_run_writes_complete_results_for_python_and_go(full_run: RunOutcome) -> None:
    assert "go-gin" in SERVICE_NAMES, "the gin service must exist"
    outcome = full_run
    assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    assert {c.service for c in outcome.cases} == {"fastapi-uvicorn", "go-gin"}
    paths = find_results(outcome.run_dir)
    assert len(paths) == 4
    for path in paths:
        doc = load(path)
        assert_complete_result(doc)
        raw = raw_dir(path)
        assert (raw / "locust.json").is_file()
        assert (raw / "locust_stats_history.csv").is_file()
    assert load(outcome.run_dir / "run.json")["status"] == COMPLETE
    assert not list(outcome.run_dir.rglob(".*.tmp")), "no temporary files left"


def test_repeat_stores_every_trial(rotation_run: RotationRun) -> None:
    _, outcome = rotation_run
    for rotated in ROTATION_SIDES:
        side = outcome.run_dir / rotated.service / rotated.name
        names = sorted(p.name for p in find_results(side))
        assert names == ["ping.1.json", "ping.2.json"], rotated
        trials = [load(p)["trial"] for p in find_results(side)]
        assert trials == [1, 2], rotated


def test_unknown_scenario_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(
        BenchError, match="known scenarios: ping, list, list-1, list-100, paginate, create, mixed"
    ):
        run(RunRequest(services=["fastapi-uvicorn"], scenarios=["stress"], results_dir=tmp_path))
    assert not any(tmp_path.iterdir()), "validation fails before anything is written"


def test_remote_targets_need_the_opt_in() -> None:
    assert check_target("http://127.0.0.1:8000/", False) == "http://127.0.0.1:8000"
    assert check_target("http://localhost:8000", False) == "http://localhost:8000"
    assert check_target("http://[::1]:8000", False) == "http://[::1]:8000"
    with pytest.raises(BenchError, match="--allow-remote"):
        check_target("http://example.com:8000", False)
    with pytest.raises(BenchError, match="--allow-remote"):
        check_target("http://10.0.0.5:8000", False)
    assert check_target("http://10.0.0.5:8000", True) == "http://10.0.0.5:8000"


def test_generator_bound_is_flagged_when_locust_saturates(tmp_path: Path) -> None:
    # gin answers ping far faster than one Locust process can ask: Locust is the limit. On a shared
    # machine Locust may be starved below its CPU bound; the calibration (Locust's measured top rate
    # here, against gin with wrk's second opinion) still tells.
    outcome = run(
        RunRequest(
            services=["go-gin"], scenarios=["ping"], users=60, spawn_rate=60.0, duration_s=5, warmup_s=1,
            seed=10, cpus="0/1", results_dir=tmp_path, progress=False, calibration_s=4,
        )
    )  # fmt: skip
    doc = load(find_results(outcome.run_dir)[0])
    assert doc["generator_bound"] is True, (doc["resources"], doc["generator_calibration"])
    assert doc["generator_bound_reasons"]


@pytest.mark.parametrize("stage", ["rounds"])
def test_sigint_mid_run_stops_everything_and_marks_incomplete(tmp_path: Path, stage: str) -> None:
    """Ctrl-C during the capacity rounds, after the first round was written. (Ctrl-C during a Locust
    run is the fault suite's, tests/test_faults.py: warm-up, service start-up, database start-up.)"""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    rounds = (
        ["--rounds", "40", "--window", "1", "--window-warmup", "0"]
        if stage == "rounds"
        else ["--rounds", "0"]
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "fastapi-uvicorn", "--scenario", "list", "--users", "10",
         "--duration", "60", "--warmup", "0", "--run-id", "interrupted", "--results-dir", str(tmp_path),
         "--quiet", "--no-calibration", *rounds],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    case_file = tmp_path / "interrupted" / "fastapi-uvicorn" / "default" / "list.json"
    rounds_file = tmp_path / "interrupted" / ROUNDS_FILE
    started = rounds_file if stage == "rounds" else raw_dir(case_file) / "locust_stats_history.csv"
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), f"the {stage} stage never started"
    tree = psutil.Process(proc.pid).children(recursive=True)
    assert len(tree) >= 3, "database, service and Locust are running"
    # This run's own cluster directory: other runs on the machine may create or sweep theirs meanwhile.
    ours = {Path(arg).parent for p in tree for arg in p.cmdline() if "fastapi-load-pg-" in arg}
    assert ours, "the embedded cluster runs from a fastapi-load-pg-* directory"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, f"survivors: {alive}"
    if stage == "rounds":
        record = read_record(rounds_file, Rounds)
        assert record.status == "incomplete"
        assert record.windows, "the rounds measured before Ctrl-C are kept"
        assert len(record.windows) < 40
    else:
        assert load(case_file)["status"] == INCOMPLETE
    assert load(tmp_path / "interrupted" / "run.json")["status"] == INCOMPLETE
    assert not any(d.exists() for d in ours), "the cluster directory is deleted"


def test_missing_go_fails_gin_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go_dirs = {str(Path(p).parent) for p in [shutil.which("go")] if p}
    monkeypatch.setenv(
        "PATH", os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d not in go_dirs)
    )
    outcome = run(
        RunRequest(services=["go-gin", "fastapi-uvicorn"], scenarios=["ping"], results_dir=tmp_path, **QUICK)
    )
    by_service = {c.service: c for c in outcome.cases}
    assert by_service["go-gin"].status == "failed"
    assert "needs `go` to build" in (by_service["go-gin"].error or "")
    assert by_service["fastapi-uvicorn"].status == COMPLETE
    assert outcome.status == "failed", "a run with a failed stack is not reported as complete"


def test_two_variants_of_a_service_are_two_sides_each_run_as_it_says(rotation_run: RotationRun) -> None:
    assert RunRequest(services=["fastapi-uvicorn"], variants=["default", "access-log"]).side_list() == [
        Side("fastapi-uvicorn", "default"),
        Side("fastapi-uvicorn", "access-log"),
    ], "every service with every variant: the cross product, in order"
    _, outcome = rotation_run
    env = {load(p)["variant"]: load(p)["server"]["env"] for p in find_results(outcome.run_dir)}
    assert env["default"]["DB_POOL_CHECK"] == "1"
    assert env["no-pool-check"]["DB_POOL_CHECK"] == "0", "each side ran with its own variant's settings"


def _assert_workers_add_up(doc: dict[str, Any], count: int) -> None:
    workers = doc["locust_workers"]
    assert len(workers) == count, workers
    assert sum(w["requests"] for w in workers) == doc["requests"]["total"]
    assert all(w["requests"] > 0 for w in workers), "every worker sent load"
    assert all("cpu_percent_peak" in w for w in workers), "every worker's CPU is judged"


def test_local_distributed_run_sums_its_workers(tmp_path: Path) -> None:
    outcome = run(
        RunRequest(
            services=["fastapi-uvicorn"],
            scenarios=["ping"],
            locust_processes=2,
            results_dir=tmp_path,
            **QUICK,
        )
    )
    doc = load(find_results(outcome.run_dir)[0])
    assert_complete_result(doc)
    assert doc["load"]["processes"] == 2
    assert "--processes" in doc["load"]["locust_command"]
    _assert_workers_add_up(doc, 2)


def test_master_waits_for_external_workers(tmp_path: Path) -> None:
    from bench.common.paths import LOCUSTFILE

    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", "127.0.0.1"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]  # fmt: skip
    try:
        outcome = run(
            RunRequest(
                services=["fastapi-uvicorn"], scenarios=["ping"], external_workers=2, results_dir=tmp_path,
                **QUICK,
            )
        )  # fmt: skip
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=10)
    doc = load(find_results(outcome.run_dir)[0])
    assert doc["status"] == COMPLETE
    assert "--master" in doc["load"]["locust_command"]
    assert doc["load"]["warmup_s"] == 0
    _assert_workers_add_up(doc, 2)
    assert {w["host"] for w in doc["locust_workers"]} == {socket.gethostname()}


def test_target_mode_loads_a_running_service(tmp_path: Path, launch: Any) -> None:
    with launch("go-gin", "pool") as running:
        outcome = run(
            RunRequest(
                services=["my-gin"], scenarios=["ping"], target=running.url, results_dir=tmp_path, **QUICK
            )
        )
    doc = load(find_results(outcome.run_dir)[0])
    assert doc["status"] == COMPLETE
    assert doc["server"]["external_url"] == running.url
    assert doc["requests"]["total"] > 0
