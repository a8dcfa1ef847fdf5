"""Steps measured from the step shape's tick log and the samples: window, rps, p99, CPU (see saturate)."""

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common.errors import BenchError
from bench.load.locust_output import percentile
from bench.load.sampling import INTERVAL_S, Sample
from bench.run.case import LOCUST, SERVICE
from bench.run.knee import Step, StopRules, Verdict, decide

SETTLE_S = 2  # seconds after the shape asks for a step's users before its requests count


_TICK_SLACK_S = 0.25  # ticks come a second apart, give or take: the second one after the ask counts


@dataclass(frozen=True)
class Tick:
    """One line of the shape's tick log."""

    at: float  # unix time
    target: int | None  # the users this tick asked for; None on the last tick
    users: int  # the users running when it was taken
    requests: int  # cumulative since Locust started
    failures: int
    response_times: dict[float, int]  # Locust's cumulative histogram, {bucketed ms: count}


def _tick(raw: Any) -> Tick:
    histogram = raw["response_times"]
    if not isinstance(histogram, dict):
        raise TypeError("response_times is not an object")
    target = raw["target"]
    return Tick(
        at=float(raw["at"]),
        target=None if target is None else int(target),
        users=int(raw["users"]),
        requests=int(raw["requests"]),
        failures=int(raw["failures"]),
        response_times={float(ms): int(count) for ms, count in histogram.items()},
    )


def read_ticks(path: Path) -> list[Tick]:
    """The tick log so far; a line still being written is left for the next reading."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"cannot read the step shape's log {path}: {exc}") from None
    ticks = []
    for number, line in enumerate(text[: text.rfind("\n") + 1].splitlines(), 1):
        try:
            ticks.append(_tick(json.loads(line)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BenchError(f"{path}: line {number} is not a tick the step shape writes ({exc})") from None
    return ticks


@dataclass(frozen=True)
class _Run:
    """Consecutive ticks at one of the schedule's user counts."""

    users: int
    asked_at: float  # when the shape asked for these users
    ticks: tuple[Tick, ...]
    failures_before: int  # cumulative failures at the previous step's last tick
    closed: bool  # a later tick exists, so none of this step's ticks is still to come


def _runs(ticks: Sequence[Tick], counts: Sequence[int]) -> list[_Run]:
    wanted = set(counts)
    runs: list[_Run] = []
    start = 0
    while start < len(ticks):
        end = start
        while end < len(ticks) and ticks[end].users == ticks[start].users:
            end += 1
        users = ticks[start].users
        # Ramp ticks (counts between steps) are no step, and counts only go up.
        if users in wanted and (not runs or users > runs[-1].users):
            asked = next((t.at for t in ticks[: start + 1] if t.target == users), ticks[start].at)
            before = runs[-1].ticks[-1].failures if runs else 0
            runs.append(_Run(users, asked, tuple(ticks[start:end]), before, closed=end < len(ticks)))
        start = end
    return runs


def _counted(run: _Run) -> list[Tick]:
    return [t for t in run.ticks if t.at >= run.asked_at + SETTLE_S - _TICK_SLACK_S]


def _window_samples(samples: Sequence[Sample], opened: float, closed: float) -> list[Sample]:
    # A sample covers the interval before it was taken (the first covers nothing); its middle decides.
    return [s for s in samples[1:] if opened <= s.at - INTERVAL_S / 2 <= closed]


def _mean_cpu(samples: Sequence[Sample], group: str) -> float | None:
    return round(statistics.fmean(s.cpu_percent[group] for s in samples), 1) if samples else None


def _measure(run: _Run, samples: Sequence[Sample]) -> Step:
    counted = _counted(run)
    if len(counted) < 2:
        raise BenchError(
            f"the step at {run.users} users left fewer than two ticks after settling "
            "(Locust may be overloaded): use longer steps (--step-seconds)"
        )
    first, last = counted[0], counted[-1]
    histogram = {ms: n - first.response_times.get(ms, 0) for ms, n in last.response_times.items()}
    p99 = percentile({ms: n for ms, n in histogram.items() if n > 0}, 0.99)
    window = _window_samples(samples, first.at, last.at)
    return Step(
        users=run.users,
        rps=round((last.requests - first.requests) / (last.at - first.at), 2),
        p99=float(p99) if p99 is not None else None,
        failures=run.ticks[-1].failures - run.failures_before,
        locust_cpu_percent=_mean_cpu(window, LOCUST),
        service_cpu_percent=_mean_cpu(window, SERVICE),
    )


def evaluate(
    ticks: Sequence[Tick],
    samples: Sequence[Sample],
    counts: Sequence[int],
    rules: StopRules,
    *,
    finished: bool,
) -> tuple[list[Step], Verdict | None]:
    """Steps measured in order up to the first verdict. While Locust runs (`finished` False) a step is
    measured only once its ticks are final and the samples reach past its window."""
    steps: list[Step] = []
    for run in _runs(ticks, counts):
        if not finished:
            covered = bool(samples) and samples[-1].at - INTERVAL_S / 2 > run.ticks[-1].at
            if not (run.closed and covered):
                break
        steps.append(_measure(run, samples))
        verdict = decide(steps, rules, counts[-1])
        if verdict is not None:
            return steps, verdict
    return steps, None
