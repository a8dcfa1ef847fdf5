"""wrk's ceiling, the generator calibration and interleaved trials: real services, real wrk, real Locust."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.common.errors import BenchError
from bench.database.seed import reset_tasks
from bench.database.server import Database
from bench.load.ceiling import WrkSettings, find_wrk, run_wrk
from bench.load.cpusets import plan
from bench.load.scenarios import SCENARIOS
from bench.run.knee import GENERATOR_BOUND
from bench.run.results import COMPLETE, find_results
from bench.run.runner import RunOutcome, RunRequest, run, trial_order
from bench.run.saturate import SaturationRequest, describe, saturate
from tests.conftest import ROTATION_SIDES, SEED_TASKS, SHORT_LOAD, RotationRun, ServiceLauncher

CEILING_KEYS = {"generator", "rps", "latency_ms", "errors", "cpu_percent", "bound", "locust_share", "seconds"}
CLI = [sys.executable, "-m", "bench"]
UNREACHABLE_DB = "postgresql://bench:secret@127.0.0.1:9/tasks"  # the discard port: nothing listens


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def wrk_or_fail() -> Any:
    wrk = find_wrk()
    if wrk is None:
        pytest.fail(
            "wrk is needed for the ceiling tests: `make setup` as root installs it (apt-get install wrk)"
        )
    return wrk


def path_without_wrk(tmp_path: Path) -> str:
    """PATH as it is, except that wrk is on none of it: each directory holding wrk is replaced by a
    directory of links to everything else in it."""
    kept = []
    for index, directory in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        folder = Path(directory)
        if not (folder / "wrk").exists():
            kept.append(directory)
            continue
        shadow = tmp_path / f"path-{index}"
        shadow.mkdir()
        for entry in folder.iterdir():
            if entry.name != "wrk":
                (shadow / entry.name).symlink_to(entry)
        kept.append(str(shadow))
    return os.pathsep.join(kept)


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=full_env, check=False
    )


def test_every_case_gets_a_ceiling_and_the_run_a_calibration(tmp_path: Path) -> None:
    wrk = wrk_or_fail()
    outcome = run(
        RunRequest(
            services=["go-gin"], scenarios=["ping", "list"], ceiling="on", ceiling_s=2, calibration_s=3,
            results_dir=tmp_path, **SHORT_LOAD,
        )
    )  # fmt: skip
    assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    record = load(outcome.run_dir / "run.json")
    calibration = record["calibration"]
    assert calibration["measured"] is True
    assert calibration["server"] == "go-gin:default", "gin is the fastest server of the run"
    assert calibration["scenario"] == "ping"
    assert calibration["locust_rps"] > 0
    assert calibration["server_rps_wrk"] > 0, "wrk gives the calibration its second opinion"
    assert record["ceiling_generator"] == wrk.generator
    paths = find_results(outcome.run_dir)
    assert [p.name for p in paths] == ["list.json", "ping.json"]
    for path in paths:
        doc = load(path)
        ceiling = doc["ceiling"]
        assert set(ceiling) >= CEILING_KEYS, sorted(ceiling)
        assert ceiling["generator"].startswith("wrk ")
        assert ceiling["connections"] == SHORT_LOAD["users"], "as many connections as Locust had users"
        assert ceiling["seconds"] == 2
        assert ceiling["rps"] > 0
        assert ceiling["errors"] == 0, ceiling["errors_detail"]
        assert ceiling["requests"] > 0
        assert isinstance(ceiling["bound"], bool)
        assert ceiling["cpu_percent"] is not None, "wrk's CPU was sampled"
        assert ceiling["cpu_percent"] > 0
        assert ceiling["locust_share"] == pytest.approx(doc["throughput"]["rps"] / ceiling["rps"], abs=1e-3)
        latencies = [ceiling["latency_ms"][k] for k in ("p50", "p90", "p99", "p99_9", "max")]
        assert latencies == sorted(latencies)
        assert doc["generator_calibration"] == calibration, "each case carries the run's calibration"
        assert (path.parent / "raw" / path.stem / "wrk.out").is_file(), "wrk's own output is kept"


def test_wrk_counts_answers_outside_the_contract_as_errors(launch: ServiceLauncher, tmp_path: Path) -> None:
    """A service whose database is unreachable answers /tasks/ with 503: not the list's 200."""
    wrk = wrk_or_fail()
    cpus = plan("auto").generator
    with launch("go-gin", env={"DATABASE_URL": UNREACHABLE_DB}) as running:
        listed, _ = run_wrk(wrk, WrkSettings("list", 4, 1), running.url, tmp_path / "list.out", cpus)
        pinged, _ = run_wrk(wrk, WrkSettings("ping", 4, 1), running.url, tmp_path / "ping.out", cpus)
    assert listed.summary["requests"] > 0
    assert listed.errors >= listed.summary["requests"], "every 503 counts as an error"
    assert listed.summary["passed"] == 0
    assert pinged.errors == 0, "ping needs no database: its 200s pass"
    assert pinged.summary["passed"] == pinged.summary["requests"] > 0


