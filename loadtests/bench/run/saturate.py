"""`saturate`: raise Locust's users step by step until the service stops keeping up, and report the knee.

database -> service -> verify -> one Locust run with the step shape (loadtests/stepshape.py) and sampling,
judged step by step as it goes -> saturate.json (Locust's own files under raw/saturate/).

Each step holds a user count for `step_seconds`. Its figures come from the shape's tick log (about one
line a second: exact time, Locust's cumulative request and failure totals, its cumulative response-time
histogram) and from the sampler. Locust's per-second history CSV is not used for them: it stamps rows in
whole seconds and, under load, writes them 1-2 s apart, which over a step of a few seconds moved rps by
tens of percent in trials, far beyond the 5% a plateau is judged by.
- The counted window opens at the first tick at least SETTLE_S s after the tick that asked for the step's
  users (ramp and settling never count) and closes at the step's last tick at that user count.
- rps: requests between the window's two ticks over the exact seconds between them.
- p99: from the difference of the two ticks' histograms, by Locust's own percentile rule: the window's
  requests alone, where Locust's p99 column is a sliding ~10 s mix that would reach into the last step.
- failures: every failure from the previous step's last tick to this step's last tick, ramp included.
- CPU: the mean of the sampler's one-second samples whose middle falls in the window (Locust, service).

Stop rules, checked in this order for each step, the first one that holds ending the search:
1. errors: any failure; a step that fails requests is not sustainable, and fast failures inflate rps.
2. generator-bound: Locust's mean CPU >= GENERATOR_BOUND_PERCENT of the one core its one process can use
   (the level `run` flags); before latency and throughput because a saturated generator queues requests
   itself, so a p99 or plateau seen then would blame the service for Locust's limit.
3. p99 bound: p99 above `p99_bound_ms`.
4. throughput plateau: rps gained less than `min_gain` over the previous step.
5. max users: the schedule's last step passed all four.
The knee is the step before the stopping one (None when the first step stops), except for a plateau,
where it is the step with the highest rps up to and including the stopping one, and for max users, where
it is the last step (the true knee lies beyond).

Locust is not left to run the whole schedule: a watcher thread re-reads the tick log once a second and
applies the same rules to every finished step; when one holds it creates the shape's stop file, and the
shape ends the run at its next tick, so Locust stops its users and writes its files as at any normal end.
The watcher judges a step only once its ticks are final (a later tick exists) and the sampler has covered
its window, so its decision equals the one computed from the files afterwards, which is what is written.
One Locust process only: a master's totals move in jumps as its workers report every few seconds.

When Locust itself saturates (stop rule 2) and wrk is available (`ceiling` auto or on), the search does
not end there: it drops the generator-bound step and goes on with wrk, one run of `step_seconds` per
step at that many connections (the Lua scenario script judging every answer), from the step Locust
could not drive, judged by the same rules in the same order (wrk's own CPU now stands in for Locust's).
Each step records which generator measured it.

When Locust's search ends at a knee of its own (plateau, p99 bound, max users) and wrk is available,
wrk loads the knee's user count once more (`knee_check`): if Locust reached less than 90% of wrk's
rate there, Locust was the limit although its CPU stayed below the bound (on a shared machine it can
be starved of its core), and the search goes on with wrk from that step, as above.
"""

import contextlib
import math
import statistics
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common.errors import BenchError
from bench.common.paths import LOCUSTFILE, RESULTS_DIR
from bench.database.seed import DEFAULT_TASKS, reset_tasks
from bench.load.ceiling import DEFAULT_MODE, Wrk, WrkSettings, resolve, run_wrk
from bench.load.cpusets import CpuPlan, plan
from bench.load.locust import LoadSettings, LocustProcess
from bench.load.locust_output import parse_locust_output
from bench.load.pinning import pin_tree, tree_pids
from bench.load.sampling import Sampler
from bench.run import environment
from bench.run.case import CALIBRATED_SHARE_BOUND, GENERATOR_BOUND_PERCENT, LOCUST, POSTGRES, SERVICE
from bench.run.knee import (
    GENERATOR_BOUND,
    MAX_USERS,
    MIN_GAIN,
    P99_BOUND_MS,
    Step,
    StopRules,
    Verdict,
    decide,
    schedule,
    stop_detail,
)
from bench.run.results import (
    COMPLETE,
    FAILED,
    INCOMPLETE,
    SCHEMA_VERSION,
    case_path,
    new_run_id,
    raw_dir,
    write_json,
)
from bench.run.ticks import SETTLE_S, evaluate, read_ticks
from bench.services import manifest as manifests
from bench.services.stack import RunningService, StackOptions, prepared_database, start_service
from bench.services.verify import verify

