"""Capacity in rounds: every side once per round, in a fresh seeded order, each in a short wrk window.

A shared machine drifts 30-50% from minute to minute. Measuring side A for a minute, then side B, puts
that drift into the comparison; a round runs every side back to back, so a slow moment slows every
side in it and the paired ratio (bench.analysis.paired) cancels it. The order is shuffled afresh each
round (randomized multiple interleaved trials, Abedi & Brecht) so no side always runs first or
right after the heaviest one, and it is recorded.

Adaptive rounds: with `looks` > 1 the verdicts are looked at after evenly spaced rounds, and the run
stops at the first look where every comparison is decided. Each look takes an equal share of the run's
5% error budget (bench.analysis.paired), so stopping early never raises the chance of a false verdict.
Blocks: with `blocks` > 1 every side is stopped and started afresh between blocks of rounds, so the
interval holds the variation between process starts (hash seeds, memory layout), not only the
variation between rounds of one process.

Each window records wrk's rate and errors and the CPU time the service's process tree and PostgreSQL
spent per request, which holds steadier than the rate when the machine is busy.
"""

import math
import random
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from bench.common.errors import BenchError
from bench.common.schema import ROUNDS_FILE, Rounds, SidesUp, Status, Window, write_record
from bench.common.sides import Side
from bench.database.seed import reset_tasks
from bench.load.pinning import tree_pids
from bench.load.sampling import cpu_source
from bench.load.scenarios import SCENARIOS
from bench.load.wrk import Wrk, WrkSettings, run_wrk
from bench.run.target import POSTGRES, SERVICE, Target

Acquire = Callable[[Side], AbstractContextManager[Target]]
# Starts every side for one block of rounds and hands out the running targets.
StartBlock = Callable[[], AbstractContextManager[Acquire]]
# Given the windows so far and the looks planned, whether every verdict is already decided.
Decided = Callable[[Rounds], bool]


@dataclass(frozen=True)
class RoundsPlan:
    rounds: int
    window_s: int
    warmup_s: int  # wrk before every window, unmeasured (0: only the warm-up pass before round 1)
    connections: int
    seed: int
    sides_up: SidesUp
    looks: int = 1  # adaptive rounds: verdicts looked at this many times, stopping once all decided
    blocks: int = 1  # every side started afresh for each block of rounds

    def validate(self) -> None:
        if self.rounds < 0:
            raise BenchError("--rounds must be 0 (no capacity rounds) or more")
        if self.looks < 1 or self.blocks < 1:
            raise BenchError("--looks and --blocks must be 1 or more")
        if self.rounds and (self.looks > self.rounds or self.blocks > self.rounds):
            raise BenchError(
                f"{self.rounds} rounds cannot be split into {max(self.looks, self.blocks)} looks or blocks"
            )
        if self.window_s < 1 or self.warmup_s < 0:
            raise BenchError("a window needs at least 1 measured second and a warm-up of 0 or more")
        if self.connections < 1:
            raise BenchError("wrk needs at least one connection")


def look_points(rounds: int, looks: int) -> list[int]:
    """The rounds after which the verdicts are looked at: evenly spaced, the last one at the end."""
    return sorted({math.ceil(rounds * k / looks) for k in range(1, looks + 1)})


