"""What the comparison method can decide, measured on recorded runs rather than assumed.

A recorded run of identical sides (an A/A run) holds this machine's real noise: its rounds' log-ratios
are what a comparison of two equal sides looks like. Drawing rounds from it many times gives:

- the false-verdict rate: how often a run of that many rounds prints any "faster"/"slower" (or
  "cheaper"/"costlier") about sides that are the same, over all its comparisons together;
- the power: the same draws with one side's values scaled by a known effect (a 10% cost per request
  makes its capacity 1/1.1 and its CPU 1.1 times), and how often that effect is decided in the right
  direction.

Designs compared (docs/methodology.md, "Choosing the design"): the sign test alone (the method before
this one), the signed-rank interval alone, and the signed-rank interval with the run's comparisons
sharing one error budget (what the harness uses), on capacity and on CPU per request.
"""

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from bench.analysis.paired import (
    CHEAPER,
    COSTLIER,
    FAMILY_ERROR,
    FASTER,
    SLOWER,
    Ratio,
    Sample,
    family_share,
    judge,
    median_interval,
    word_for,
)
from bench.common.errors import BenchError
from bench.common.schema import Rounds

Metric = Literal["rps", "service_cpu_ms_per_request"]
Method = Literal["sign test alone", "signed-rank alone", "signed-rank, run's budget shared"]
METHODS: tuple[Method, ...] = ("sign test alone", "signed-rank alone", "signed-rank, run's budget shared")
_WORDS = {"rps": (FASTER, SLOWER), "service_cpu_ms_per_request": (COSTLIER, CHEAPER)}


@dataclass(frozen=True)
class Table:
    """A recorded run's usable rounds: for each scenario, each round's value per side."""

    sides: list[str]
    rounds: dict[str, list[dict[str, float]]]  # scenario -> one dict per complete round

    def comparisons(self) -> list[tuple[str, str, str]]:
        """(scenario, side, baseline): every side against the first, as make bench's family is sized."""
        return [(scenario, side, self.sides[0]) for scenario in self.rounds for side in self.sides[1:]]


def table(record: Rounds, metric: Metric) -> Table:
    found: dict[tuple[str, int], dict[str, float]] = {}
    for window in record.windows:
        value = getattr(window, metric)
        if window.usable and value is not None and value > 0:
            found.setdefault((window.scenario, window.round), {})[window.side] = float(value)
    rounds: dict[str, list[dict[str, float]]] = {}
    for (scenario, _), values in sorted(found.items()):
        if len(values) == len(record.sides):
            rounds.setdefault(scenario, []).append(values)
    if not rounds:
        raise BenchError(f"{record.run_id}: no round where every side measured {metric}")
    return Table(list(record.sides), rounds)


def _draw(count: int, size: int, rng: random.Random) -> list[int]:
    """Rounds drawn without replacement while the record has enough, else with replacement."""
    if size <= count:
        return rng.sample(range(count), size)
    return [rng.randrange(count) for _ in range(size)]


def _judge(method: Method, sample: Sample, share: int) -> Ratio | None:
    if method == "sign test alone":
        logs = sample.logs()
        interval = median_interval(logs)
        if interval is None:
            return None
        low, high = math.exp(interval[0]), math.exp(interval[1])
        word = word_for(low, high, sample.higher, sample.lower)
        return Ratio(math.exp(sorted(logs)[len(logs) // 2]), low, high, len(logs), word)
    return judge(sample, 1 if method == "signed-rank alone" else share)


def _samples(
    data: Table, metric: Metric, chosen: dict[str, list[int]], effect: float, scaled: str | None
) -> list[Sample]:
    higher, lower = _WORDS[metric]
    # A side that costs `effect` more per request serves 1/(1+effect) as much and spends 1+effect CPU.
    factor = 1 / (1 + effect) if metric == "rps" else 1 + effect
    samples = []
    for scenario, side, base in data.comparisons():
        rows = [data.rounds[scenario][i] for i in chosen[scenario]]
        scale = factor if side == scaled else 1.0
        samples.append(Sample([r[side] * scale for r in rows], [r[base] for r in rows], higher, lower))
    return samples


@dataclass(frozen=True)
class Outcome:
    method: Method
    metric: Metric
    rounds: int
    draws: int
    comparisons: int
    runs_with_a_false_verdict: float  # share of A/A runs printing any faster/slower
    false_verdicts_per_run: float
    power: float | None  # share of runs deciding the scaled side's effect in the right direction
    effect: float


def _directional(ratio: Ratio | None) -> str | None:
    return ratio.direction if ratio is not None else None


def simulate(
    record: Rounds,
    metric: Metric,
    method: Method,
    rounds: int,
    draws: int,
    *,
    effect: float = 0.10,
    seed: int = 2026,
) -> Outcome:
    """`draws` simulated runs of `rounds` rounds drawn from the recorded A/A run: how often any
    comparison errs, and how often an effect of `effect` on one side is decided."""
    data = table(record, metric)
    comparisons = data.comparisons()
    share = family_share([rounds] * len(comparisons))
    rng = random.Random(seed)
    erring_runs = false_total = detected = 0
    scaled = data.sides[1]
    right = (SLOWER if metric == "rps" else COSTLIER) if effect > 0 else None
    for _ in range(draws):
        chosen = {scenario: _draw(len(rows), rounds, rng) for scenario, rows in data.rounds.items()}
        null = [_directional(_judge(method, s, share)) for s in _samples(data, metric, chosen, 0.0, None)]
        false = sum(1 for word in null if word is not None)
        erring_runs += false > 0
        false_total += false
        if right is not None:
            shifted = _samples(data, metric, chosen, effect, scaled)
            target = next(s for (_, side, _), s in zip(comparisons, shifted, strict=True) if side == scaled)
            detected += _directional(_judge(method, target, share)) == right
    return Outcome(
        method, metric, rounds, draws, len(comparisons), erring_runs / draws, false_total / draws,
        detected / draws if right is not None else None, effect,
    )  # fmt: skip


def design_table(
    record: Rounds, round_counts: Sequence[int], draws: int, effect: float = 0.10
) -> Iterator[Outcome]:
    for metric in ("rps", "service_cpu_ms_per_request"):
        for method in METHODS:
            for rounds in round_counts:
                yield simulate(record, metric, method, rounds, draws, effect=effect)


def render(outcomes: Sequence[Outcome]) -> list[str]:
    header = ("metric", "method", "rounds", "comparisons", "runs with any false verdict",
              "false verdicts / run", "power")  # fmt: skip
    rows = [
        (
            "capacity" if o.metric == "rps" else "CPU per request",
            o.method,
            str(o.rounds),
            str(o.comparisons),
            f"{o.runs_with_a_false_verdict:.1%}",
            f"{o.false_verdicts_per_run:.2f}",
            f"{o.power:.0%} at {o.effect:.0%}" if o.power is not None else "—",
        )
        for o in outcomes
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


BUDGET_NOTE = (
    f"every run's comparisons together are allowed {FAMILY_ERROR:.0%} of runs with any false verdict"
)