STEPSHAPE = LOCUSTFILE.with_name("stepshape.py")
KIND = "saturation"

DEFAULT_SPAWN_RATE = 50.0  # fast enough that a default step's ramp takes well under a second
WATCH_INTERVAL_S = 1.0  # the shape logs a tick about once a second
_RUN_TIME_MARGIN_S = 10  # Locust's --run-time is only a backstop: the shape ends the run

Show = Callable[[str], None]


@dataclass(frozen=True)
class SaturationRequest:
    service: str
    variant: str = manifests.DEFAULT_VARIANT
    scenario: str = "ping"
    start_users: int = 10
    step_users: int = 10
    step_seconds: int = 8
    max_users: int = 200
    spawn_rate: float = DEFAULT_SPAWN_RATE
    p99_bound_ms: float = P99_BOUND_MS
    min_gain: float = MIN_GAIN
    # Locust's mean CPU (% of its one core) at which a step counts as generator-bound.
    generator_percent: float = GENERATOR_BOUND_PERCENT
    cpus: str = "auto"
    workers: int | None = None
    pool_max: int | None = None
    max_connections: int = 100
    seed: int = DEFAULT_TASKS
    extra_env: dict[str, str] = field(default_factory=dict)  # the service's environment, overridden
    ceiling: str = DEFAULT_MODE  # off, auto or on: go on with wrk connections once Locust saturates
    run_id: str | None = None
    results_dir: Path = RESULTS_DIR
    progress: bool = True


@dataclass
class SaturationOutcome:
    run_id: str
    path: Path
    status: str
    steps: list[Step]
    verdict: Verdict | None
    rules: StopRules
    document: dict[str, Any]

    @property
    def knee(self) -> Step | None:
        if self.verdict is None or self.verdict.knee_index is None:
            return None
        return self.steps[self.verdict.knee_index]

    @property
    def stopped_by(self) -> str | None:
        return self.verdict.stopped_by if self.verdict is not None else None


# The decision (stop rules, the knee) is in bench.run.knee; steps measured from the tick log in
# bench.run.ticks.


# --- watching the run -------------------------------------------------------------------------------


def _step_line(step: Step) -> str:
    p99 = f"{step.p99:.0f} ms" if step.p99 is not None else "n/a"
    generator_cpu = step.locust_cpu_percent if step.generator == "locust" else step.wrk_cpu_percent
    cpu = {
        name: f"{value:.0f}%" if value is not None else "n/a"
        for name, value in (("generator", generator_cpu), ("service", step.service_cpu_percent))
    }
    unit = "users" if step.generator == "locust" else "conns"
    name = "Locust" if step.generator == "locust" else "wrk"
    return (
        f"{step.users:5d} {unit}  {step.rps:10,.0f} req/s  p99 {p99:>7}  {step.failures:,} failures  "
        f"{name} CPU {cpu['generator']}  service CPU {cpu['service']}"
    )


class _Watcher:
    """Judges finished steps while Locust runs; asks the shape to end the run once a rule holds."""

    def __init__(
        self,
        log: Path,
        sampler: Sampler,
        counts: list[int],
        rules: StopRules,
        stop_file: Path,
        show: Show,
    ) -> None:
        self.log = log
        self.sampler = sampler
        self.counts = counts
        self.rules = rules
        self.stop_file = stop_file
        self.show = show
        self.steps: list[Step] = []
        self.error: BenchError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="saturate-watcher", daemon=True)

    def __enter__(self) -> "_Watcher":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            try:
                if self._check():
                    return
            except BenchError as exc:
                # Nothing more can be judged: end the run now, and let the caller raise it.
                self.error = exc
                self.stop_file.touch()
                return

    def _check(self) -> bool:
        samples = list(self.sampler.samples)  # a snapshot: the sampler thread appends meanwhile
        steps, verdict = evaluate(read_ticks(self.log), samples, self.counts, self.rules, finished=False)
        for step in steps[len(self.steps) :]:
            self.show(_step_line(step))
        self.steps = steps
        if verdict is None:
            return False
        if verdict.stopped_by != MAX_USERS:  # at max users the shape is ending the run by itself
            self.stop_file.touch()
            self.show(f"stopped by {verdict.stopped_by}: ending the Locust run")
        return True


# --- the run ---------------------------------------------------------------------------------------


