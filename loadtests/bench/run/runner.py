"""`run`: the pipeline from database to result files, the one every comparison and experiment uses.

database -> migrate -> seed -> start the sides -> verify each against the contract ->
  capacity rounds (wrk, bench.run.rounds) -> open-loop latency (vegeta, bench.run.openloop) ->
  the Locust pass (the user's view: the shared suite's flows, ramp and users, one case per side and
  scenario) -> stop everything -> run.json.

Sides stay up together for the whole run, each on its own port with its share of PostgreSQL's
connections, so a round costs only its windows; a run whose sides would fight over connections
(the pooling experiment's) starts each side for each window instead (`sides_up="alone"`). Which one a
run used is recorded in rounds.json.
"""

import contextlib
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.analysis.compare import all_decided
from bench.common.errors import BenchError
from bench.common.paths import RESULTS_DIR
from bench.common.results import (
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
from bench.common.schema import OpenLoop, Rounds, SidesUp, parse_case
from bench.common.sides import Side
from bench.database.seed import reset_tasks
from bench.database.server import Database
from bench.load.calibration import calibrate, skipped
from bench.load.cpusets import CpuPlan, plan
from bench.load.locust import LoadSettings, LocustProcess, worker_command
from bench.load.locust_output import parse_locust_output, steady_rps
from bench.load.pinning import pin_tree, tree_pids
from bench.load.sampling import Sampler
from bench.load.scenarios import SCENARIOS
from bench.load.vegeta import require_vegeta
from bench.load.wrk import INSTALL_HINT as WRK_HINT
from bench.load.wrk import Wrk, find_wrk
from bench.run import environment, openloop, rounds
from bench.run.case import build_document, redact
from bench.run.openloop import OpenLoopPlan
from bench.run.rounds import RoundsPlan
from bench.run.target import LOCUST, POSTGRES, SERVICE, Target
from bench.services import manifest as manifests
from bench.services.stack import RunningService, StackOptions, prepared_database, start_service
from bench.services.target import check_target
from bench.services.verify import verify

Progress = Callable[[str], None]
Acquire = Callable[[Side], contextlib.AbstractContextManager[Target]]


@dataclass(frozen=True)
class RunRequest:
    # Either explicit sides, or every service with every variant (the CLI resolves both to sides).
    services: list[str] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=lambda: ["ping"])
    variants: list[str] = field(default_factory=lambda: [manifests.DEFAULT_VARIANT])
    sides: tuple[Side, ...] = ()
    # The Locust pass (the user's view): `repeat` trials of every side and scenario; 0 skips it.
    users: int = 50
    spawn_rate: float = 25.0
    duration_s: int = 20
    warmup_s: int = 5
    repeat: int = 1
    # Capacity rounds (wrk): 0 skips them (then no capacity, ratio or open-loop point).
    rounds: int = 0
    window_s: int = 2
    window_warmup_s: int = 1
    connections: int | None = None  # wrk's connections; None: the Locust user count
    sides_up: SidesUp = "together"
    looks: int = 1  # adaptive rounds: stop at the first of this many looks where every verdict is decided
    blocks: int = 1  # sides started afresh for each block of rounds (process-start variance)
    # The comparisons the verdicts are about, for adaptive rounds: (baseline, services) per view; the
    # baseline as `compare --baseline` takes it (None: each side against its own default).
    views: tuple[tuple[str | None, tuple[str, ...]], ...] = ((None, ()),)
    # Open-loop latency (vegeta): common fractions of the slowest side's capacity, and each side's
    # own curve (fractions of its own capacity) on `curve_scenarios`.
    open_loop: tuple[float, ...] = ()
    curve: tuple[float, ...] = ()
    curve_scenarios: tuple[str, ...] = ()
    open_loop_s: int = 2
    open_loop_repeats: int = 3  # each common rate measured this many times per side, for p99's interval
    recovery_s: int = 0  # after each side's curve, seconds of light load timing its recovery
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
    calibrate: bool = True
    calibration_s: int = 5
    order_seed: int | None = None  # None: a fresh seed, recorded; the same seed gives the same orders

    def side_list(self) -> list[Side]:
        if self.sides:
            return list(self.sides)
        return [Side(service, variant) for service in self.services for variant in self.variants]

    def rounds_plan(self, seed: int) -> RoundsPlan:
        return RoundsPlan(
            self.rounds, self.window_s, self.window_warmup_s, self.connections or self.users, seed,
            self.sides_up, self.looks, self.blocks,
        )  # fmt: skip

    def open_loop_plan(self, seed: int) -> OpenLoopPlan:
        return OpenLoopPlan(
            self.open_loop, self.curve, self.curve_scenarios, self.open_loop_s, seed, self.recovery_s,
            repeats=self.open_loop_repeats,
        )  # fmt: skip


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
    rounds: Rounds | None = None
    open_loop: OpenLoop | None = None
    database: dict[str, Any] | None = None  # the PostgreSQL the run used: version, settings