def block_starts(rounds: int, blocks: int) -> set[int]:
    """The rounds (from 1) that begin a block, each block as even as can be."""
    return {1 + (rounds * k) // blocks for k in range(blocks)}


def orders(labels: list[str], scenarios: list[str], rounds: int, seed: int) -> dict[str, list[list[str]]]:
    """Each scenario's side order in every round, shuffled by one seeded generator: reproducible."""
    shuffler = random.Random(seed)
    plan: dict[str, list[list[str]]] = {}
    for scenario in scenarios:
        plan[scenario] = []
        for _ in range(rounds):
            order = list(labels)
            shuffler.shuffle(order)
            plan[scenario].append(order)
    return plan


@dataclass
class _Context:
    plan: RoundsPlan
    wrk: Wrk
    generator_cpus: frozenset[int] | None
    raw: Path
    seed_tasks: int


def _failed(side: str, scenario: str, round_no: int, position: int, started: float, error: str) -> Window:
    """A window that measured nothing (wrk failed, or the side was not running): kept, with why."""
    return Window(
        round=round_no, position=position, side=side, scenario=scenario, started_at=started, seconds=0,
        requests=0, errors=0, rps=0, service_cpu_ms_per_request=None, postgres_cpu_ms_per_request=None,
        generator_cpu_percent=None, generator_bound=False, error=error,
    )  # fmt: skip


def _measure(context: _Context, target: Target, scenario: str, round_no: int, position: int) -> Window:
    plan = context.plan
    database = target.database
    if database is not None and SCENARIOS[scenario].writes:
        reset_tasks(database.url, context.seed_tasks)  # every create window starts from the same table
    name = target.side.label.replace(":", "+")
    out = context.raw / scenario / f"round{round_no:02d}-{name}.out"
    groups = {
        SERVICE: target.pids,
        POSTGRES: lambda: tree_pids(database.server_pid if database else None),
    }
    started = time.time()
    try:
        if plan.warmup_s:
            run_wrk(context.wrk, WrkSettings(scenario, plan.connections, plan.warmup_s), target.url,
                    context.raw / "warmup.out", context.generator_cpus)  # fmt: skip
        result, sampler = run_wrk(
            context.wrk, WrkSettings(scenario, plan.connections, plan.window_s), target.url, out,
            context.generator_cpus, groups,
        )  # fmt: skip
    except BenchError as exc:
        return _failed(target.side.label, scenario, round_no, position, started, str(exc))
    requests = int(result.summary["requests"])
    first, last = sampler.samples[0], sampler.samples[-1]

    def per_request(group: str) -> float | None:
        if not requests:
            return None
        spent = max(last.cpu_seconds[group] - first.cpu_seconds[group], 0.0)
        return round(1000 * spent / requests, 4)

    latency = result.latency_ms()
    return Window(
        round=round_no, position=position, side=target.side.label, scenario=scenario, started_at=started,
        seconds=round(result.summary["duration_us"] / 1e6, 3), requests=requests, errors=result.errors,
        socket_errors=result.errors - int(result.summary["failed"]),
        rps=round(result.good_rps, 2), service_cpu_ms_per_request=per_request(SERVICE),
        postgres_cpu_ms_per_request=per_request(POSTGRES), generator_cpu_percent=result.cpu_percent,
        generator_bound=result.bound, p50_ms=latency["p50"], p99_ms=latency["p99"],
        cpu_source=cpu_source(last, (SERVICE, POSTGRES)),
        service_peak_rss_mb=round(max(s.rss_bytes.get(SERVICE, 0) for s in sampler.samples) / 2**20, 1),
    )  # fmt: skip


def _round_line(scenario: str, round_no: int, rounds: int, windows: list[Window]) -> str:
    rates = [w.rps for w in windows if w.usable]
    failed = len(windows) - len(rates)
    erring = sum(w.errors > 0 for w in windows if w.usable)
    spread = f"{min(rates):,.0f} to {max(rates):,.0f} req/s" if rates else "no usable window"
    note = (f", {failed} failed" if failed else "") + (f", {erring} with errors" if erring else "")
    return f"{scenario} round {round_no}/{rounds}: {len(windows)} sides, {spread}{note}"


def measure(
    plan: RoundsPlan,
    wrk: Wrk,
    sides: list[Side],
    scenarios: list[str],
    start_block: StartBlock,
    generator_cpus: frozenset[int] | None,
    run_dir: Path,
    run_id: str,
    seed_tasks: int,
    decided: Decided | None = None,
) -> Rounds:
    """Every scenario's rounds; rounds.json is rewritten after every round, so an interrupt or a
    failure keeps every window measured so far (marked incomplete)."""
    labels = [side.label for side in sides]
    by_label = dict(zip(labels, sides, strict=True))
    plan_orders = orders(labels, scenarios, plan.rounds, plan.seed)
    context = _Context(plan, wrk, generator_cpus, run_dir / "raw" / "rounds", seed_tasks)
    windows: list[Window] = []
    stopped: list[int] = []

    def record(status: Status) -> Rounds:
        return Rounds(
            run_id=run_id, status=status, generator=wrk.generator, sides_up=plan.sides_up, seed=plan.seed,
            rounds=plan.rounds, window_s=plan.window_s, warmup_s=plan.warmup_s,
            connections=plan.connections, sides=labels, scenarios=scenarios, orders=plan_orders,
            windows=windows, looks=plan.looks, stopped_after=stopped[0] if stopped else None,
        )  # fmt: skip

    def write(status: Status) -> Rounds:
        rounds = record(status)
        write_record(run_dir / ROUNDS_FILE, rounds)
        return rounds

    looks = set(look_points(plan.rounds, plan.looks)) if plan.looks > 1 else set()
    starts = sorted(block_starts(plan.rounds, plan.blocks))
    try:
        for index, first in enumerate(starts):
            last = starts[index + 1] - 1 if index + 1 < len(starts) else plan.rounds
            with start_block() as acquire:
                for scenario in scenarios:
                    _warm_up_pass(context, sides, scenario, acquire)
                # Scenarios take turns within a round, so a look after round r sees r rounds of each.
                for round_no in range(first, last + 1):
                    for scenario in scenarios:
                        this_round = []
                        for position, label in enumerate(plan_orders[scenario][round_no - 1]):
                            try:
                                with acquire(by_label[label]) as target:
                                    window = _measure(context, target, scenario, round_no, position)
                            except BenchError as exc:  # a side that did not start for this block
                                window = _failed(label, scenario, round_no, position, time.time(), str(exc))
                            this_round.append(window)
                        windows += this_round
                        write("incomplete")
                        line = _round_line(scenario, round_no, plan.rounds, this_round)
                        print("  " + line, file=sys.stderr)
                    looked = round_no in looks and round_no < plan.rounds
                    if looked and decided is not None and decided(record("incomplete")):
                        stopped.append(round_no)
                        break
            if stopped:
                print(f"  every verdict decided after {stopped[0]} of {plan.rounds} rounds: stopping",
                      file=sys.stderr)  # fmt: skip
                break
    except BaseException:
        write("incomplete")
        raise
    failed = any(window.error is not None for window in windows)
    return write("failed" if failed else "complete")


def _warm_up_pass(context: _Context, sides: list[Side], scenario: str, acquire: Acquire) -> None:
    """One unmeasured second of the scenario on every side before its first round: the first request
    of a fresh process (imports, a first connection) is not what the rounds measure."""
    if context.plan.sides_up == "alone":
        return  # each window starts its side afresh, and its own warm-up is the window's warm-up
    for side in sides:
        try:
            with acquire(side) as target:
                if target.database is not None and SCENARIOS[scenario].writes:
                    reset_tasks(target.database.url, context.seed_tasks)
                run_wrk(context.wrk, WrkSettings(scenario, context.plan.connections, 1), target.url,
                        context.raw / "warmup.out", context.generator_cpus)  # fmt: skip
        except BenchError as exc:
            print(f"  warm-up of {side.label} on {scenario} failed: {exc}", file=sys.stderr)
