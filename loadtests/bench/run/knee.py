"""The saturation search's judgement, plain steps in, verdict out: stop rules and the knee (see saturate)."""

from collections.abc import Sequence
from dataclasses import dataclass

from bench.load.ceiling import BOUND_PERCENT as WRK_BOUND_PERCENT
from bench.run.case import GENERATOR_BOUND_PERCENT

PLATEAU = "throughput plateau"


P99_BOUND = "p99 bound"


ERRORS = "errors"


GENERATOR_BOUND = "generator-bound"


MAX_USERS = "max users"


STOP_REASONS = (PLATEAU, P99_BOUND, ERRORS, GENERATOR_BOUND, MAX_USERS)


MIN_GAIN = 0.05  # a step adding less than 5% rps over the previous one is a plateau


P99_BOUND_MS = 500.0


@dataclass(frozen=True)
class Step:
    users: int  # Locust users, or wrk connections
    rps: float
    p99: float | None
    failures: int
    locust_cpu_percent: float | None
    service_cpu_percent: float | None
    generator: str = "locust"
    wrk_cpu_percent: float | None = None  # wrk's steps: its mean CPU, against wrk_threads cores
    wrk_threads: int | None = None


@dataclass(frozen=True)
class StopRules:
    p99_bound_ms: float = P99_BOUND_MS
    min_gain: float = MIN_GAIN
    generator_percent: float = GENERATOR_BOUND_PERCENT  # of one core: all the one Locust process can use


@dataclass(frozen=True)
class Verdict:
    stopped_by: str
    stop_index: int  # the step that stopped the search
    knee_index: int | None  # None: not even the first step was sustainable


def schedule(start: int, step: int, max_users: int) -> list[int]:
    """The user counts the shape steps through: start, start + step, ... up to max_users."""
    return list(range(start, max_users + 1, step))


def gain(previous: Step, step: Step) -> float | None:
    return step.rps / previous.rps - 1 if previous.rps > 0 else None


def _stop_reason(step: Step, previous: Step | None, rules: StopRules) -> str | None:
    if step.failures > 0:
        return ERRORS
    if step.locust_cpu_percent is not None and step.locust_cpu_percent >= rules.generator_percent:
        return GENERATOR_BOUND
    if step.wrk_cpu_percent is not None and step.wrk_cpu_percent >= WRK_BOUND_PERCENT * (
        step.wrk_threads or 1
    ):
        return GENERATOR_BOUND
    if step.p99 is not None and step.p99 > rules.p99_bound_ms:
        return P99_BOUND
    growth = gain(previous, step) if previous is not None else None
    if growth is not None and growth < rules.min_gain:
        return PLATEAU
    return None


def decide(steps: Sequence[Step], rules: StopRules, last_users: int) -> Verdict | None:
    """The first step a rule stops at, or max users once the step at `last_users` passes every rule;
    None while the search should go on."""
    for index, step in enumerate(steps):
        reason = _stop_reason(step, steps[index - 1] if index else None, rules)
        if reason == PLATEAU:
            best = max(range(index + 1), key=lambda i: steps[i].rps)  # the first of equals
            return Verdict(reason, index, best)
        if reason is not None:
            return Verdict(reason, index, index - 1 if index else None)
    if steps and steps[-1].users >= last_users:
        return Verdict(MAX_USERS, len(steps) - 1, len(steps) - 1)
    return None


def stop_detail(steps: Sequence[Step], verdict: Verdict, rules: StopRules) -> str:
    step = steps[verdict.stop_index]
    at = f"{step.users} users"
    if verdict.stopped_by == PLATEAU:
        previous = steps[verdict.stop_index - 1]
        growth = gain(previous, step)
        return f"{at} gave {growth:+.1%} over {previous.users}" if growth is not None else at
    if verdict.stopped_by == P99_BOUND:
        return f"{at}: p99 {step.p99:,.0f} ms > {rules.p99_bound_ms:,.0f} ms"
    if verdict.stopped_by == ERRORS:
        return f"{at}: {step.failures:,} failed requests"
    if verdict.stopped_by == GENERATOR_BOUND and step.generator != "locust":
        return (
            f"{step.users} connections: wrk at {step.wrk_cpu_percent:.0f}% CPU of its {step.wrk_threads} "
            "thread(s); the service may go further with more load generation"
        )
    if verdict.stopped_by == GENERATOR_BOUND:
        return (
            f"{at}: Locust at {step.locust_cpu_percent:.0f}% CPU, limit {rules.generator_percent:.0f}%; "
            "the service may go further with more load generation (wrk was not used)"
        )
    return f"{at} passed every rule: the knee is further out"
