"""`run`: the pipeline from database to result files, one case at a time.

database -> migrate -> seed -> start service -> ready -> verify -> (per scenario and trial:
reset table -> warm-up -> measured Locust run with sampling -> result) -> stop.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import environment
from bench import manifest as manifests
from bench.case import LOCUST, POSTGRES, SERVICE, build_document, redact
from bench.cpusets import CpuPlan, plan
from bench.database import Database
from bench.errors import BenchError
from bench.load import LoadSettings, LocustProcess
from bench.locust_output import parse_locust_output, steady_rps
from bench.paths import RESULTS_DIR
from bench.pinning import pin_tree, tree_pids
from bench.results import (
    COMPLETE,
    FAILED,
    INCOMPLETE,
    SCHEMA_VERSION,
    case_path,
    new_run_id,
    raw_dir,
    write_json,
)
from bench.sampling import Sampler
from bench.seed import reset_tasks
from bench.stack import RunningService, StackOptions, prepared_database, start_service
from bench.verify import verify

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunRequest:
    services: list[str]
    scenarios: list[str]
    variants: list[str] = field(default_factory=lambda: [manifests.DEFAULT_VARIANT])
    users: int = 50
    spawn_rate: float = 25.0
    duration_s: int = 20
    warmup_s: int = 5
    repeat: int = 1
    workers: int | None = None
    pool_max: int | None = None
    max_connections: int = 100
    seed: int = 1000
    cpus: str = "auto"
    locust_processes: int = 1
    run_id: str | None = None
    results_dir: Path = RESULTS_DIR
    progress: bool = True


@dataclass
class CaseOutcome:
    service: str
    variant: str
    scenario: str
    trial: int
    status: str
    path: Path | None = None
    document: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class RunOutcome:
    run_id: str
    run_dir: Path
    cases: list[CaseOutcome] = field(default_factory=list)
    status: str = COMPLETE


def _validate(request: RunRequest) -> None:
    """Every name checked before anything starts, so a typo never costs a database start."""
    if request.repeat < 1:
        raise BenchError("--repeat must be at least 1")
    for name in request.services:
        for variant in request.variants:
            manifests.launch(manifests.find(name), variant, "127.0.0.1", 0, request.workers, 1)
    for scenario in request.scenarios:
        _load_settings(request, scenario).validate()


def _load_settings(request: RunRequest, scenario: str) -> LoadSettings:
    return LoadSettings(
        scenario=scenario,
        users=request.users,
        spawn_rate=request.spawn_rate,
        duration_s=request.duration_s,
        warmup_s=request.warmup_s,
        processes=request.locust_processes,
    )


def _printer(enabled: bool) -> Progress:
    interactive = sys.stderr.isatty()
    last = [0.0]

    def show(line: str) -> None:
        if not enabled:
            return
        if interactive:
            print(f"\r  {line}", end="", file=sys.stderr, flush=True)
        elif time.monotonic() - last[0] >= 5:
            print(f"  {line}", file=sys.stderr, flush=True)
            last[0] = time.monotonic()

    return show


def _run_case(
    request: RunRequest,
    running: RunningService,
    database: Database,
    cpu_plan: CpuPlan,
    scenario: str,
    trial: int,
    path: Path,
    progress: Progress,
) -> dict[str, Any]:
    settings = _load_settings(request, scenario)
    reset_tasks(database.url, request.seed)
    raw = raw_dir(path)
    if settings.warmup_s:
        warm = LocustProcess(settings, running.url, raw / "warmup" / "locust", cpu_plan.generator)
        warm.run(settings.ramp_s + settings.warmup_s)
    locust = LocustProcess(settings, running.url, raw / "locust", cpu_plan.generator)
    groups = {
        SERVICE: lambda: [running.process.pid],
        LOCUST: lambda: locust.pids,
        POSTGRES: lambda: tree_pids(database.server_pid),
    }
    with Sampler(groups) as sampler:
        locust_run = locust.run(settings.ramp_s + settings.duration_s, progress)
    if sys.stderr.isatty() and request.progress:
        print(file=sys.stderr)
    summary = parse_locust_output(locust_run.prefix, locust_run.log_text)
    window = sampler.window(summary.started_at, summary.ended_at)
    rps, window_s = steady_rps(summary.series, skip_seconds=0)
    return build_document(
        identity={
            "run_id": path.parents[2].name,
            "service": running.manifest.name,
            "variant": running.launch.variant,
            "scenario": scenario,
            "trial": trial,
            "trials": request.repeat,
        },
        environment=environment.collect(),
        service={
            "language": running.manifest.language,
            "description": running.manifest.description,
            "command": list(running.launch.argv),
            "env": redact(running.env),
            "workers": running.launch.workers,
            "startup_seconds": running.process.startup_seconds,
            "output": "file (server log beside the results)",
        },
        database={"embedded": database.embedded, **database.info},
        cpu_plan=cpu_plan,
        load=settings,
        locust_run=locust_run,
        summary=summary,
        samples=window,
        steady_rps=rps,
        window_s=window_s,
    )


def _interrupted_document(request: RunRequest, case: CaseOutcome, reason: str) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "status": INCOMPLETE,
        "reason": reason,
        "service": case.service,
        "variant": case.variant,
        "scenario": case.scenario,
        "trial": case.trial,
        "trials": request.repeat,
    }


def _run_service(
    request: RunRequest,
    outcome: RunOutcome,
    database: Database,
    cpu_plan: CpuPlan,
    service: str,
    variant: str,
    progress: Progress,
) -> None:
    options = StackOptions(
        service=service,
        variant=variant,
        workers=request.workers,
        pool_max=request.pool_max,
        max_connections=request.max_connections,
        seed=request.seed,
        cpus=cpu_plan.server,
    )
    with start_service(options, database, outcome.run_dir / "logs") as running:
        verify(running.url, running.manifest.name)
        for scenario in request.scenarios:
            for trial in range(1, request.repeat + 1):
                path = case_path(
                    outcome.run_dir,
                    running.manifest.name,
                    running.launch.variant,
                    scenario,
                    trial,
                    request.repeat,
                )
                case = CaseOutcome(
                    running.manifest.name, running.launch.variant, scenario, trial, INCOMPLETE, path
                )
                outcome.cases.append(case)
                print(
                    f"{case.service} [{case.variant}] {scenario} trial {trial}/{request.repeat}",
                    file=sys.stderr,
                )
                try:
                    document = _run_case(
                        request, running, database, cpu_plan, scenario, trial, path, progress
                    )
                except KeyboardInterrupt:
                    write_json(path, _interrupted_document(request, case, "interrupted"))
                    raise
                except BenchError as exc:
                    case.status, case.error = FAILED, str(exc)
                    write_json(path, {**_interrupted_document(request, case, str(exc)), "status": FAILED})
                    continue
                write_json(path, document)
                case.status, case.document = COMPLETE, document


def _run_record(request: RunRequest, outcome: RunOutcome, cpu_plan: CpuPlan) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": outcome.run_id,
        "status": outcome.status,
        "request": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(request).items()},
        "cpu_sets": cpu_plan.as_record(),
        "cases": [
            {
                "service": c.service, "variant": c.variant, "scenario": c.scenario, "trial": c.trial,
                "status": c.status, "error": c.error,
                "path": str(c.path.relative_to(outcome.run_dir)) if c.path else None,
            }
            for c in outcome.cases
        ],
    }  # fmt: skip


def run(request: RunRequest) -> RunOutcome:
    _validate(request)
    cpu_plan = plan(request.cpus)
    run_id = request.run_id or new_run_id()
    outcome = RunOutcome(run_id=run_id, run_dir=request.results_dir / run_id, status=INCOMPLETE)
    progress = _printer(request.progress)
    write_json(outcome.run_dir / "run.json", _run_record(request, outcome, cpu_plan))
    try:
        with prepared_database(request.max_connections, request.seed) as database:
            if database.server_pid is not None:
                pin_tree(database.server_pid, cpu_plan.server)
            for service in request.services:
                for variant in request.variants:
                    try:
                        _run_service(request, outcome, database, cpu_plan, service, variant, progress)
                    except BenchError as exc:
                        # One broken stack (say, no Go toolchain) fails alone; the others still run.
                        print(f"fastapi-load: error: {exc}", file=sys.stderr)
                        outcome.cases.append(CaseOutcome(service, variant, "*", 0, FAILED, error=str(exc)))
        failed = any(c.status != COMPLETE for c in outcome.cases)
        outcome.status = FAILED if failed else COMPLETE
    finally:
        write_json(outcome.run_dir / "run.json", _run_record(request, outcome, cpu_plan))
    return outcome