@dataclass(frozen=True)
class _Shared:
    """What every stage of the run shares."""

    request: RunRequest
    outcome: RunOutcome
    cpu_plan: CpuPlan
    progress: Progress
    seed: int
    sharing: int  # sides up at once, sharing PostgreSQL's connections


def _workers(request: RunRequest, side: Side) -> int | None:
    return side.workers if side.workers is not None else request.workers


def _validate(request: RunRequest) -> list[Side]:
    """Every name checked before anything starts, so a typo never costs a database start; returns
    the sides with their services' names resolved (an alias given on the command line)."""
    if request.repeat < 0 or request.rounds < 0:
        raise BenchError("--repeat and --rounds must be 0 or more")
    if request.repeat == 0 and request.rounds == 0:
        raise BenchError("nothing to measure: give --rounds, --repeat (the Locust pass) or both")
    if request.calibration_s < 1:
        raise BenchError("calibration seconds must be at least 1")
    if (request.open_loop or request.curve) and not request.rounds:
        raise BenchError("open-loop rates are fractions of the capacity the rounds measure: give --rounds")
    request.rounds_plan(0).validate()
    request.open_loop_plan(0).validate(request.scenarios)
    for scenario in (*request.scenarios, *request.curve_scenarios):
        _load_settings(request, scenario).validate()
    if request.target is not None:
        check_target(request.target, request.allow_remote)
        return [Side(request.services[0] if request.services else "external", request.variants[0])]
    sides = request.side_list()
    if not sides:
        raise BenchError("no service to run")
    resolved = []
    for side in sides:
        manifest = manifests.find(side.service)
        manifests.launch(manifest, side.variant, "127.0.0.1", 0, _workers(request, side), 1)
        resolved.append(side.with_service(manifest.name))
    if len(set(resolved)) != len(resolved):
        raise BenchError("a side is given twice; each service:variant (with its settings) may appear once")
    return resolved


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


