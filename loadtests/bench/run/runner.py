"""`run`: the pipeline from database to result files, one case at a time.

database -> migrate -> seed -> generator calibration -> (per trial round, per side in rotation:
start service -> ready -> verify -> (per scenario: reset table -> warm-up -> measured Locust run with
sampling -> wrk ceiling -> result) -> stop).

Trials run in rotation (A1 B1 A2 B2 ...; or each round in a seeded shuffle), every side started afresh
for its trial and warmed up the same way, so a burst of noise on this shared machine lands on one
trial of every side rather than on every trial of one side. A side may carry its own workers and pool
size (bench.run.sides), so sides that differ only in a setting rotate too.
"""

import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common.errors import BenchError
from bench.common.paths import RESULTS_DIR
from bench.database.seed import reset_tasks
from bench.database.server import Database
from bench.load.calibration import calibrate, skipped
from bench.load.ceiling import (
    DEFAULT_MODE,
    DEFAULT_SECONDS,
    Wrk,
    WrkSettings,
    ceiling_document,
    resolve,
    run_wrk,
)
from bench.load.cpusets import CpuPlan, plan
from bench.load.locust import LoadSettings, LocustProcess, worker_command
from bench.load.locust_output import parse_locust_output, steady_rps
from bench.load.pinning import pin_tree, tree_pids
from bench.load.sampling import Sampler
from bench.load.scenarios import SCENARIOS
from bench.run import environment
from bench.run.case import LOCUST, POSTGRES, SERVICE, build_document, ceiling_reason, redact
from bench.run.results import (
    COMPLETE,
    FAILED,
    INCOMPLETE,
    RAW_DIR,
    SCHEMA_VERSION,
    case_path,
    new_run_id,
    raw_dir,
    write_json,
)
from bench.run.sides import SideSpec, parse_spec
from bench.services import manifest as manifests
from bench.services.stack import RunningService, StackOptions, prepared_database, start_service
from bench.services.target import check_target
from bench.services.verify import verify

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """What one case loads: a service we started, or a URL running elsewhere."""

    service: str
    variant: str
    side: SideSpec
    url: str
    pids: Callable[[], list[int]]
    info: dict[str, Any]
    database: Database | None


