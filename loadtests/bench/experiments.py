"""The write-up's experiments as one command each: named sets of runs, compared and reported together.

Each experiment runs its parts one after another in one invocation (same machine state), each
part a normal `run` (or a saturation search) under results/<experiment>-<time>/<part>/, then
writes one comparison and one report over all of them. Within a part, `run` interleaves the trials
of its sides (A1 B1 A2 B2 ...), so every experiment with repeats compares sides under the same drift.
Sides that differ only in a run setting (workers, pool size) are sides of one part too, each carrying
its setting (bench.run.sides): every view compares sides of one rotation. Only the knee searches,
one service's steps at a time by nature, are parts of their own.
"""

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.analysis.compare import Comparison, compare_paths
from bench.analysis.markdown import render_markdown
from bench.analysis.report import write_report
from bench.common.errors import BenchError
from bench.common.paths import RESULTS_DIR
from bench.run.runner import RunOutcome, RunRequest, run
from bench.run.saturate import SaturationRequest, describe, saturate
from bench.run.sides import SideSpec

ALL_SERVICES = ["fastapi-uvicorn", "fastapi-granian", "fastapi-gunicorn", "go-gin"]
# Idiomatic FastAPI as shipped, each Python stack's tuned variant (make bench-ladder), and gin.
SERVER_SIDES = (
    *((s, "default") for s in ALL_SERVICES),
    *((s, "tuned") for s in ALL_SERVICES if s != "go-gin"),
)
# On a 2-core machine, with one core for the server and PostgreSQL, connections are set up and
# torn down one after another fast enough that 200 users never hold the stock 100 at once: the
# run is slow but never refused. 30 puts the cliff the write-up hit (at 100, on 12 threads)
# where this machine can reach it; the pools (at most 20) still fit. Recorded in every result.
POOLING_MAX_CONNECTIONS = 30


# make bench-ladder: from the write-up's habits to the leanest FastAPI, one change per rung,
# each rung a variant of services/fastapi-uvicorn/service.toml (docs/per-request-costs.md).
LADDER_RUNGS = (
    "writeup",
    "async-deps",
    "idle-check",
    "default",
    "no-telemetry",
    "asyncpg+pool-reset+no-telemetry",
    "tuned",
    "bare",
)
LADDER_SCENARIOS = ("ping", "list", "create")


@dataclass(frozen=True)
class Part:
    label: str
    request: RunRequest | None = None
    saturation: SaturationRequest | None = None


@dataclass(frozen=True)
class View:
    """One comparison table: some of the experiment's results against a chosen baseline."""

    title: str
    paths: tuple[str, ...]  # relative to the experiment directory: part/ or part/service/
    baseline: str | None


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    question: str
    baseline: str | None
    parts: tuple[Part, ...]
    views: tuple[View, ...] = ()


@dataclass(frozen=True)
class Profile:
    """Load knobs a user may turn on every part at once (make variables)."""

    users: int | None = None
    spawn_rate: float | None = None
    duration_s: int | None = None
    warmup_s: int | None = None
    repeat: int | None = None
    cpus: str | None = None
    ceiling: str | None = None  # off, auto or on: wrk's ceiling on every case (and past Locust's knee)
    ceiling_s: int | None = None

    def apply(self, request: RunRequest) -> RunRequest:
        changes = {k: v for k, v in vars(self).items() if v is not None}
        return replace(request, **changes)


def _runs(**common: Any) -> RunRequest:
    defaults: dict[str, Any] = {"users": 50, "spawn_rate": 25.0, "duration_s": 15, "warmup_s": 3, "repeat": 3}
    defaults.update(common)
    return RunRequest(**defaults)


POOL_SIZES = (1, 2, 5, 10, 20)
WORKER_COUNTS = (1, 2, 4)


def _pool_side(size: int) -> tuple[str, str]:
    return ("fastapi-uvicorn", SideSpec("pool", pool_max=size).name)


def _workers_side(count: int) -> tuple[str, str]:
    return ("fastapi-gunicorn", SideSpec(workers=count).name)


