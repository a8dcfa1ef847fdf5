"""The write-up's experiments, and the questions users ask after it, as one command each.

Each experiment is one or more parts; each part is a normal `run` (capacity rounds, open-loop points,
the Locust pass) under results/<experiment>-<time>/<part>/, and the experiment then writes one
comparison per view and one report. Within a part every side is measured once per round in a
shuffled order, so every ratio pairs sides measured under the same drift; a view only picks which
of a part's sides to show against which baseline.
"""

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.analysis.compare import Comparison, compare_paths, judge_together
from bench.analysis.markdown import render_answer
from bench.analysis.report import write_report
from bench.common.errors import BenchError
from bench.common.paths import RESULTS_DIR
from bench.common.sides import Side
from bench.run.runner import RunOutcome, RunRequest, run
from bench.services.manifest import DEFAULT_VARIANT, SERVER_SETTINGS

ALL_SERVICES = ["fastapi-uvicorn", "fastapi-granian", "fastapi-gunicorn", "go-gin"]
# Each stack as shipped, and each Python stack's tuned variant (make bench-ladder), as make bench runs them.
SERVER_SIDES = (
    *(Side(s, "default") for s in ALL_SERVICES),
    *(Side(s, "tuned") for s in ALL_SERVICES if s != "go-gin"),
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
LADDER_SCENARIOS = ["ping", "list", "create"]


@dataclass(frozen=True)
class Part:
    label: str
    request: RunRequest


@dataclass(frozen=True)
class View:
    """One comparison: some of a part's sides (those of `services`, or all) against a chosen baseline."""

    title: str
    part: str
    baseline: str | None
    services: tuple[str, ...] = ()


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
    rounds: int | None = None
    window_s: int | None = None
    looks: int | None = None
    blocks: int | None = None

    def apply(self, request: RunRequest) -> RunRequest:
        changes = {k: v for k, v in vars(self).items() if v is not None}
        return replace(request, **changes)


def _runs(**common: Any) -> RunRequest:
    """An experiment part: 16 rounds of 1-second windows, every side started afresh halfway (two
    process starts per side, so the interval holds the variation between starts), and a short Locust
    pass for the user's view. An experiment's verdicts share one 5% error budget, so a part with many
    comparisons needs more rounds than one judged alone: 16 reach a 1/60 share (fewest: 12). Sides stay
    up between their windows, so one warm-up pass per scenario and block stands in for a warm-up per
    window; parts that start a side for each window (sides_up="alone") warm each one up."""
    defaults: dict[str, Any] = {
        "users": 50, "spawn_rate": 50.0, "duration_s": 5, "warmup_s": 0, "repeat": 1, "rounds": 16,
        "window_s": 1, "window_warmup_s": 0, "blocks": 2, "calibrate": False,
    }  # fmt: skip
    defaults.update(common)
    return RunRequest(**defaults)


POOL_SIZES = (1, 2, 5, 10, 20)
WORKER_COUNTS = (1, 2, 4)
LOGGING_SERVICES = ("fastapi-uvicorn", "fastapi-granian", "go-gin")
# Open-loop rates of the servers comparison: fractions of the slowest side's capacity, the same rate
# for every side; and each default stack's own curve, from well under its capacity to past it.
SERVER_COMMON_RATES = (0.25, 0.5, 0.75)
SERVER_CURVE = (0.25, 0.5, 0.75, 1.0, 1.25)
# Each server's flags (bench.services.manifest) beside its own default.
SETTINGS_SIDES = tuple(Side(s, v) for s, flags in SERVER_SETTINGS.items() for v in (DEFAULT_VARIANT, *flags))
# make bench-orm: raw asyncpg (tuned) against SQLAlchemy's layers, each a variant of the shared app.
ORM_SIDES = tuple(
    Side("fastapi-uvicorn", v) for v in ("tuned", "sqlalchemy-core", "sqlalchemy-orm", "sqlalchemy-session")
)
# make bench-overload: every stack as shipped, and the two variants that shed load instead of queueing.
OVERLOAD_SIDES = (
    Side("fastapi-uvicorn"), Side("fastapi-uvicorn", "limit-concurrency"), Side("fastapi-granian"),
    Side("fastapi-granian", "backpressure"), Side("fastapi-gunicorn"), Side("go-gin"),
)  # fmt: skip
OVERLOAD_CURVE = (0.4, 0.8, 1.0, 1.2, 1.5)
# make bench-serialization: how the page is written, at page sizes 1, 25 and 100 (taskapi/writers.py).
SERIALIZERS = ("serialize", "idiomatic", "revalidate", "orjson-response", "orjson", "msgspec")
PAGE_SIZES = ["list-1", "list", "list-100"]
# make bench-middleware: none, then the same small work as 1 or 3 pure ASGI or @app.middleware("http") layers.
MIDDLEWARES = ("default", "asgi-1", "asgi-3", "http-1", "http-3", "burn-10")
# make bench-sync: `def` endpoints on anyio's thread pool (40 threads, or as many as the pool) against async.
SYNC_SIDES = tuple(Side("fastapi-uvicorn", v) for v in ("default", "sync", "sync-matched"))
OVERLOAD_RECOVERY_S = 4


def _pool_side(size: int) -> Side:
    return Side("fastapi-uvicorn", "pool", pool_max=size)


def _workers_side(count: int) -> Side:
    return Side("fastapi-gunicorn", workers=count)


def _ladder_sides() -> tuple[Side, ...]:
    # granian's tuned rung takes its turn in the same rounds as the uvicorn rungs.
    return (*(Side("fastapi-uvicorn", rung) for rung in LADDER_RUNGS), Side("fastapi-granian", "tuned"))


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
                        sides=tuple(Side(s, v) for s in LOGGING_SERVICES for v in ("default", "access-log")),
                        scenarios=["ping"],
                    ),
                ),
            ),
            tuple(
                View(f"{s}: access log on against off", "logging", "default", (s,)) for s in LOGGING_SERVICES
            ),
        ),
        Experiment(
            "pooling",
            "A connection per request collapses where a pool holds",
            "At the write-up's load (200 connections; Locust's 200 users arriving 20 a second) on "
            "GET /tasks/, "
            "what does opening a connection per request do compared with a pool, and what does the pool's "
            f"size change? (PostgreSQL max_connections={POOLING_MAX_CONNECTIONS}, see the note in the code.) "
            "Each side is started alone for each of its windows, so no side's pool holds connections "
            "another side needs.",
            None,
            (
                Part(
                    "strategies",
                    _runs(
                        sides=tuple(
                            Side(s, v) for s in ("fastapi-uvicorn", "go-gin") for v in ("per-request", "pool")
                        ),
                        scenarios=["list"],
                        users=200,
                        spawn_rate=20.0,
                        duration_s=10,
                        rounds=10,
                        blocks=1,
                        sides_up="alone",
                        window_warmup_s=1,
                        max_connections=POOLING_MAX_CONNECTIONS,
                    ),
                ),
                Part(
                    "pool-size",
                    _runs(
                        sides=tuple(map(_pool_side, POOL_SIZES)),
                        scenarios=["list"],
                        users=200,
                        spawn_rate=20.0,
                        duration_s=10,
                        rounds=10,
                        blocks=1,
                        sides_up="alone",
                        window_warmup_s=1,
                        max_connections=POOLING_MAX_CONNECTIONS,
                    ),
                ),
            ),
            (
                *(
                    View(f"{s}: a connection per request against a pool", "strategies", "pool", (s,))
                    for s in ("fastapi-uvicorn", "go-gin")
                ),
                View("fastapi-uvicorn: pool size", "pool-size", _pool_side(10).name),
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
                        sides=(Side("fastapi-uvicorn", "pool"), Side("fastapi-uvicorn", "asyncpg")),
                        scenarios=["list", "create"],
                    ),
                ),
            ),
            (View("fastapi-uvicorn: asyncpg pool against psycopg pool", "drivers", "pool"),),
        ),
        Experiment(
            "workers",
            "gunicorn workers: throughput against memory",
            "How does FastAPI under gunicorn scale with worker processes, and what does each cost in memory?",
            None,
            (
                Part(
                    "workers",
                    _runs(sides=tuple(map(_workers_side, WORKER_COUNTS)), scenarios=["ping", "list"]),
                ),
            ),
            (View("fastapi-gunicorn: 1, 2 and 4 workers", "workers", _workers_side(1).name),),
        ),
        Experiment(
            "servers",
            "Four stacks, one contract: capacity, latency at the same load, and each one's knee",
            "How do the four services compare on ping, list and mixed, as shipped and tuned; what latency "
            "does each give at the same offered load; where does each one's p99 leave its floor; and what "
            "do the server flags people use (gunicorn's ASGI worker, uvicorn --workers, granian's workers "
            "and runtime threads) change? The server has one core here, so a second process or thread "
            "shares it: that measures what the extra process costs, not what a second core would give. "
            "Each tuned side is judged against its own server as shipped, each server against uvicorn, "
            "and gin is the ceiling.",
            None,
            (
                Part(
                    "servers",
                    _runs(
                        sides=SERVER_SIDES,
                        scenarios=["ping", "list", "mixed"],
                        open_loop=SERVER_COMMON_RATES,
                        curve=SERVER_CURVE,
                        curve_scenarios=("ping", "list"),
                    ),
                ),
                Part(
                    "settings",
                    _runs(
                        sides=SETTINGS_SIDES,
                        scenarios=["ping", "list"],
                    ),
                ),
            ),
            (
                View("the four services, as shipped and tuned", "servers", None),
                *(
                    View(f"{s}: {', '.join(flags)} against its default", "settings", DEFAULT_VARIANT, (s,))
                    for s, flags in SERVER_SETTINGS.items()
                ),
            ),
        ),
        Experiment(
            "serialization",
            "How the response is written: FastAPI's own path against hand-made JSON, by page size",
            "Returning the rows and letting FastAPI validate and serialise them (idiomatic), dumping them "
            "once with a TypeAdapter into a Response (serialize, today's default), a model per row "
            "(revalidate), ORJSONResponse, orjson or msgspec into a Response: what does each cost on "
            "GET /tasks/ at 1, 25 and 100 tasks a page (176, 3,416 and 13,619 bytes)?",
            "fastapi-uvicorn/serialize",
            (
                Part(
                    "serialization",
                    _runs(sides=tuple(Side("fastapi-uvicorn", v) for v in SERIALIZERS), scenarios=PAGE_SIZES),
                ),
            ),
            (
                View(
                    "each writer against a TypeAdapter into a Response",
                    "serialization",
                    "fastapi-uvicorn/serialize",
                ),
            ),
        ),
        Experiment(
            "middleware",
            "What middleware costs: pure ASGI against @app.middleware",
            "One and three middlewares doing the same small work (a request id, a Server-Timing header, a "
            "counter), as pure ASGI classes or as @app.middleware('http') functions (Starlette's "
            "BaseHTTPMiddleware): what does each layout cost on ping and list?",
            "fastapi-uvicorn/default",
            (
                Part(
                    "middleware",
                    _runs(
                        sides=tuple(Side("fastapi-uvicorn", v) for v in MIDDLEWARES),
                        scenarios=["ping", "list"],
                    ),
                ),
            ),
            (View("each middleware layout against none", "middleware", "fastapi-uvicorn/default"),),
        ),
        Experiment(
            "sync",
            "`def` endpoints on the thread pool against `async def`",
            "The FastAPI template's `def` routes over psycopg's synchronous pool, on anyio's thread pool "
            "at its default 40 threads and at the pool's size, against today's async default: what do "
            "they cost on list and create, at 50 and at 200 connections?",
            "fastapi-uvicorn/default",
            tuple(
                Part(
                    f"users-{users}",
                    _runs(
                        sides=SYNC_SIDES, scenarios=["list", "create"], users=users, spawn_rate=float(users)
                    ),
                )
                for users in (50, 200)
            ),
            tuple(
                View(f"at {users} connections", f"users-{users}", "fastapi-uvicorn/default")
                for users in (50, 200)
            ),
        ),
        Experiment(
            "orm",
            "What your data layer costs: SQLAlchemy against raw asyncpg",
            "Reading a page and writing a task through SQLAlchemy 2 Core on its async engine, the ORM with "
            "an AsyncSession per request, and the FastAPI template's sync Session under def routes: what "
            "does each cost against raw asyncpg (tuned), at the same one round trip per request?",
            "fastapi-uvicorn/tuned",
            (Part("orm", _runs(sides=ORM_SIDES, scenarios=["list", "create"])),),
            (View("each data layer against raw asyncpg", "orm", "fastapi-uvicorn/tuned"),),
        ),
        Experiment(
            "overload",
            "Past capacity: which stacks shed load and which queue",
            "Sent open-loop at 80, 100, 120 and 150% of its own capacity on GET /tasks/ (after 40%, its "
            "normal), what does each stack serve, what errors come back, how slow are the answers that "
            "succeed, and how long after the overload does it answer at its normal latency again?",
            None,
            (
                Part(
                    "overload",
                    _runs(
                        sides=OVERLOAD_SIDES,
                        scenarios=["list"],
                        rounds=10,
                        repeat=0,
                        curve=OVERLOAD_CURVE,
                        curve_scenarios=("list",),
                        open_loop_s=3,
                        recovery_s=OVERLOAD_RECOVERY_S,
                    ),
                ),
            ),
            (View("each stack past its capacity", "overload", None),),
        ),
        Experiment(
            "ladder",
            "What each FastAPI habit costs, one change at a time",
            "From the write-up's code (dependencies in the thread pool, a pool check on every checkout, "
            "the response validated twice) to the leanest FastAPI app for the same contract: what does "
            "each change buy on ping, list and create? Every rung is a recorded variant.",
            "fastapi-uvicorn/writeup",
            (
                Part(
                    "ladder",
                    _runs(sides=_ladder_sides(), scenarios=LADDER_SCENARIOS, duration_s=4),
                ),
            ),
            (View("each rung against the write-up's habits", "ladder", "fastapi-uvicorn/writeup"),),
        ),
    )
}


