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
from urllib.parse import urlsplit

from bench import environment
from bench import manifest as manifests
from bench.case import LOCUST, POSTGRES, SERVICE, build_document, redact
from bench.cpusets import CpuPlan, plan
from bench.database import Database
from bench.errors import BenchError
from bench.load import LoadSettings, LocustProcess, worker_command
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
from bench.target import check_target
from bench.verify import verify

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """What one case loads: a service we started, or a URL running elsewhere."""

    service: str
    variant: str
    url: str
    pids: Callable[[], list[int]]
    info: dict[str, Any]
    database: Database | None


def _local_target(running: RunningService) -> Target:
    return Target(
        service=running.manifest.name,
        variant=running.launch.variant,
        url=running.url,
        pids=lambda: [running.process.pid],
        info={
            "language": running.manifest.language,
            "description": running.manifest.description,
            "command": list(running.launch.argv),
            "env": redact(running.env),
            "workers": running.launch.workers,
            "startup_seconds": running.process.startup_seconds,
            "output": "file (server log beside the results)",
        },
        database=running.database,
    )


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
    external_workers: int = 0
    master_bind: str = "127.0.0.1"
    target: str | None = None
    allow_remote: bool = False
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
    if request.target is not None:
        check_target(request.target, request.allow_remote)
        for scenario in request.scenarios:
            _load_settings(request, scenario).validate()
        return
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
        # External workers rejoin for every Locust run, so there is no separate warm-up run.
        warmup_s=0 if request.external_workers else request.warmup_s,
        processes=request.locust_processes,
        external_workers=request.external_workers,
        master_bind=request.master_bind,
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
    target: Target,
    cpu_plan: CpuPlan,
    scenario: str,
    trial: int,
    path: Path,
    progress: Progress,
) -> dict[str, Any]:
    settings = _load_settings(request, scenario)
    database = target.database
    if database is not None:
        reset_tasks(database.url, request.seed)
    raw = raw_dir(path)
    if settings.warmup_s:
        warm = LocustProcess(settings, target.url, raw / "warmup" / "locust", cpu_plan.generator)
        warm.run(settings.ramp_s + settings.warmup_s)
    if settings.external_workers:
        print(
            f"  waiting for {settings.external_workers} Locust worker(s); on each load machine run:\n"
            f"    {worker_command(settings.master_bind)}",
            file=sys.stderr,
        )
    locust = LocustProcess(settings, target.url, raw / "locust", cpu_plan.generator)
    groups = {
        SERVICE: target.pids,
        LOCUST: lambda: locust.pids,
        POSTGRES: lambda: tree_pids(database.server_pid if database else None),
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
            "service": target.service,
            "variant": target.variant,
            "scenario": scenario,
            "trial": trial,
            "trials": request.repeat,
        },
        environment=environment.collect(),
        service=target.info,
        database={"embedded": database.embedded, **database.info} if database else {"external": True},
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
        _run_cases(request, outcome, _local_target(running), cpu_plan, progress)


def _run_cases(
    request: RunRequest, outcome: RunOutcome, target: Target, cpu_plan: CpuPlan, progress: Progress
) -> None:
    for scenario in request.scenarios:
        for trial in range(1, request.repeat + 1):
            path = case_path(outcome.run_dir, target.service, target.variant, scenario, trial, request.repeat)
            case = CaseOutcome(target.service, target.variant, scenario, trial, INCOMPLETE, path)
            outcome.cases.append(case)
            print(
                f"{case.service} [{case.variant}] {scenario} trial {trial}/{request.repeat}", file=sys.stderr
            )
            try:
                document = _run_case(request, target, cpu_plan, scenario, trial, path, progress)
            except KeyboardInterrupt:
                write_json(path, _interrupted_document(request, case, "interrupted"))
                raise
            except BenchError as exc:
                case.status, case.error = FAILED, str(exc)
                write_json(path, {**_interrupted_document(request, case, str(exc)), "status": FAILED})
                continue
            write_json(path, document)
            case.status, case.document = COMPLETE, document


def _remote_target(request: RunRequest, url: str) -> Target:
    host = urlsplit(url).hostname or "remote"
    return Target(
        service=request.services[0] if request.services else "external",
        variant=request.variants[0] if request.variants != [manifests.DEFAULT_VARIANT] else host,
        url=url,
        pids=list,
        info={"external_url": url, "note": "not started by the harness: no server CPU or memory samples"},
        database=None,
    )


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
        if request.target is not None:
            url = check_target(request.target, request.allow_remote)
            verify(url, url)
            _run_cases(request, outcome, _remote_target(request, url), cpu_plan, progress)
            outcome.status = FAILED if any(c.status != COMPLETE for c in outcome.cases) else COMPLETE
            return outcome
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
