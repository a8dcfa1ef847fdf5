"""Latency at a fixed offered rate: every side at common rates, and each side's own curve past capacity.

Common points answer "at the same load, which side answers faster?": every side gets the same absolute
rates, fractions of the slowest side's capacity from the rounds. Each rate is measured `repeats`
times, every repeat in an order of the sides shuffled afresh from the run's seed (as the rounds), so
drift does not favour one side and each side's p99 gets an interval across repeats, paired by repeat
against a baseline (bench.analysis.latency). Curve points answer "where does this side's latency leave
its floor?": one side at fractions of its own capacity, from well under it to past it, to its knee
(bench.analysis.curves).

Latency is taken from each request's intended send time (bench.load.intended). The generator is
judged at every point by its own evidence (Attack.limit_reasons): the rate it kept while it had
workers free, its CPU, and its own lateness in sending. A point failing a check is marked limited,
never reported as the server's. (Runs before this measured a separate *floor* point per rate, vegeta
against the cheapest endpoint; one noisy 2-second floor marked most points of a curve, and against a
single side it measured the side itself.)
"""

import random
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from bench.common.errors import BenchError
from bench.common.schema import OPEN_LOOP_FILE, OpenLoop, OpenLoopPoint, PointKind, Status, write_record
from bench.common.sides import Side
from bench.database.seed import reset_tasks
from bench.load.intended import TIMEOUT_S, Attack
from bench.load.scenarios import SCENARIOS
from bench.load.vegeta import Vegeta, attack
from bench.run.target import Target

Acquire = Callable[[Side], AbstractContextManager[Target]]
# Measurements of each common rate per side: p99 from one 2-second point rests on a few dozen requests.
DEFAULT_REPEATS = 3
# After a point where the side fell behind, it keeps working through what it accepted even once
# the clients gave up: the next point (on any side, sharing its core) waits until the side answers
# /ping/ promptly again, up to a limit, so one side's backlog is not the next point's latency.
SETTLE_PROMPT_S = 0.05
SETTLE_LIMIT_S = 30.0
# A recovered side answers every request within this multiple of its lightest point's p99 (and
# within 5 ms of it, so a sub-millisecond floor does not make ordinary jitter look like a queue).
RECOVERED_MULTIPLE = 3.0
RECOVERED_SLACK_MS = 5.0


@dataclass(frozen=True)
class OpenLoopPlan:
    common: tuple[float, ...]  # fractions of the slowest side's capacity, the same rate for every side
    curve: tuple[float, ...]  # fractions of each side's own capacity
    curve_scenarios: tuple[str, ...]
    seconds: int
    seed: int
    # After each side's curve: this many seconds at its lightest curve rate, to time its recovery.
    recovery_s: int = 0
    repeats: int = DEFAULT_REPEATS  # measurements of each common rate per side

    def validate(self, scenarios: list[str]) -> None:
        if any(f <= 0 for f in (*self.common, *self.curve)):
            raise BenchError("open-loop rates are positive fractions of capacity, such as 0.5")
        if self.seconds < 1:
            raise BenchError("an open-loop point needs at least 1 second")
        if self.repeats < 1:
            raise BenchError("each open-loop rate is measured at least once (repeats >= 1)")
        for scenario in {*scenarios, *self.curve_scenarios}:
            if (self.common or self.curve) and not SCENARIOS[scenario].open_loop:
                raise BenchError(
                    f"scenario {scenario!r} cannot be sent open-loop (its requests follow answers)"
                )


@dataclass
class _Run:
    plan: OpenLoopPlan
    vegeta: Vegeta
    cpus: frozenset[int] | None
    raw: Path
    seed_tasks: int
    acquire: Acquire
    points: list[OpenLoopPoint]


def _point(
    run: _Run, side: Side, scenario: str, kind: PointKind, fraction: float, rate: float,
    normal_ms: float | None = None, repeat: int = 0,
) -> OpenLoopPoint:  # fmt: skip
    seconds = run.plan.recovery_s if kind == "recovery" else run.plan.seconds
    with run.acquire(side) as target:
        database = target.database
        if database is not None and SCENARIOS[scenario].writes and kind != "recovery":
            reset_tasks(database.url, run.seed_tasks)
        name = f"{kind}-{side.label.replace(':', '+')}-{round(rate)}" + (f"-r{repeat}" if repeat else "")
        started = time.time()
        result = attack(run.vegeta, target.url, scenario, rate, seconds, run.raw / scenario / name, run.cpus)
        if result.goodput_rps < 0.95 * rate or result.errors or result.unsent:
            _settle(target.url)
    point = _record(side, scenario, kind, fraction, result, started, repeat)
    if normal_ms is not None:
        point = point.model_copy(update={"recovered_after_s": result.recovered_after(normal_ms)})
    return point


def _settle(url: str) -> None:
    """Wait until the side answers /ping/ within SETTLE_PROMPT_S, three times in a row."""
    deadline = time.monotonic() + SETTLE_LIMIT_S
    prompt = 0
    while prompt < 3 and time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/ping/", timeout=2) as answer:  # noqa: S310 - our loopback side
                answer.read()
            prompt = prompt + 1 if time.monotonic() - started < SETTLE_PROMPT_S else 0
        except OSError:
            prompt = 0
        time.sleep(0.1)