@pytest.mark.parametrize("scenario", ["list-1", "list-100", "paginate", "create", "mixed"])
def test_every_scenario_script_passes_a_healthy_service(
    launch: ServiceLauncher, database: Database, tmp_path: Path, scenario: str
) -> None:
    wrk = wrk_or_fail()
    try:
        with launch("go-gin") as running:
            result, _ = run_wrk(wrk, WrkSettings(scenario, 4, 1), running.url, tmp_path / "wrk.out", None)
    finally:
        reset_tasks(database.url, SEED_TASKS)  # the session's other tests expect the seeded table
    assert result.summary["requests"] > 0
    assert result.errors == 0, result.summary


def test_every_scenario_has_a_script() -> None:
    for scenario in SCENARIOS:
        assert (Path(__file__).parents[1] / "loadtests" / "wrk" / f"{scenario}.lua").is_file(), scenario


def test_trials_run_in_rotation_and_the_order_is_recorded(rotation_run: RotationRun) -> None:
    request, outcome = rotation_run
    sides = ROTATION_SIDES
    assert (request.ceiling, request.calibrate) == ("off", False)
    assert [order for _, order in trial_order(request)] == [list(sides), list(sides)]
    assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    ran = [(c.variant, c.trial) for c in outcome.cases]
    rotation = [("default", 1), ("no-pool-check", 1), ("default", 2), ("no-pool-check", 2)]
    assert ran == rotation, "A1 B1 A2 B2"
    record = load(outcome.run_dir / "run.json")
    assert record["order"]["mode"] == "rotation"
    assert record["order"]["rounds"] == [["fastapi-uvicorn:default", "fastapi-uvicorn:no-pool-check"]] * 2
    assert [(c["variant"], c["trial"]) for c in record["cases"]] == ran
    names = sorted(str(p.relative_to(outcome.run_dir)) for p in find_results(outcome.run_dir))
    assert names == [
        f"fastapi-uvicorn/{v}/ping.{t}.json" for v in ("default", "no-pool-check") for t in (1, 2)
    ]


def test_a_seeded_shuffle_is_reproducible_and_keeps_every_side_in_every_round() -> None:
    sides = tuple(("fastapi-uvicorn", v) for v in ("default", "no-pool-check", "access-log", "pool"))
    request = RunRequest(services=[], scenarios=["ping"], sides=sides, repeat=4, order_seed=7)
    rounds = trial_order(request)
    assert rounds == trial_order(request), "the same seed, the same order"
    assert [trial for trial, _ in rounds] == [1, 2, 3, 4]
    assert all(sorted(order) == sorted(sides) for _, order in rounds)
    assert len({tuple(order) for _, order in rounds}) > 1, "the rounds are shuffled"