def _printer(enabled: bool) -> Show:
    def show(line: str) -> None:
        if enabled:
            print(f"  {line}", file=sys.stderr, flush=True)

    return show


def _validate(request: SaturationRequest) -> manifests.Launch:
    """Every input checked before anything starts, so a typo never costs a database start."""
    launch = manifests.launch(
        manifests.find(request.service), request.variant, "127.0.0.1", 0, request.workers, 1
    )
    if request.start_users < 1 or request.step_users < 1 or request.max_users < request.start_users:
        raise BenchError("start and step users must be at least 1, and max users at least the start")
    if not 0 < request.generator_percent <= 100:
        raise BenchError("the generator-bound CPU percent must be above 0 and at most 100")
    if request.spawn_rate <= 0 or request.p99_bound_ms <= 0 or not 0 <= request.min_gain < 1:
        raise BenchError("spawn rate and p99 bound must be above 0, min gain from 0 up to (not incl.) 1")
    ramp_s = math.ceil(max(request.start_users, request.step_users) / request.spawn_rate)
    if request.step_seconds < ramp_s + SETTLE_S + 1:
        raise BenchError(
            f"--step-seconds {request.step_seconds} is too short: a step needs its ramp ({ramp_s}s at this "
            f"spawn rate), {SETTLE_S}s to settle and a second to measure"
        )
    _load_settings(request).validate()
    return launch


def _wrk_step(
    wrk: Wrk, request: SaturationRequest, running: RunningService, cpu_plan: CpuPlan, users: int, raw: Path
) -> Step:
    settings = WrkSettings(request.scenario, users, request.step_seconds)
    result, sampler = run_wrk(wrk, settings, running.url, raw / f"wrk-{users}.out", cpu_plan.generator,
                              {SERVICE: lambda: [running.process.pid]})  # fmt: skip
    service = [s.cpu_percent[SERVICE] for s in sampler.samples[1:]]
    return Step(
        users=users,
        rps=round(result.rps, 2),
        p99=result.latency_ms()["p99"],
        failures=result.errors,
        locust_cpu_percent=None,
        service_cpu_percent=round(statistics.fmean(service), 1) if service else None,
        generator=wrk.generator,
        wrk_cpu_percent=result.cpu_percent,
        wrk_threads=result.threads,
    )


# Locust's knee stands when wrk, at the same connection count, gets no more than this much above it:
# the share of a case's capacity a generator-bound Locust run reaches (bench.run.case) in reverse.
KNEE_CHECK_SHARE = CALIBRATED_SHARE_BOUND


def _knee_check(knee: Step, probe: Step) -> dict[str, Any]:
    """Locust's knee set against wrk at the same load: far below it, Locust was the limit, even when its
    CPU stayed under the generator-bound level (on a shared machine it may be starved of its core)."""
    share = knee.rps / probe.rps if probe.rps > 0 else 1.0
    return {
        "users": knee.users,
        "locust_rps": knee.rps,
        "wrk_rps": probe.rps,
        "locust_share": round(share, 4),
        "locust_limited": share < KNEE_CHECK_SHARE and probe.failures == 0,
    }


def _continue_with_wrk(
    wrk: Wrk,
    request: SaturationRequest,
    running: RunningService,
    cpu_plan: CpuPlan,
    rules: StopRules,
    path: Path,
    kept: list[Step],
    switch_at: int,
    show: Show,
    first: Step | None = None,
) -> tuple[list[Step], Verdict]:
    """From the step Locust could not drive, the same schedule with wrk connections until a rule holds;
    `first` is wrk's step at `switch_at` when it was already measured."""
    counts = schedule(request.start_users, request.step_users, request.max_users)
    kept = list(kept)
    show(f"Locust was the limit at {switch_at} users: going on with wrk connections from {switch_at}")
    for users in (n for n in counts if n >= switch_at):
        if first is not None and users == first.users:
            step = first
        else:
            step = _wrk_step(wrk, request, running, cpu_plan, users, raw_dir(path))
        show(_step_line(step))
        kept.append(step)
        found = decide(kept, rules, counts[-1])
        if found is not None:
            return kept, found
    raise BenchError("the wrk steps ended before a verdict")  # decide holds at max users at the latest


def _load_settings(request: SaturationRequest) -> LoadSettings:
    counts = schedule(request.start_users, request.step_users, request.max_users)
    # --users is the shape's ceiling (it reads Locust's common options); duration is the whole schedule.
    return LoadSettings(
        scenario=request.scenario,
        users=counts[-1],
        spawn_rate=request.spawn_rate,
        duration_s=len(counts) * request.step_seconds,
        warmup_s=0,
    )