def _local_target(running: RunningService, side: Side) -> Target:
    return Target(
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


def _remote_target(request: RunRequest, side: Side, url: str) -> Target:
    host = urlsplit(url).hostname or "remote"
    named = side if request.variants != [manifests.DEFAULT_VARIANT] else Side(side.service, host)
    return Target(
        side=named, url=url, pids=list,
        info={"external_url": url, "note": "not started by the harness: no server CPU or memory samples"},
        database=None,
    )  # fmt: skip


def _stack_options(shared: _Shared, side: Side) -> StackOptions:
    request = shared.request
    return StackOptions(
        service=side.service,
        variant=side.variant,
        workers=_workers(request, side),
        pool_max=side.pool_max if side.pool_max is not None else request.pool_max,
        max_connections=request.max_connections,
        seed=request.seed,
        cpus=shared.cpu_plan.server,
        name=side.name,
        sharing=shared.sharing,
    )


@contextlib.contextmanager
def _started(shared: _Shared, database: Database, side: Side) -> Iterator[Target]:
    """One side up and checked against the contract: a side that fails it produces no numbers."""
    with start_service(_stack_options(shared, side), database, shared.outcome.run_dir / "logs") as running:
        verify(running.url, running.manifest.name)
        yield _local_target(running, side)


def _run_case(shared: _Shared, target: Target, scenario: str, trial: int, path: Path) -> dict[str, Any]:
    request = shared.request
    settings = _load_settings(request, scenario)
    database = target.database
    if database is not None and SCENARIOS[scenario].writes:
        reset_tasks(database.url, request.seed)
    raw = raw_dir(path)
    if settings.warmup_s:
        warm = LocustProcess(settings, target.url, raw / "warmup" / "locust", shared.cpu_plan.generator)
        warm.run(settings.ramp_s + settings.warmup_s)
    if settings.external_workers:
        print(
            f"  waiting for {settings.external_workers} Locust worker(s); on each load machine run:\n"
            f"    {worker_command(settings.master_bind)}",
            file=sys.stderr,
        )
    locust = LocustProcess(settings, target.url, raw / "locust", shared.cpu_plan.generator)
    groups = {
        SERVICE: target.pids,
        LOCUST: lambda: locust.pids,
        POSTGRES: lambda: tree_pids(database.server_pid if database else None),
    }
    with Sampler(groups) as sampler:
        locust_run = locust.run(settings.ramp_s + settings.duration_s, shared.progress)
    if sys.stderr.isatty() and request.progress:
        print(file=sys.stderr)
    summary = parse_locust_output(locust_run.prefix, locust_run.log_text)
    window = sampler.window(summary.started_at, summary.ended_at)
    rps, window_s = steady_rps(summary.series, skip_seconds=0)
    document = build_document(
        identity={
            "run_id": shared.outcome.run_id,
            "service": target.service,
            "variant": target.side.variant,
            "side": target.side.label,
            "side_settings": target.side.settings,
            "scenario": scenario,
            "trial": trial,
            "trials": request.repeat,
        },
        environment=environment.collect(),
        service=target.info,
        database={"embedded": database.embedded, **database.info} if database else {"external": True},
        cpu_plan=shared.cpu_plan,
        load=settings,
        locust_run=locust_run,
        summary=summary,
        samples=window,
        steady_rps=rps,
        window_s=window_s,
        calibration=shared.outcome.calibration,
    )
    if database is not None and SCENARIOS[scenario].writes:
        reset_tasks(database.url, request.seed)  # the next case starts from the same table
    return document


def _unfinished_document(
    request: RunRequest, case: CaseOutcome, side: Side, status: str, reason: str
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": case.path.parents[2].name if case.path else None,
        "status": status,
        "reason": reason,
        "service": case.service,
        "variant": side.variant,
        "side": side.label,
        "side_settings": side.settings,
        "scenario": case.scenario,
        "trial": case.trial,
        "trials": request.repeat,
    }


def _locust_cases(shared: _Shared, target: Target, trial: int) -> None:
    request, outcome = shared.request, shared.outcome
    for scenario in request.scenarios:
        path = case_path(outcome.run_dir, target.service, target.side.name, scenario, trial, request.repeat)
        case = CaseOutcome(target.service, target.side.name, scenario, trial, INCOMPLETE, path)
        outcome.cases.append(case)
        print(f"{target.side.label} {scenario} Locust trial {trial}/{request.repeat}", file=sys.stderr)
        try:
            document = _run_case(shared, target, scenario, trial, path)
        except KeyboardInterrupt:
            write_json(path, _unfinished_document(request, case, target.side, INCOMPLETE, "interrupted"))
            raise
        except BenchError as exc:
            case.status, case.error = FAILED, str(exc)
            write_json(path, _unfinished_document(request, case, target.side, FAILED, str(exc)))
            continue
        parsed = parse_case(
            document, path
        )  # the readers' schema: a document they could not read is never written
        write_json(path, document)
        case.status, case.document = COMPLETE, document
        # The live line shows every few seconds at most, so a short pass ends with what it served.
        print(f"  {target.side.label} {scenario}: Locust served {parsed.throughput.rps:,.0f} req/s, "
              f"{parsed.requests.failures:,} failures", file=sys.stderr)  # fmt: skip


def locust_order(sides: list[Side], repeat: int, seed: int) -> list[tuple[int, list[Side]]]:
    """(trial, sides in the order they run) per trial, each shuffled by the run's seed: reproducible."""
    shuffler = random.Random(seed)
    trials = []
    for trial in range(1, repeat + 1):
        order = list(sides)
        shuffler.shuffle(order)
        trials.append((trial, order))
    return trials


def _run_record(shared: _Shared, sides: list[Side]) -> dict[str, Any]:
    request, outcome = shared.request, shared.outcome
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(request).items() if k != "sides"}
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": outcome.run_id,
        "status": outcome.status,
        "request": {**settings, "sides": [asdict(side) for side in request.sides]},
        "sides": [side.label for side in sides],
        "cpu_sets": shared.cpu_plan.as_record(),
        "seed": shared.seed,
        "sides_up": request.sides_up,
        "locust_order": [
            [s.label for s in order] for _, order in locust_order(sides, request.repeat, shared.seed)
        ],
        "calibration": outcome.calibration,
        # What the numbers were measured on, for every reader (the README's versions line included).
        "environment": environment.collect(),
        "database": outcome.database,
        "tools": environment.tool_versions(),
        "cases": [
            {
                "service": c.service, "variant": c.variant, "scenario": c.scenario, "trial": c.trial,
                "status": c.status, "error": c.error,
                "path": str(c.path.relative_to(outcome.run_dir)) if c.path else None,
            }
            for c in outcome.cases
        ],
    }  # fmt: skip