def _record(
    side: Side, scenario: str, kind: PointKind, fraction: float, result: Attack, started: float, repeat: int
) -> OpenLoopPoint:
    limits = result.limits
    reasons = [reason for _, reason in limits]
    return OpenLoopPoint(
        side=side.label, scenario=scenario, kind=kind, fraction=round(fraction, 4),
        offered_rps=round(result.offered_rps, 1), sent_rps=result.sent_rps,
        goodput_rps=result.goodput_rps, requests=result.requests, successes=result.successes,
        errors=result.errors, latency_ms=result.latency_ms, generator_cpu_percent=result.cpu_percent,
        generator_limited=bool(reasons), limit_reasons=reasons, started_at=started,
        seconds=result.seconds, latency_from="intended", repeat=repeat,
        service_latency_ms=result.service_latency_ms, scheduled=result.scheduled, unsent=result.unsent,
        late=result.late, peak_in_flight=result.peak_in_flight, own_lag_ms=result.own_lag_ms,
        limits=[kind for kind, _ in limits],
    )  # fmt: skip


def measure(
    plan: OpenLoopPlan,
    vegeta: Vegeta,
    sides: list[Side],
    scenarios: list[str],
    capacities: dict[str, dict[str, float]],
    acquire: Acquire,
    floor: tuple[Side, float | None] | None,
    generator_cpus: frozenset[int] | None,
    run_dir: Path,
    run_id: str,
    seed_tasks: int,
) -> OpenLoop:
    """`capacities`: scenario -> side label -> capacity (req/s, the rounds' median). `floor` is no
    longer measured (the generator is judged by its own evidence at every point) and is ignored."""
    run = _Run(plan, vegeta, generator_cpus, run_dir / "raw" / "open-loop", seed_tasks, acquire, [])
    shuffler = random.Random(plan.seed)
    reference = {
        scenario: min(capacities[scenario][s.label] for s in sides)
        for scenario in scenarios
        if all(capacities.get(scenario, {}).get(s.label) for s in sides)
    }

    def record(status: Status) -> OpenLoop:
        result = OpenLoop(run_id=run_id, status=status, generator=vegeta.generator, seconds=plan.seconds,
                          reference_rps=reference, points=run.points, repeats=plan.repeats,
                          timeout_s=TIMEOUT_S)  # fmt: skip
        write_record(run_dir / OPEN_LOOP_FILE, result)
        return result

    try:
        for scenario in scenarios:
            if scenario not in reference or not plan.common:
                continue
            for repeat in range(plan.repeats):
                for fraction in plan.common:
                    rate = fraction * reference[scenario]
                    order = list(sides)
                    shuffler.shuffle(order)
                    for side in order:
                        run.points.append(
                            _guarded(run, side, scenario, "common", fraction, rate, repeat=repeat)
                        )
                record("incomplete")
            _progress(run, scenario, "common")
        for scenario in plan.curve_scenarios:
            for side in sides:
                capacity = capacities.get(scenario, {}).get(side.label)
                if not capacity:
                    continue
                curve = []
                for fraction in plan.curve:
                    curve.append(_guarded(run, side, scenario, "curve", fraction, fraction * capacity))
                run.points += curve
                if plan.recovery_s:
                    run.points.append(_recovery(run, side, scenario, capacity, curve))
                record("incomplete")
            _progress(run, scenario, "curve")
    except BaseException:
        record("incomplete")
        raise
    return record("complete")


def _recovery(
    run: _Run, side: Side, scenario: str, capacity: float, curve: list[OpenLoopPoint]
) -> OpenLoopPoint:
    """Light load right after the heaviest point: how long until the side answers as it did when
    lightly loaded (the lightest curve point's p99, times RECOVERED_MULTIPLE, plus the slack)."""
    fraction = min(run.plan.curve)
    lightest = min(curve, key=lambda p: p.offered_rps)
    floor = lightest.latency_ms.p99 if lightest.latency_ms else 0.0
    normal = max(RECOVERED_MULTIPLE * floor, floor + RECOVERED_SLACK_MS)
    return _guarded(run, side, scenario, "recovery", fraction, fraction * capacity, normal)


def _guarded(
    run: _Run, side: Side, scenario: str, kind: PointKind, fraction: float, rate: float,
    normal_ms: float | None = None, repeat: int = 0,
) -> OpenLoopPoint:  # fmt: skip
    try:
        return _point(run, side, scenario, kind, fraction, rate, normal_ms, repeat)
    except BenchError as exc:
        # A side that fell over at this rate is a finding, not a reason to lose the others' points.
        print(f"  open-loop {side.label} {scenario} at {rate:,.0f} req/s failed: {exc}", file=sys.stderr)
        return OpenLoopPoint(
            side=side.label, scenario=scenario, kind=kind, fraction=fraction, offered_rps=round(rate, 1),
            sent_rps=0, goodput_rps=0, requests=0, successes=0, errors={"generator failed": 1},
            latency_ms=None, generator_cpu_percent=None, generator_limited=True,
            limit_reasons=[f"the attack failed: {exc}"], started_at=time.time(), seconds=run.plan.seconds,
            latency_from="intended", repeat=repeat, limits=["attack"],
        )  # fmt: skip


def _progress(run: _Run, scenario: str, kind: PointKind) -> None:
    points = [p for p in run.points if p.scenario == scenario and p.kind == kind]
    limited = sum(p.generator_limited for p in points)
    note = f", {limited} marked generator-limited" if limited else ""
    print(f"  open-loop {scenario} ({kind}): {len(points)} points{note}", file=sys.stderr)