def _rules(request: SaturationRequest) -> StopRules:
    # The one Locust process is one gevent thread: it can never use more than one core.
    return StopRules(request.p99_bound_ms, request.min_gain, request.generator_percent)


def _shape_args(request: SaturationRequest, log: Path, stop_file: Path) -> list[str]:
    return [
        "--step-start", str(request.start_users),
        "--step-users", str(request.step_users),
        "--step-seconds", str(request.step_seconds),
        "--step-log", str(log),
        "--step-stop-file", str(stop_file),
    ]  # fmt: skip


def _document(
    request: SaturationRequest,
    run_id: str,
    launch: manifests.Launch,
    cpu_plan: CpuPlan,
    status: str,
    steps: Sequence[Step],
    verdict: Verdict | None,
    switched_at: int | None = None,
) -> dict[str, Any]:
    knee = steps[verdict.knee_index] if verdict is not None and verdict.knee_index is not None else None
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "status": status,
        "run_id": run_id,
        "service": launch.service,
        "variant": launch.variant,
        "scenario": request.scenario,
        "environment": {**environment.collect(), "cpu_sets": cpu_plan.as_record()},
        "settings": {
            "start": request.start_users,
            "step": request.step_users,
            "step_seconds": request.step_seconds,
            "max_users": request.max_users,
            "p99_bound_ms": request.p99_bound_ms,
            "min_gain": request.min_gain,
            "generator_percent": request.generator_percent,
        },
        "steps": [asdict(step) for step in steps],
        "knee": {"users": knee.users, "rps": knee.rps, "p99": knee.p99, "generator": knee.generator}
        if knee is not None
        else None,
        "stopped_by": verdict.stopped_by if verdict is not None else None,
        # Where Locust saturated and wrk carried the search on (None: Locust measured every step).
        "wrk_from_users": switched_at,
        "ceiling_mode": request.ceiling,
    }


def _search(
    request: SaturationRequest,
    running: RunningService,
    cpu_plan: CpuPlan,
    rules: StopRules,
    path: Path,
    measured: list[Step],
    show: Show,
) -> tuple[list[Step], Verdict]:
    """One Locust run through the schedule; `measured` holds the steps judged so far if it is cut short."""
    counts = schedule(request.start_users, request.step_users, request.max_users)
    settings = _load_settings(request)
    raw = raw_dir(path)
    prefix = raw / "locust"
    log = raw / "steps.jsonl"
    stop_file = raw / "stop-requested"
    for stale in (log, stop_file):  # from an earlier search under the same run id
        stale.unlink(missing_ok=True)
    shape_args = _shape_args(request, log, stop_file)
    locust = LocustProcess(settings, running.url, prefix, cpu_plan.generator, (STEPSHAPE,), shape_args)
    groups = {
        SERVICE: lambda: [running.process.pid],
        LOCUST: lambda: locust.pids,
        POSTGRES: lambda: tree_pids(running.database.server_pid),
    }
    run_time_s = settings.duration_s + settings.ramp_s + _RUN_TIME_MARGIN_S
    with Sampler(groups) as sampler:
        watcher = _Watcher(log, sampler, counts, rules, stop_file, show)
        try:
            with watcher:
                locust_run = locust.run(run_time_s)
        finally:
            measured[:] = watcher.steps
    if watcher.error is not None:
        raise watcher.error
    parse_locust_output(locust_run.prefix, locust_run.log_text)  # raises on missing or truncated output
    steps, verdict = evaluate(read_ticks(log), sampler.samples, counts, rules, finished=True)
    measured[:] = steps
    if verdict is None:
        last = f"{steps[-1].users} users" if steps else "no step"
        raise BenchError(f"Locust ended before the search reached a verdict (last step measured: {last})")
    return steps, verdict  # evaluate stops at the verdict: a step Locust began after it is left out