def test_ceiling_on_without_wrk_is_one_clear_line_before_anything_starts(tmp_path: Path) -> None:
    proc = cli(
        "run", "fastapi-uvicorn", "--ceiling", "on", "--results-dir", str(tmp_path / "results"),
        env={"PATH": path_without_wrk(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fastapi-load: error: --ceiling on needs wrk"), lines[0]
    assert not (tmp_path / "results").exists(), "nothing was started or written"


def test_ceiling_auto_without_wrk_says_so_and_runs_on(tmp_path: Path) -> None:
    results = tmp_path / "results"
    proc = cli(
        "run", "fastapi-uvicorn", "--scenario", "ping", "--users", "5", "--spawn-rate", "5",
        "--duration", "2", "--warmup", "0", "--no-calibration", "--quiet", "--run-id", "auto",
        "--results-dir", str(results),
        env={"PATH": path_without_wrk(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "wrk" in line]
    assert notes == ["fastapi-load: wrk not found, running without ceilings (install it with `make setup` as "
                     "root on Debian, or `apt-get install wrk`)"], proc.stderr  # fmt: skip
    doc = load(results / "auto" / "fastapi-uvicorn" / "default" / "ping.json")
    assert doc["status"] == COMPLETE
    assert doc["ceiling"] is None
    assert load(results / "auto" / "run.json")["ceiling_generator"] is None


def test_ceiling_off_runs_no_wrk_even_when_installed(python_and_go_run: RunOutcome) -> None:
    wrk_or_fail()
    outcome = python_and_go_run
    assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    assert load(outcome.run_dir / "run.json")["request"]["ceiling"] == "off"
    paths = find_results(outcome.run_dir)
    assert {load(p)["service"] for p in paths} == {"go-gin", "fastapi-uvicorn"}
    for path in paths:
        assert load(path)["ceiling"] is None, path
    assert not list(outcome.run_dir.rglob("wrk.out"))


def test_side_syntax_names_sides_without_a_cross_product(tmp_path: Path) -> None:
    proc = cli("run", "go-gin:", "--results-dir", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "a side is SERVICE:VARIANT" in proc.stderr, proc.stderr
    proc = cli("run", "go-gin:default", "gin:default", "--results-dir", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "a side is given twice" in proc.stderr, proc.stderr
    proc = cli("run", "go-gin:no-such-variant", "--results-dir", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "no-such-variant" in proc.stderr, proc.stderr
    assert not any(tmp_path.iterdir()), "every side is checked before anything starts"


def test_saturate_goes_on_with_wrk_once_locust_saturates(tmp_path: Path) -> None:
    wrk_or_fail()
    # On a shared machine Locust may be starved below its CPU limit; a 1% limit makes its first step
    # generator-bound wherever the test runs, so what is tested is what follows: wrk's steps.
    outcome = saturate(
        SaturationRequest(
            service="go-gin", scenario="ping", start_users=40, step_users=20, step_seconds=4, max_users=80,
            generator_percent=1.0, ceiling="on", run_id="wrk-knee", results_dir=tmp_path, progress=False,
        )
    )  # fmt: skip
    doc = load(outcome.path)
    steps = doc["steps"]
    assert doc["wrk_from_users"] == 40, "Locust saturated at its first step"
    assert steps[0]["generator"].startswith("wrk "), "the generator-bound Locust step is replaced by wrk's"
    assert all(step["generator"].startswith("wrk ") for step in steps)
    assert [step["users"] for step in steps] == [40, 60, 80][: len(steps)]
    assert all(step["wrk_cpu_percent"] is not None for step in steps)
    assert doc["settings"]["generator_percent"] == 1.0
    assert "wrk connections carried the search on" in describe(outcome)
    assert doc["stopped_by"] is not None
    if doc["stopped_by"] != GENERATOR_BOUND:
        assert doc["knee"] is not None
        assert doc["knee"]["generator"].startswith("wrk ")
    with pytest.raises(BenchError, match="--ceiling 'sometimes'"):
        saturate(SaturationRequest(service="go-gin", ceiling="sometimes", results_dir=tmp_path))
