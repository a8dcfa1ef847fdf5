"""Capacity rounds and open-loop points on real services, real wrk and real vegeta; Locust pass order."""

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench.analysis.compare import compare_paths
from bench.common.errors import BenchError
from bench.common.results import COMPLETE, find_results
from bench.common.schema import OPEN_LOOP_FILE, ROUNDS_FILE, OpenLoop, Rounds, read_record
from bench.common.sides import Side
from bench.database.seed import reset_tasks
from bench.database.server import Database
from bench.load import cgroups
from bench.load.cpusets import plan
from bench.load.scenarios import SCENARIOS
from bench.load.vegeta import attack, find_vegeta
from bench.load.wrk import WrkSettings, find_wrk, run_wrk
from bench.run.rounds import orders
from bench.run.runner import RunOutcome, RunRequest, locust_order, run
from tests.conftest import FULL_RUN_SIDES, ROTATION_SIDES, SEED_TASKS, RotationRun, ServiceLauncher, cli

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

UNREACHABLE_DB = "postgresql://bench:secret@127.0.0.1:9/tasks"  # the discard port: nothing listens


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def wrk_or_fail() -> Any:
    wrk = find_wrk()
    if wrk is None:
        pytest.fail(
            "wrk is needed for the capacity rounds: `make setup` as root installs it (apt-get install wrk)"
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


def test_every_side_runs_once_per_round_in_the_recorded_order(full_run: RunOutcome) -> None:
    record = read_record(full_run.run_dir / ROUNDS_FILE, Rounds)
    labels = [side.label for side in FULL_RUN_SIDES]
    assert record.status == "complete"
    assert record.sides == labels
    assert record.sides_up == "together"
    assert record.orders == orders(labels, ["ping", "list"], 6, record.seed), "the seed gives the orders"
    for scenario in ("ping", "list"):
        windows = [w for w in record.windows if w.scenario == scenario]
        assert len(windows) == 6 * len(labels)
        for round_no, order in enumerate(record.orders[scenario], start=1):
            ran = sorted((w for w in windows if w.round == round_no), key=lambda w: w.position)
            assert [w.side for w in ran] == order, "each round ran in its recorded order"
            assert [w.started_at for w in ran] == sorted(w.started_at for w in ran)
    for window in record.windows:
        assert window.error is None, window
        assert window.errors == 0, window
        assert window.requests > 0
        assert window.rps > 0
        assert window.service_cpu_ms_per_request is not None
        assert window.service_cpu_ms_per_request > 0
        assert window.generator_cpu_percent is not None
        assert window.cpu_source == ("cgroup" if cgroups.usable() else "proc"), "the source is recorded"
    listing = [w for w in record.windows if w.scenario == "list"]
    assert all(w.postgres_cpu_ms_per_request for w in listing), "list reads PostgreSQL: it spends CPU too"


def test_orders_are_reproducible_and_shuffled() -> None:
    labels = [f"svc:{n}" for n in range(5)]
    first = orders(labels, ["ping", "list"], 8, seed=4)
    assert first == orders(labels, ["ping", "list"], 8, seed=4)
    assert first != orders(labels, ["ping", "list"], 8, seed=5)
    for scenario in ("ping", "list"):
        assert all(sorted(order) == labels for order in first[scenario]), "every side in every round"
        assert len({tuple(order) for order in first[scenario]}) > 1, "the rounds are shuffled"
        assert {order[0] for order in first[scenario]} != {labels[0]}, "no side always goes first"


def test_the_run_compares_sides_on_paired_rounds(full_run: RunOutcome) -> None:
    comparison = compare_paths([full_run.run_dir], None)
    for scenario in comparison.scenarios:
        assert scenario.baseline.label == "fastapi-uvicorn:default"
        uvicorn = next(s for s in scenario.sides if s.stack == "fastapi-uvicorn")
        gin = next(s for s in scenario.sides if s.stack == "go-gin")
        assert uvicorn.capacity is not None
        assert uvicorn.capacity.decided
        assert gin.baseline is uvicorn
        assert gin.capacity_ratio is not None
        assert gin.capacity_ratio.rounds == 6
        assert gin.cpu_ratio is not None
        assert uvicorn.locust is not None
        assert uvicorn.locust.trials == 1
        assert scenario.findings
        assert scenario.findings[0].startswith("Against fastapi-uvicorn:default: ")


def test_open_loop_points_share_one_rate_per_scenario_and_check_the_generator(full_run: RunOutcome) -> None:
    vegeta = find_vegeta()
    assert vegeta is not None, "make setup builds vegeta into .tools/bin"
    record = read_record(full_run.run_dir / OPEN_LOOP_FILE, OpenLoop)
    rounds = read_record(full_run.run_dir / ROUNDS_FILE, Rounds)
    assert record.status == "complete"
    assert record.generator == vegeta.generator
    for scenario in ("ping", "list"):
        common = [p for p in record.points if p.scenario == scenario and p.kind == "common"]
        assert sorted((p.side, p.repeat) for p in common) == sorted(
            (s.label, repeat) for s in FULL_RUN_SIDES for repeat in range(record.repeats)
        ), "every side once per repeat"
        assert len({p.offered_rps for p in common}) == 1, "every side gets the same rate"
        slowest = min(
            sorted(w.rps for w in rounds.windows if w.scenario == scenario and w.side == side.label)[3]
            for side in FULL_RUN_SIDES
        )
        assert common[0].offered_rps == pytest.approx(0.5 * slowest, rel=0.01)
        for point in common:
            assert point.requests > 0
            kept = point.sent_rps >= 0.97 * point.offered_rps
            assert kept or point.generator_limited or point.unsent, "a shortfall is marked or counted"
            assert point.generator_limited == bool(point.limit_reasons)
            assert point.latency_from == "intended"
            assert point.scheduled == round(point.offered_rps) * point.seconds
            if point.latency_ms is not None:
                assert point.service_latency_ms is not None
                assert point.latency_ms.p99 >= point.service_latency_ms.p99, "the pacer's waits count"
    assert not [p for p in record.points if p.kind == "floor"], "the generator is judged at every point"


def test_a_scenario_that_follows_answers_cannot_be_sent_open_loop(tmp_path: Path) -> None:
    vegeta = find_vegeta()
    assert vegeta is not None
    with pytest.raises(BenchError, match="cannot be sent open-loop"):
        attack(vegeta, "http://127.0.0.1:9", "paginate", 10, 1, tmp_path, None)
    with pytest.raises(BenchError, match="give --rounds"):
        run(RunRequest(sides=(Side("go-gin"),), open_loop=(0.5,), rounds=0, results_dir=tmp_path))
    assert not any(tmp_path.iterdir()), "nothing started"


def test_locust_trials_run_in_a_seeded_order_that_is_recorded(rotation_run: RotationRun) -> None:
    _request, outcome = rotation_run
    assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    planned = locust_order(list(ROTATION_SIDES), 2, 3)
    assert planned == locust_order(list(ROTATION_SIDES), 2, 3), "the same seed, the same order"
    ran = [(c.variant, c.trial) for c in outcome.cases]
    assert ran == [(side.name, trial) for trial, order in planned for side in order]
    record = load(outcome.run_dir / "run.json")
    assert record["seed"] == 3
    assert record["locust_order"] == [[side.label for side in order] for _, order in planned]
    names = sorted(str(p.relative_to(outcome.run_dir)) for p in find_results(outcome.run_dir))
    assert names == [
        f"fastapi-uvicorn/{v}/ping.{t}.json" for v in ("default", "no-pool-check") for t in (1, 2)
    ]


def test_rounds_without_wrk_are_one_clear_line_before_anything_starts(tmp_path: Path) -> None:
    proc = cli(
        "run", "fastapi-uvicorn", "--rounds", "6", "--results-dir", str(tmp_path / "results"),
        env={"PATH": path_without_wrk(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fastapi-load: error: the capacity rounds need wrk"), lines[0]
    assert not (tmp_path / "results").exists(), "nothing was started or written"


def test_saturate_draws_one_sides_curve_and_names_its_knee(tmp_path: Path) -> None:
    proc = cli(
        "saturate", "go-gin", "--scenario", "list", "--rounds", "6", "--window", "1", "--window-warmup", "0",
        "--curve", "50,150%", "--open-loop-seconds", "1", "--seed", "200", "--run-id", "curve",
        "--results-dir", str(tmp_path), "--quiet", timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = read_record(tmp_path / "curve" / OPEN_LOOP_FILE, OpenLoop)
    curve = [p for p in record.points if p.kind == "curve"]
    assert [p.fraction for p in curve] == [0.5, 1.5]
    assert curve[0].offered_rps < curve[1].offered_rps
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("go-gin:default on list")]
    assert "capacity" in line, line
    assert "knee at" in line or "no knee" in line, line
    assert not list((tmp_path / "curve").rglob("*.json.tmp")), "no half-written file"


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