@dataclass
class ExperimentOutcome:
    experiment: Experiment
    directory: Path
    runs: list[RunOutcome] = field(default_factory=list)
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
        views = tuple((v.baseline, v.services) for v in _views(experiment) if v.part == part.label)
        request = replace(
            profile.apply(part.request),
            run_id=part.label,
            results_dir=directory,
            views=views or ((None, ()),),
        )
        outcome.runs.append(run(request))
    outcome.comparisons = compare_views(experiment, directory)
    outcome.report = write_report(directory, experiment.baseline)
    return outcome


def _views(experiment: Experiment) -> tuple[View, ...]:
    return experiment.views or tuple(
        View(experiment.title, p.label, experiment.baseline) for p in experiment.parts
    )


def compare_views(experiment: Experiment, directory: Path) -> list[tuple[View, Comparison]]:
    """Every view of the experiment, judged together: the experiment's verdicts share one 5% budget."""
    comparisons = []
    for view in _views(experiment):
        path = directory / view.part
        if path.exists():
            only = set(view.services) or None
            comparisons.append((view, compare_paths([path], view.baseline, services=only, alone=False)))
    judge_together([comparison for _, comparison in comparisons])
    return comparisons


def summary(outcome: ExperimentOutcome) -> str:
    lines = [f"# {outcome.experiment.title}", "", outcome.experiment.question]
    for view, comparison in outcome.comparisons:
        lines += ["", f"## {view.title}", *render_answer(comparison, level=3)]
    if outcome.report is not None:
        lines += ["", f"report: {outcome.report[1]}"]
    return "\n".join(lines)