def saturate(request: SaturationRequest) -> SaturationOutcome:
    """Find the service's knee on one scenario; writes <run-id>/<service>/<variant>/saturate.json."""
    wrk = resolve(request.ceiling)  # `on` without wrk stops here, before anything starts
    launch = _validate(request)
    cpu_plan = plan(request.cpus)
    rules = _rules(request)
    run_id = request.run_id or new_run_id()
    run_dir = request.results_dir / run_id
    path = case_path(run_dir, launch.service, launch.variant, "saturate", 1, 1)
    show = _printer(request.progress)
    measured: list[Step] = []
    switched_at: int | None = None
    check: dict[str, Any] | None = None
    status, verdict, reason = INCOMPLETE, None, "interrupted"
    try:
        with prepared_database(request.max_connections, request.seed) as database:
            if database.server_pid is not None:
                pin_tree(database.server_pid, cpu_plan.server)
            options = StackOptions(
                service=launch.service,
                variant=launch.variant,
                workers=request.workers,
                pool_max=request.pool_max,
                max_connections=request.max_connections,
                seed=request.seed,
                cpus=cpu_plan.server,
                extra_env=dict(request.extra_env),
            )
            with start_service(options, database, run_dir / "logs") as running:
                verify(running.url, running.manifest.name)
                reset_tasks(database.url, request.seed)
                print(
                    f"{launch.service} [{launch.variant}] saturate {request.scenario}: "
                    f"{request.start_users} users, +{request.step_users} every {request.step_seconds}s, "
                    f"up to {request.max_users}",
                    file=sys.stderr,
                )
                steps, verdict = _search(request, running, cpu_plan, rules, path, measured, show)
                if verdict.stopped_by == GENERATOR_BOUND and wrk is not None:
                    switched_at = steps[verdict.stop_index].users
                    steps, verdict = _continue_with_wrk(
                        wrk, request, running, cpu_plan, rules, path, steps[: verdict.stop_index],
                        switched_at, show,
                    )  # fmt: skip
                    measured[:] = steps
                elif wrk is not None and verdict.knee_index is not None:
                    knee = steps[verdict.knee_index]
                    probe = _wrk_step(wrk, request, running, cpu_plan, knee.users, raw_dir(path))
                    check = _knee_check(knee, probe)
                    show(
                        f"knee check: wrk got {probe.rps:,.0f} req/s at {knee.users} connections, Locust "
                        f"{knee.rps:,.0f} ({check['locust_share']:.0%})"
                    )
                    if check["locust_limited"]:
                        # Starved of its core or not, Locust could not drive the server to its knee.
                        switched_at = knee.users
                        steps, verdict = _continue_with_wrk(
                            wrk, request, running, cpu_plan, rules, path, steps[: verdict.knee_index],
                            switched_at, show, first=probe,
                        )  # fmt: skip
                        measured[:] = steps
        status = COMPLETE
    except BenchError as exc:
        status, reason = FAILED, str(exc)
        raise
    finally:
        if status != COMPLETE:
            # What was judged before the end, and never a knee: the search did not finish.
            partial = _document(request, run_id, launch, cpu_plan, status, measured, None, switched_at)
            with contextlib.suppress(OSError):  # the exception on its way out says more than this one
                write_json(path, {**partial, "reason": reason})
    document = _document(request, run_id, launch, cpu_plan, status, steps, verdict, switched_at)
    document["knee_check"] = check
    write_json(path, document)
    return SaturationOutcome(run_id, path, status, steps, verdict, rules, document)


# --- the summary -------------------------------------------------------------------------------------


def describe(outcome: SaturationOutcome) -> str:
    """One paragraph: where the knee is and what stopped the search."""
    doc = outcome.document
    subject = f"{doc['service']} [{doc['variant']}] {doc['scenario']}"
    steps = outcome.steps
    if outcome.status != COMPLETE or outcome.verdict is None:
        done = f"{len(steps)} step(s) measured" if steps else "no step measured"
        return f"{subject}: search {outcome.status} ({doc.get('reason', 'no verdict')}); {done}, no knee."
    verdict = outcome.verdict
    detail = stop_detail(steps, verdict, outcome.rules)
    stop = f"stopped by {verdict.stopped_by} ({detail})"
    knee = outcome.knee
    if knee is None:
        first = steps[0].users
        return f"{subject}: no sustainable step, the first ({first} users) already broke a rule; {stop}."
    p99 = f"{knee.p99:,.0f} ms" if knee.p99 is not None else "n/a"
    switched = doc.get("wrk_from_users")
    carried = (
        f" Locust was the limit from {switched} users, so wrk connections carried the search on from there."
        if switched is not None
        else ""
    )
    unit = "users" if knee.generator == "locust" else "wrk connections"
    return (
        f"{subject}: knee at {knee.users} {unit}: {knee.rps:,.0f} req/s, p99 {p99}; {stop}. "
        f"{len(steps)} step(s) of {doc['settings']['step_seconds']}s from {steps[0].users} users.{carried}"
    )