def _ladder_parts() -> tuple[Part, ...]:
    # One part per scenario, so each scenario gets its own view; granian's tuned rung is a side of
    # the same run, so it takes its turn in the same rotation as the uvicorn rungs.
    sides = (*(("fastapi-uvicorn", rung) for rung in LADDER_RUNGS), ("fastapi-granian", "tuned"))
    return tuple(
        Part(scenario, _runs(services=[], sides=sides, scenarios=[scenario], duration_s=8, repeat=2))
        for scenario in LADDER_SCENARIOS
    )


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "logging",
            "Access logs cost throughput when the endpoint does little",
            "How much does turning the access log on cost on /ping/, per server?",
            None,
            (
                Part(
                    "logging",
                    _runs(
                        services=["fastapi-uvicorn", "fastapi-granian", "go-gin"],
                        variants=["default", "access-log"],
                        scenarios=["ping"],
                    ),
                ),
            ),
            tuple(
                View(f"{s}: access log on against off", (f"logging/{s}",), "default")
                for s in ("fastapi-uvicorn", "fastapi-granian", "go-gin")
            ),
        ),
        Experiment(
            "pooling",
            "A connection per request collapses where a pool holds",
            "At the write-up's load (200 users, 20 new per second) on GET /tasks/, what does opening a "
            "connection per request do compared with a pool, and what does the pool's size change? "
            f"(PostgreSQL max_connections={POOLING_MAX_CONNECTIONS}, see the note in the code.)",
            None,
            (
                Part(
                    "strategies",
                    _runs(
                        services=["fastapi-uvicorn", "go-gin"],
                        variants=["per-request", "pool"],
                        scenarios=["list"],
                        users=200,
                        spawn_rate=20.0,
                        duration_s=30,
                        repeat=1,
                        max_connections=POOLING_MAX_CONNECTIONS,
                    ),
                ),
                Part(
                    "pool-size",
                    _runs(
                        services=[],
                        sides=tuple(map(_pool_side, POOL_SIZES)),
                        scenarios=["list"],
                        users=200,
                        spawn_rate=20.0,
                        repeat=2,
                        max_connections=POOLING_MAX_CONNECTIONS,
                    ),
                ),
            ),
            (
                *(
                    View(f"{s}: a connection per request against a pool", (f"strategies/{s}",), "pool")
                    for s in ("fastapi-uvicorn", "go-gin")
                ),
                View("fastapi-uvicorn: pool size", ("pool-size",), _pool_side(10)[1]),
            ),
        ),
        Experiment(
            "drivers",
            "psycopg's pool against asyncpg's",
            "Does the driver matter on reads and writes, with the same pool size?",
            None,
            (
                Part(
                    "drivers",
                    _runs(
                        services=["fastapi-uvicorn"],
                        variants=["pool", "asyncpg"],
                        scenarios=["list", "create"],
                    ),
                ),
            ),
            (View("fastapi-uvicorn: asyncpg pool against psycopg pool", ("drivers",), "pool"),),
        ),
        Experiment(
            "workers",
            "gunicorn workers: throughput against memory",
            "How does FastAPI under gunicorn scale with worker processes, and what does each cost in memory?",
            None,
            (
                Part(
                    "workers",
                    _runs(
                        services=[],
                        sides=tuple(map(_workers_side, WORKER_COUNTS)),
                        scenarios=["ping", "list"],
                    ),
                ),
            ),
            (View("fastapi-gunicorn: 1, 2 and 4 workers", ("workers",), _workers_side(1)[1]),),
        ),
        Experiment(
            "servers",
            "Four stacks, one contract: where each one saturates",
            "How do the four services compare on ping, list and mixed, as shipped and tuned, and where is "
            "each one's knee on ping and list?",
            "go-gin",
            (
                Part(
                    "servers",
                    _runs(services=[], sides=SERVER_SIDES, scenarios=["ping", "list", "mixed"], repeat=1),
                ),
                *(
                    Part(
                        f"knee-{s}-{scenario}",
                        saturation=SaturationRequest(
                            service=s,
                            scenario=scenario,
                            start_users=10,
                            step_users=20,
                            step_seconds=6,
                            max_users=130,
                            progress=False,
                        ),
                    )
                    for scenario in ("ping", "list")
                    for s in ALL_SERVICES
                ),
            ),
            (
                View(
                    "the four services, as shipped and tuned",
                    ("servers", *(f"knee-{s}-{c}" for c in ("ping", "list") for s in ALL_SERVICES)),
                    "go-gin",
                ),
            ),
        ),
        Experiment(
            "ladder",
            "What each FastAPI habit costs, one change at a time",
            "From the write-up's code (dependencies in the thread pool, a pool check on every checkout, "
            "the response validated twice) to the leanest FastAPI app for the same contract: what does "
            "each change buy on ping, list and create? Every rung is a recorded variant.",
            "fastapi-uvicorn/writeup",
            _ladder_parts(),
            tuple(
                View(
                    f"{scenario}: each rung against the write-up's habits",
                    (scenario,),
                    "fastapi-uvicorn/writeup",
                )
                for scenario in LADDER_SCENARIOS
            ),
        ),
    )
}


@dataclass
class ExperimentOutcome:
    experiment: Experiment
    directory: Path
    runs: list[RunOutcome] = field(default_factory=list)
    saturations: list[str] = field(default_factory=list)
    comparisons: list[tuple[View, Comparison]] = field(default_factory=list)
    report: tuple[Path, Path] | None = None


def find(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise BenchError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def run_experiment(name: str, profile: Profile, results_dir: Path = RESULTS_DIR) -> ExperimentOutcome:
    experiment = find(name)
    directory = results_dir / f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    outcome = ExperimentOutcome(experiment, directory)
    for part in experiment.parts:
        if part.request is not None:
            request = replace(profile.apply(part.request), run_id=part.label, results_dir=directory)
            outcome.runs.append(run(request))
        if part.saturation is not None:
            saturation = replace(
                part.saturation,
                run_id=part.label,
                results_dir=directory,
                cpus=profile.cpus or part.saturation.cpus,
                ceiling=profile.ceiling or part.saturation.ceiling,
            )
            outcome.saturations.append(describe(saturate(saturation)))
    outcome.comparisons = compare_views(experiment, directory)
    outcome.report = write_report(directory, experiment.baseline)
    return outcome


def compare_views(experiment: Experiment, directory: Path) -> list[tuple[View, Comparison]]:
    views = experiment.views or (View(experiment.title, (".",), experiment.baseline),)
    comparisons = []
    for view in views:
        paths = [directory / path for path in view.paths if (directory / path).exists()]
        if paths:
            comparisons.append((view, compare_paths(paths, view.baseline)))
    return comparisons


def summary(outcome: ExperimentOutcome) -> str:
    lines = [f"# {outcome.experiment.title}", "", outcome.experiment.question, ""]
    for view, comparison in outcome.comparisons:
        lines += [f"## {view.title}", "", render_markdown(comparison, level=3)]
    lines += [f"- {line}" for line in outcome.saturations]
    if outcome.report is not None:
        lines += ["", f"report: {outcome.report[1]}"]
    return "\n".join(lines)
