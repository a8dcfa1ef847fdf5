"""Sides that differ only in a run setting (workers, pool size) are sides of one run, each with its own."""

import json
from pathlib import Path
from typing import Any

import pytest

from bench import readme
from bench.analysis.compare import compare_paths
from bench.analysis.report import write_report
from bench.cli import main
from bench.common.results import COMPLETE, find_results
from bench.common.sides import Side
from bench.experiments import EXPERIMENTS
from bench.run.runner import RunRequest, locust_order, run
from tests.conftest import QUICK as BASE

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

# SHORT_LOAD's three seconds: two left too few full-load history rows on a busy machine.
QUICK: dict[str, Any] = {
    **BASE, "services": [], "scenarios": ["ping"], "users": 5, "spawn_rate": 5.0, "warmup_s": 1, "seed": 100,
}  # fmt: skip
EXPERIMENT_DIR = "{}-20260101-000000"  # as run_experiment names it, so the README finds it


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def row(markdown: str, label: str) -> str:
    """The table row of one side (a generator-bound mark may follow its label)."""
    rows = [line for line in markdown.splitlines() if line.startswith(f"| {label}")]
    assert rows, f"no row for {label}"
    return rows[0]


def regenerated_readme(tmp_path: Path, results: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`fastapi-load readme` over these results; its figures, pages and evidence go beside the README
    written here, out of the repository."""
    page = tmp_path / "README.md"
    page.write_text(f"# x\n{readme.FINDINGS_START}\n{readme.FINDINGS_END}\n{readme.START}\n{readme.END}\n")
    readme.regenerate(page, results)
    return page.read_text()


def test_workers_sides_rotate_and_each_result_really_had_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    # "gunicorn" is an alias: the run resolves it before anything starts.
    sides = (Side("fastapi-gunicorn", workers=1), Side("gunicorn", workers=2))
    outcome = run(
        RunRequest(
            sides=sides, repeat=1, run_id="workers", results_dir=results / EXPERIMENT_DIR.format("workers"),
            order_seed=1, **QUICK,
        )
    )  # fmt: skip
    assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    one, two = "default@workers=1", "default@workers=2"
    resolved = [Side("fastapi-gunicorn", workers=1), Side("fastapi-gunicorn", workers=2)]
    planned = locust_order(resolved, 1, 1)
    assert [(c.variant, c.trial) for c in outcome.cases] == [
        (s.name, t) for t, order in planned for s in order
    ]
    record = load(outcome.run_dir / "run.json")
    assert record["sides"] == [f"fastapi-gunicorn:{one}", f"fastapi-gunicorn:{two}"]
    names = sorted(str(p.relative_to(outcome.run_dir)) for p in find_results(outcome.run_dir))
    assert names == [f"fastapi-gunicorn/{side}/ping.json" for side in (one, two)]
    for path in find_results(outcome.run_dir):
        doc = load(path)
        workers = int(path.parent.name.rsplit("=", 1)[1])
        assert doc["side"] == f"fastapi-gunicorn:default@workers={workers}"
        assert doc["variant"] == "default"
        assert doc["side_settings"] == {"workers": workers}
        assert doc["server"]["workers"] == workers
        command = doc["server"]["command"]
        assert command[command.index("--workers") + 1] == str(workers)
        # Measured, not asked for: gunicorn's master and its workers served this case.
        assert doc["resources"]["service_processes"] == 1 + workers, path
    comparison = compare_paths([outcome.run_dir], one)
    (ping,) = comparison.scenarios
    assert sorted((s.label, s.locust.trials if s.locust else 0) for s in ping.sides) == [
        ("fastapi-gunicorn:default@workers=1", 1),
        ("fastapi-gunicorn:default@workers=2", 1),
    ]
    assert ping.baseline.label == "fastapi-gunicorn:default@workers=1"
    write_report(outcome.run_dir.parent, EXPERIMENTS["workers"].baseline)
    text = regenerated_readme(tmp_path, results, monkeypatch)
    assert f"### {EXPERIMENTS['workers'].title}" in text
    assert "run `workers-20260101-000000`" in text, "the block names its run"
    assert row(text, "fastapi-gunicorn:default@workers=1").split(" | ")[2] == "baseline"
    assert row(text, "fastapi-gunicorn:default@workers=2").split(" | ")[1].startswith("Locust ")


def test_pool_size_sides_carry_their_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    sides = (Side("fastapi-uvicorn", "pool", pool_max=2), Side("fastapi-uvicorn", "pool", pool_max=10))
    outcome = run(
        RunRequest(
            sides=sides,
            run_id="pool-size",
            results_dir=results / EXPERIMENT_DIR.format("pooling"),
            **{**QUICK, "warmup_s": 0},  # the rotation test has the warm-up; this one checks settings
        )
    )
    assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    for path in find_results(outcome.run_dir):
        doc = load(path)
        size = int(path.parent.name.rsplit("=", 1)[1])
        assert doc["side_settings"] == {"pool_max": size}
        assert doc["server"]["env"]["DB_POOL_MAX"] == str(size), "the pool the app was given"
        assert doc["server"]["env"]["DB_STRATEGY"] == "pool"
    write_report(outcome.run_dir.parent, EXPERIMENTS["pooling"].baseline)
    text = regenerated_readme(tmp_path, results, monkeypatch)
    assert row(text, "fastapi-uvicorn:pool@pool-max=10").split(" | ")[2] == "baseline"
    assert "fastapi-uvicorn:pool@pool-max=2" in text


def test_every_view_compares_the_sides_of_one_run() -> None:
    for experiment in EXPERIMENTS.values():
        parts = {part.label: part for part in experiment.parts}
        for view in experiment.views:
            assert view.part in parts, (experiment.name, view.title)
            services = {side.service for side in parts[view.part].request.side_list()}
            assert set(view.services) <= services, (experiment.name, view.title)
    (workers,) = EXPERIMENTS["workers"].parts
    assert [side.name for side in workers.request.side_list()] == [f"default@workers={n}" for n in (1, 2, 4)]
    pool_size = next(p for p in EXPERIMENTS["pooling"].parts if p.label == "pool-size")
    assert [side.name for side in pool_size.request.side_list()] == [
        f"pool@pool-max={n}" for n in (1, 2, 5, 10, 20)
    ]
    assert pool_size.request.sides_up == "alone", (
        "pools of 20 and one per request must not share 30 connections"
    )


@pytest.mark.parametrize(
    ("side", "message"),
    [
        ("fastapi-gunicorn:default@workers=0", "workers must be a positive whole number"),
        ("fastapi-gunicorn:default@threads=2", "SETTING one of workers, pool-max"),
        ("fastapi-gunicorn:default@workers=2@workers=3", "workers is set twice"),
    ],
)
def test_a_bad_side_setting_is_one_line_before_anything_starts(
    side: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", side, "--results-dir", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert message in lines[0], lines
    assert not any(tmp_path.iterdir())
