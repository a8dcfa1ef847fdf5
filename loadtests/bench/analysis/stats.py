"""The statistics behind every comparison: summaries of trials and an exact permutation test."""

import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

SPREAD_WARNING = 0.10  # pyperf's threshold: beyond it the trials disagree more than a difference can mean
# C(12, 6) = 924 and C(20, 10) = 184,756 splits: enumerating up to this many is cheaper than a doubt.
EXACT_LIMIT = 200_000
MONTE_CARLO_RESAMPLES = 20_000
MONTE_CARLO_SEED = 12345


@dataclass(frozen=True)
class PermutationResult:
    """A two-sided permutation test of the difference in means."""

    p_value: float
    method: str  # "exact" or "monte-carlo"
    arrangements: int  # splits enumerated (exact) or resamples drawn (Monte-Carlo)
    smallest_p: float  # the best p this design can ever give (exact only; Monte-Carlo: 1/(R+1))

    def describe(self) -> str:
        if self.method == "exact":
            return f"exact permutation test over all {self.arrangements:,} splits"
        return f"Monte-Carlo permutation test, {self.arrangements:,} resamples, seed {MONTE_CARLO_SEED}"


def permutation_test(
    a: Sequence[float],
    b: Sequence[float],
    *,
    exact_limit: int = EXACT_LIMIT,
    resamples: int = MONTE_CARLO_RESAMPLES,
    seed: int = MONTE_CARLO_SEED,
) -> PermutationResult:
    """p: the share of relabellings of the pooled trials whose |mean difference| is at least the observed one.

    Exact when the number of splits C(n_a + n_b, n_a) is at most `exact_limit`; beyond that a seeded
    Monte-Carlo sample of random relabellings, with the usual (hits + 1) / (resamples + 1) so p is never 0.
    """
    if not a or not b:
        raise ValueError("a permutation test needs at least one value on each side")
    pooled = [float(x) for x in (*a, *b)]
    n_a, total = len(a), len(pooled)
    pooled_sum = math.fsum(pooled)

    def difference(chosen_sum: float) -> float:
        return abs(chosen_sum / n_a - (pooled_sum - chosen_sum) / (total - n_a))

    observed = difference(math.fsum(pooled[:n_a]))
    # Equal splits computed in a different order can differ in the last bits; they must still tie.
    tolerance = 1e-9 * max(1.0, max(abs(x) for x in pooled))
    splits = math.comb(total, n_a)
    if splits <= exact_limit:
        hits = sum(
            difference(math.fsum(pooled[i] for i in chosen)) >= observed - tolerance
            for chosen in itertools.combinations(range(total), n_a)
        )
        # The observed split and, with equal sizes, its mirror image are the fewest that can tie.
        smallest = (2 if 2 * n_a == total else 1) / splits
        return PermutationResult(hits / splits, "exact", splits, smallest)
    rng = random.Random(seed)
    shuffled = list(pooled)
    hits = 0
    for _ in range(resamples):
        rng.shuffle(shuffled)
        hits += difference(math.fsum(shuffled[:n_a])) >= observed - tolerance
    return PermutationResult((hits + 1) / (resamples + 1), "monte-carlo", resamples, 1 / (resamples + 1))


@dataclass(frozen=True)
class Stat:
    """Median and range of one metric over a side's trials."""

    median: float
    low: float
    high: float
    count: int

    @property
    def spread(self) -> float | None:
        """(max - min) / median, the share of the median the trials span; None for one trial."""
        if self.count < 2 or self.median == 0:
            return None
        return (self.high - self.low) / abs(self.median)

    @property
    def wide(self) -> bool:
        spread = self.spread
        return spread is not None and spread > SPREAD_WARNING


def stat(values: Sequence[float | None]) -> Stat | None:
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    return Stat(statistics.median(present), min(present), max(present), len(present))