def _local_target(running: RunningService, side: SideSpec) -> Target:
    return Target(
        service=running.manifest.name,
        variant=running.launch.variant,
        side=side,
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
    # Explicit (service, side) pairs, the side VARIANT[@workers=N][@pool-max=N] (bench.run.sides);
    # empty: every service with every variant.
    sides: tuple[tuple[str, str], ...] = ()
    ceiling: str = DEFAULT_MODE  # off, auto (when wrk is on PATH) or on (wrk required)
    ceiling_s: int = DEFAULT_SECONDS
    calibrate: bool = True
    calibration_s: int = 5
    order_seed: int | None = None  # None: plain rotation; a number: each round shuffled with it

    def side_list(self) -> list[tuple[str, str]]:
        if self.sides:
            return [tuple(side) for side in self.sides]  # type: ignore[misc]  # a JSON round trip makes lists
        return [(service, variant) for service in self.services for variant in self.variants]


def trial_order(request: RunRequest) -> list[tuple[int, list[tuple[str, str]]]]:
    """(trial, sides in the order they run) per round: the same side list every round, or that list
    shuffled by a seeded generator, so the order is reproducible and recorded."""
    sides = request.side_list()
    shuffler = random.Random(request.order_seed) if request.order_seed is not None else None
    rounds = []
    for trial in range(1, request.repeat + 1):
        order = list(sides)
        if shuffler is not None:
            shuffler.shuffle(order)
        rounds.append((trial, order))
    return rounds


@dataclass
class CaseOutcome:
    service: str
    variant: str  # the side's name: the variant with the settings it sets (its result directory)
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
    calibration: dict[str, Any] | None = None


def _validate(request: RunRequest) -> None:
    """Every name checked before anything starts, so a typo never costs a database start."""
    if request.repeat < 1:
        raise BenchError("--repeat must be at least 1")
    if request.ceiling_s < 1 or request.calibration_s < 1:
        raise BenchError("ceiling and calibration seconds must be at least 1")
    if request.target is not None:
        check_target(request.target, request.allow_remote)
        for scenario in request.scenarios:
            _load_settings(request, scenario).validate()
        return
    sides = request.side_list()
    if not sides:
        raise BenchError("no service to run")
    named = []
    for name, text in sides:
        spec = parse_spec(text)
        manifests.launch(manifests.find(name), spec.variant, "127.0.0.1", 0, _workers(request, spec), 1)
        named.append((manifests.find(name).name, spec.name))
    if len(set(named)) != len(named):
        raise BenchError("a side is given twice; each service:variant (with its settings) may appear once")
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


def _ceiling(
    request: RunRequest,
    wrk: Wrk,
    target: Target,
    cpu_plan: CpuPlan,
    scenario: str,
    raw: Path,
    locust_rps: float,
) -> dict[str, Any]:
    """wrk on the same scenario at Locust's user count; a wrk failure is recorded, the case stands."""
    settings = WrkSettings(scenario, request.users, request.ceiling_s)
    try:
        result, sampler = run_wrk(wrk, settings, target.url, raw / "wrk.out", cpu_plan.generator,
                                  {SERVICE: target.pids})  # fmt: skip
    except BenchError as exc:
        print(f"  ceiling failed: {exc}", file=sys.stderr)
        return {"generator": wrk.generator, "error": str(exc)}
    document = ceiling_document(wrk, settings, result, locust_rps)
    if len(sampler.samples) >= 2 and result.summary["requests"]:
        spent = sampler.samples[-1].cpu_seconds[SERVICE] - sampler.samples[0].cpu_seconds[SERVICE]
        document["service_cpu_ms_per_request"] = round(1000 * max(spent, 0.0) / result.summary["requests"], 4)
    share = document["locust_share"]
    print(
        f"  ceiling: wrk {document['rps']:,.0f} req/s, {document['errors']:,} errors"
        + (f"; Locust reached {share:.0%} of it" if share is not None else "")
        + ("; wrk itself was the limit" if document["bound"] else ""),
        file=sys.stderr,
    )
    return document


def _run_case(
    request: RunRequest,
    target: Target,
    cpu_plan: CpuPlan,
    scenario: str,
    trial: int,
    path: Path,
    progress: Progress,
    wrk: Wrk | None,
    calibration: dict[str, Any] | None,
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
    document = build_document(
        identity={
            "run_id": path.parents[2].name,
            "service": target.service,
            "variant": target.variant,
            "side": f"{target.service}:{target.side.name}",
            "side_settings": target.side.settings,
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
        calibration=calibration,
    )
    document["ceiling"] = None  # no ceiling asked for, or wrk not installed (run.json says which)
    if wrk is not None:
        document["ceiling"] = _ceiling(request, wrk, target, cpu_plan, scenario, raw, rps)
        reason = ceiling_reason(document["ceiling"])
        if reason is not None:
            document["generator_bound"] = True
            document["generator_bound_reasons"].append(reason)
        if database is not None and SCENARIOS[scenario].writes:
            reset_tasks(database.url, request.seed)  # wrk's writes never reach the next case
    return document


def _interrupted_document(request: RunRequest, case: CaseOutcome, reason: str) -> dict[str, Any]:
    side = parse_spec(case.variant)
    return {
        "schema_version": SCHEMA_VERSION,
        "status": INCOMPLETE,
        "reason": reason,
        "service": case.service,
        "variant": side.variant,
        "side": f"{case.service}:{side.name}",
        "side_settings": side.settings,
        "scenario": case.scenario,
        "trial": case.trial,
        "trials": request.repeat,
    }


@dataclass(frozen=True)
class _Shared:
    """What every case of the run shares."""

    request: RunRequest
    outcome: RunOutcome
    cpu_plan: CpuPlan
    progress: Progress
    wrk: Wrk | None


def _workers(request: RunRequest, side: SideSpec) -> int | None:
    return side.workers if side.workers is not None else request.workers


def _stack_options(shared: _Shared, service: str, side: SideSpec) -> StackOptions:
    request = shared.request
    return StackOptions(
        service=service,
        variant=side.variant,
        workers=_workers(request, side),
        pool_max=side.pool_max if side.pool_max is not None else request.pool_max,
        max_connections=request.max_connections,
        seed=request.seed,
        cpus=shared.cpu_plan.server,
        name=side.name,
    )


def _run_service(shared: _Shared, database: Database, service: str, side: SideSpec, trial: int) -> None:
    options = _stack_options(shared, service, side)
    with start_service(options, database, shared.outcome.run_dir / "logs") as running:
        verify(running.url, running.manifest.name)
        _run_cases(shared, _local_target(running, side), trial)


def _run_cases(shared: _Shared, target: Target, trial: int) -> None:
    request, outcome = shared.request, shared.outcome
    for scenario in request.scenarios:
        path = case_path(outcome.run_dir, target.service, target.side.name, scenario, trial, request.repeat)
        case = CaseOutcome(target.service, target.side.name, scenario, trial, INCOMPLETE, path)
        outcome.cases.append(case)
        print(f"{case.service} [{case.variant}] {scenario} trial {trial}/{request.repeat}", file=sys.stderr)
        try:
            document = _run_case(
                request, target, shared.cpu_plan, scenario, trial, path, shared.progress, shared.wrk,
                outcome.calibration,
            )  # fmt: skip
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
    variant = request.variants[0] if request.variants != [manifests.DEFAULT_VARIANT] else host
    return Target(
        service=request.services[0] if request.services else "external",
        variant=variant,
        side=SideSpec(variant),
        url=url,
        pids=list,
        info={"external_url": url, "note": "not started by the harness: no server CPU or memory samples"},
        database=None,
    )


def _side_label(request: RunRequest, service: str, text: str) -> str:
    # As results name the side (an alias resolved), so comparisons can keep the run's order.
    name = service if request.target is not None else manifests.find(service).name
    return f"{name}:{parse_spec(text).name}"


def _order_record(request: RunRequest) -> dict[str, Any]:
    return {
        "mode": "rotation" if request.order_seed is None else "seeded shuffle",
        "seed": request.order_seed,
        "rounds": [[_side_label(request, s, v) for s, v in sides] for _, sides in trial_order(request)],
    }


def _run_record(
    request: RunRequest, outcome: RunOutcome, cpu_plan: CpuPlan, wrk: Wrk | None
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": outcome.run_id,
        "status": outcome.status,
        "request": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(request).items()},
        "cpu_sets": cpu_plan.as_record(),
        "order": _order_record(request),
        "ceiling_generator": wrk.generator if wrk is not None else None,
        "calibration": outcome.calibration,
        "cases": [
            {
                "service": c.service, "variant": c.variant, "scenario": c.scenario, "trial": c.trial,
                "status": c.status, "error": c.error,
                "path": str(c.path.relative_to(outcome.run_dir)) if c.path else None,
            }
            for c in outcome.cases
        ],
    }  # fmt: skip


def _calibration_side(request: RunRequest) -> tuple[str, str]:
    """The fastest server of the run: go-gin when it is one of the sides (its /ping/ is far beyond what
    Locust can send), else the first side (every side's /ping/ is its cheapest endpoint)."""
    sides = request.side_list()
    return next((side for side in sides if manifests.find(side[0]).name == "go-gin"), sides[0])


def _calibrate_local(shared: _Shared, database: Database) -> dict[str, Any]:
    request = shared.request
    if request.external_workers:
        return skipped("Locust workers run elsewhere: this machine's one process says nothing about them")
    service, text = _calibration_side(request)
    options = _stack_options(shared, service, parse_spec(text))
    with start_service(options, database, shared.outcome.run_dir / "logs") as running:
        verify(running.url, running.manifest.name)
        return calibrate(
            _load_settings(request, "ping"), request.calibration_s, running.url,
            lambda: [running.process.pid], shared.cpu_plan, shared.outcome.run_dir / RAW_DIR / "calibration",
            shared.wrk, f"{running.manifest.name}:{running.launch.variant}",
        )  # fmt: skip


def run(request: RunRequest) -> RunOutcome:
    wrk = resolve(request.ceiling)  # `on` without wrk stops here, before anything starts
    _validate(request)
    cpu_plan = plan(request.cpus)
    run_id = request.run_id or new_run_id()
    outcome = RunOutcome(run_id=run_id, run_dir=request.results_dir / run_id, status=INCOMPLETE)
    shared = _Shared(request, outcome, cpu_plan, _printer(request.progress), wrk)
    write_json(outcome.run_dir / "run.json", _run_record(request, outcome, cpu_plan, wrk))
    try:
        if request.target is not None:
            url = check_target(request.target, request.allow_remote)
            verify(url, url)
            target = _remote_target(request, url)
            if request.calibrate:
                outcome.calibration = calibrate(
                    _load_settings(request, "ping"), request.calibration_s, url, list, cpu_plan,
                    outcome.run_dir / RAW_DIR / "calibration", wrk, f"{target.service} at {url}",
                )  # fmt: skip
            for trial in range(1, request.repeat + 1):
                _run_cases(shared, target, trial)
            outcome.status = FAILED if any(c.status != COMPLETE for c in outcome.cases) else COMPLETE
            return outcome
        with prepared_database(request.max_connections, request.seed) as database:
            if database.server_pid is not None:
                pin_tree(database.server_pid, cpu_plan.server)
            if request.calibrate:
                try:
                    outcome.calibration = _calibrate_local(shared, database)
                except BenchError as exc:
                    print(f"fastapi-load: calibration failed: {exc}", file=sys.stderr)
                    outcome.calibration = skipped(f"failed: {exc}")
            for trial, sides in trial_order(request):
                for service, text in sides:
                    side = parse_spec(text)
                    try:
                        _run_service(shared, database, service, side, trial)
                    except BenchError as exc:
                        # One broken stack (say, no Go toolchain) fails alone; the others still run.
                        print(f"fastapi-load: error: {exc}", file=sys.stderr)
                        outcome.cases.append(
                            CaseOutcome(service, side.name, "*", trial, FAILED, error=str(exc))
                        )
        failed = any(c.status != COMPLETE for c in outcome.cases)
        outcome.status = FAILED if failed else COMPLETE
    finally:
        write_json(outcome.run_dir / "run.json", _run_record(request, outcome, cpu_plan, wrk))
    return outcome