def _calibration(shared: _Shared, sides: list[Side], acquire: Acquire) -> dict[str, Any]:
    """Locust's top rate on the fastest server's /ping/: go-gin when it is a side (its /ping/ is far
    beyond what Locust can send), else the first side (every side's /ping/ is its cheapest endpoint)."""
    request = shared.request
    if request.external_workers:
        return skipped("Locust workers run elsewhere: this machine's one process says nothing about them")
    side = next((s for s in sides if s.service == "go-gin"), sides[0])
    try:
        with acquire(side) as target:
            return calibrate(
                _load_settings(request, "ping"), request.calibration_s, target.url, target.pids,
                shared.cpu_plan, shared.outcome.run_dir / RAW_DIR / "calibration", find_wrk(), side.label,
            )  # fmt: skip
    except BenchError as exc:
        print(f"fastapi-load: calibration failed: {exc}", file=sys.stderr)
        return skipped(f"failed: {exc}")


def _capacities(measured: Rounds) -> dict[str, dict[str, float]]:
    """scenario -> side -> the median rate of its usable windows (what the open-loop rates scale)."""
    found: dict[str, dict[str, list[float]]] = {}
    for window in measured.windows:
        if window.usable:
            found.setdefault(window.scenario, {}).setdefault(window.side, []).append(window.rps)
    return {
        scenario: {side: sorted(rates)[len(rates) // 2] for side, rates in by_side.items()}
        for scenario, by_side in found.items()
    }


def _floor_side(sides: list[Side], capacities: dict[str, dict[str, float]]) -> tuple[Side, float | None]:
    """The side with the cheapest endpoint: the highest ping capacity (go-gin's, when it is a side)."""
    ping = capacities.get("ping", {})
    best = max(sides, key=lambda s: (ping.get(s.label, 0.0), s.service == "go-gin"))
    return best, ping.get(best.label)


def _measure(shared: _Shared, sides: list[Side], up: "_Up") -> None:
    """The stages every run shares, on sides reached through `up` (kept up, or started per window)."""
    request, outcome = shared.request, shared.outcome
    if request.calibrate and request.repeat:
        with up.current() as acquire:
            outcome.calibration = _calibration(shared, sides, acquire)
    cpus = shared.cpu_plan.generator
    if request.rounds:
        wrk = _require_wrk()
        outcome.rounds = rounds.measure(
            request.rounds_plan(shared.seed), wrk, sides, request.scenarios, up.fresh, cpus,
            outcome.run_dir, outcome.run_id, request.seed, decided=lambda record: all_decided(
                record, request.views),
        )  # fmt: skip
        if request.open_loop or request.curve:
            capacities = _capacities(outcome.rounds)
            with up.current() as acquire:
                outcome.open_loop = openloop.measure(
                    request.open_loop_plan(shared.seed), require_vegeta(), sides, request.scenarios,
                    capacities, acquire, _floor_side(sides, capacities), cpus, outcome.run_dir,
                    outcome.run_id, request.seed,
                )  # fmt: skip
    for trial, order in locust_order(sides, request.repeat, shared.seed):
        for side in order:
            try:
                with up.current() as acquire, acquire(side) as target:
                    _locust_cases(shared, target, trial)
            except BenchError as exc:
                print(f"fastapi-load: error: {exc}", file=sys.stderr)
                outcome.cases.append(CaseOutcome(side.service, side.name, "*", trial, FAILED, error=str(exc)))


def _require_wrk() -> Wrk:
    wrk = find_wrk()
    if wrk is None:
        raise BenchError(f"the capacity rounds need wrk, which is not on PATH: {WRK_HINT}")
    return wrk


class _Up:
    """The sides of a run: with `together`, every side started once and kept up (started afresh when
    the rounds ask for a fresh block); with `alone`, each started for each window and stopped after."""

    def __init__(self, shared: _Shared, database: Database, sides: list[Side]) -> None:
        self.shared, self.database, self.sides = shared, database, sides
        self.together = shared.request.sides_up == "together"
        self._stack: contextlib.ExitStack | None = None
        self._up: dict[Side, Target] = {}

    def start(self) -> list[Side]:
        """Every side up; one that cannot start (no Go toolchain, a failed contract check) fails alone,
        recorded, and the others run. Returns the sides that are up."""
        if not self.together:
            return list(self.sides)
        self.stop()
        self._stack = contextlib.ExitStack()
        for side in self.sides:
            try:
                self._up[side] = self._stack.enter_context(_started(self.shared, self.database, side))
            except BenchError as exc:
                print(f"fastapi-load: error: {side.label}: {exc}", file=sys.stderr)
                self.shared.outcome.cases.append(
                    CaseOutcome(side.service, side.name, "*", 0, FAILED, error=str(exc))
                )
        self.sides = list(self._up)
        return self.sides

    def stop(self) -> None:
        stack, self._stack, self._up = self._stack, None, {}
        if stack is not None:
            stack.close()

    def _acquire(self, side: Side) -> contextlib.AbstractContextManager[Target]:
        if not self.together:
            return _started(self.shared, self.database, side)
        if side not in self._up:
            raise BenchError(f"{side.label} is not running (it failed to start for this block)")
        return contextlib.nullcontext(self._up[side])

    @contextlib.contextmanager
    def current(self) -> Iterator[Acquire]:
        """The sides as they are (up since the last start)."""
        yield self._acquire

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Acquire]:
        """A block of rounds: the sides started afresh, unless this is the run's first block (they
        were just started) — and left up after, for the next stage."""
        if self._fresh_blocks and self.together:
            self.start()
        self._fresh_blocks += 1
        yield self._acquire

    _fresh_blocks = 0


class _Remote(_Up):
    """A target the harness did not start: always up, never restarted."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def _acquire(self, side: Side) -> contextlib.AbstractContextManager[Target]:
        return contextlib.nullcontext(self.target)

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Acquire]:
        yield self._acquire


def run(request: RunRequest) -> RunOutcome:
    sides = _validate(request)
    if request.rounds:
        _require_wrk()  # before anything starts
    if request.open_loop or request.curve:
        require_vegeta()
    cpu_plan = plan(request.cpus)
    run_id = request.run_id or new_run_id()
    outcome = RunOutcome(run_id=run_id, run_dir=request.results_dir / run_id, status=INCOMPLETE)
    seed = request.order_seed if request.order_seed is not None else random.SystemRandom().randrange(2**31)
    sharing = len(sides) if request.sides_up == "together" else 1
    shared = _Shared(request, outcome, cpu_plan, _printer(request.progress), seed, sharing)
    write_json(outcome.run_dir / "run.json", _run_record(shared, sides))
    try:
        if request.target is not None:
            url = check_target(request.target, request.allow_remote)
            verify(url, url)
            target = _remote_target(request, sides[0], url)
            _measure(shared, [target.side], _Remote(target))
        else:
            with prepared_database(request.max_connections, request.seed) as database:
                outcome.database = {"embedded": database.embedded, **database.info}
                if database.server_pid is not None:
                    pin_tree(database.server_pid, cpu_plan.server)
                up = _Up(shared, database, sides)
                try:
                    running = up.start()
                    if running:
                        _measure(shared, running, up)
                finally:
                    up.stop()
        failed = any(c.status != COMPLETE for c in outcome.cases)
        failed |= any(
            record is not None and record.status != COMPLETE for record in (outcome.rounds, outcome.open_loop)
        )
        outcome.status = FAILED if failed else COMPLETE
    finally:
        write_json(outcome.run_dir / "run.json", _run_record(shared, sides))
    return outcome
