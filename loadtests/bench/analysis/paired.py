"""Paired-round statistics: a ratio with its interval, the verdict word the interval allows, and a
run's verdicts judged together.

Every side runs once per round, in a shuffled order, so drift that slows a round slows every side in
it. A side is judged against its baseline on the rounds' paired log-ratios:

- the ratio is exp of their Hodges-Lehmann estimate (the median of the pairwise means, "Walsh
  averages"), and its interval is the Wilcoxon signed-rank interval for it (order statistics of the
  Walsh averages chosen by the exact signed-rank distribution). It assumes the log-ratios are
  symmetric about their centre, not normal; on this machine's heavy-tailed rounds it needs about two
  thirds of the rounds the sign test needs for the same width (docs/methodology.md, "Choosing the
  design", measured on recorded runs by bench.analysis.power);
- a run's comparisons share one error budget: with m comparisons each interval is at 1 - 0.05/m
  (Bonferroni, the first step of Holm's procedure), so every verdict printed holds together and the
  chance of any false "faster"/"slower" in the run stays at 5% or less; comparisons too short to reach
  that level at all cannot err and do not take a share;
- with adaptive rounds (looks at several round counts, stopping when everything is decided) each look
  takes an equal share too, so stopping early does not raise the error rate;
- "same" is an equivalence test (two one-sided tests): the interval at 1 - 2*0.05/m lies within the
  margin (+-5% by default). A difference whose interval excludes 1 but lies inside the margin reads
  "faster, under 5%".

A side's own median (capacity, CPU per request) keeps the sign test's distribution-free interval: it
describes one run on a drifting machine, not a comparison.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import numpy as np

FAMILY_ERROR = 0.05  # the chance of any false verdict in a run
CONFIDENCE = 1 - FAMILY_ERROR  # a side's own median interval
MARGIN = 0.05  # ratios within 0.95-1.05 are "the same" when the interval shows it
SAME_BAND = MARGIN
MIN_ROUNDS = 6  # the fewest paired rounds whose interval can reach 95% at all (2 / 2**6 < 0.05)
# A minimum effect users ask about, for the rounds a run would need (plan_rounds).
PLANNING_EFFECT = 0.10
PLANNING_POWER = 0.80
# The signed-rank test's efficiency relative to the t-test on normal data (3/pi); on heavier tails it
# is higher, so plans made with it are, if anything, cautious.
_WILCOXON_EFFICIENCY = 3 / math.pi
_EXACT_UP_TO = 60  # rounds; beyond, the normal approximation of the signed-rank statistic is accurate

FASTER, SLOWER = "faster", "slower"
CHEAPER, COSTLIER = "cheaper", "costlier"
SAME = "same (within ±5%)"
UNCLEAR = "unclear"
UNDER_MARGIN = "under 5%"


@dataclass(frozen=True)
class Estimate:
    """A median with its distribution-free 95% interval (None where there are too few values)."""

    value: float
    low: float | None
    high: float | None
    count: int

    @property
    def decided(self) -> bool:
        return self.low is not None and self.high is not None


@dataclass(frozen=True)
class Ratio:
    """One side against its baseline on one metric, from paired rounds."""

    value: float
    low: float | None
    high: float | None
    rounds: int
    word: str  # FASTER/SLOWER (or CHEAPER/COSTLIER), possibly with ", under 5%"; SAME or UNCLEAR
    confidence: float | None = None  # the interval's own level (1 - 0.05/share); None: no interval
    family: int = 1  # comparisons sharing the run's 5% error budget (x looks)
    unit: str = "rounds"  # what the pairs are: rounds (capacity, CPU) or repeats (p99)

    @property
    def interval(self) -> str:
        if self.low is None or self.high is None:
            return "[no interval]"
        return f"[{self.low:.2f}, {self.high:.2f}]"

    @property
    def decided(self) -> bool:
        return self.word != UNCLEAR

    @property
    def direction(self) -> str | None:
        """faster/slower (cheaper/costlier) when the interval excludes 1, else None."""
        if self.word in (UNCLEAR, SAME):
            return None
        return self.word.split(",")[0]

    def describe(self) -> str:
        """`0.31x [0.29, 0.34] slower` with a typeset multiplication sign."""
        if self.low is None or self.high is None:
            needed = fewest_rounds(1 - FAMILY_ERROR / self.family)
            return f"{self.value:.2f}\u00d7 {self.word} ({self.rounds} {self.unit}; its share needs {needed})"
        return f"{self.value:.2f}\u00d7 {self.interval} {self.word}"


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The sign test's interval for the median of `values`, or None when too few values reach it."""
    if len(values) < MIN_ROUNDS:
        return None
    # Imported where used: scipy.stats takes seconds to import, and most commands never judge a ratio.
    from scipy import stats

    result = stats.quantile_test(np.asarray(values, dtype=float), q=0.0, p=0.5)
    # scipy returns a ConfidenceInterval(low, high); scipy-stubs 1.17 types it as a float, wrongly.
    interval = cast(Any, result.confidence_interval(confidence_level=confidence))
    low, high = float(interval.low), float(interval.high)
    if math.isnan(low) or math.isnan(high):
        return None
    return low, high


def estimate(values: Sequence[float]) -> Estimate | None:
    """A side's own median with its interval (capacity, CPU per request) over its rounds."""
    present = [float(v) for v in values if math.isfinite(v)]
    if not present:
        return None
    interval = median_interval(present)
    low, high = interval if interval is not None else (None, None)
    return Estimate(float(np.median(present)), low, high, len(present))


@cache
def _signed_rank_cdf(n: int) -> np.ndarray:
    """P(W+ <= w) for w = 0 .. n(n+1)/2 under "no difference", exactly.

    Written here because scipy exposes the signed-rank test's p-value but not the quantiles that an
    interval needs. Each rank 1..n joins the positive sum with probability 1/2: a running
    convolution of the sum's distribution, in probabilities so nothing overflows.
    """
    top = n * (n + 1) // 2
    density = np.zeros(top + 1)
    density[0] = 1.0
    for rank in range(1, n + 1):
        shifted = np.zeros_like(density)
        shifted[rank:] = density[:-rank]
        density = (density + shifted) / 2
    return np.cumsum(density)


def _lower_count(n: int, tail: float) -> int:
    """The largest k with P(W+ < k) <= tail: the interval runs from the k-th smallest Walsh average
    to the k-th largest (0: no interval reaches this level with n rounds)."""
    if n <= _EXACT_UP_TO:
        cdf = _signed_rank_cdf(n)
        return int(np.searchsorted(cdf, tail, side="right"))
    from scipy import stats

    mean, sd = n * (n + 1) / 4, math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    return max(math.floor(mean + float(stats.norm.ppf(tail)) * sd + 0.5), 0)


def fewest_rounds(confidence: float) -> int:
    """The fewest paired rounds whose signed-rank interval can reach `confidence` at all."""
    return max(1, math.ceil(math.log2(2 / (1 - confidence))))


def _walsh(logs: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(logs))
    return np.sort((logs[i] + logs[j]) / 2)


def _interval(walsh: np.ndarray, n: int, confidence: float) -> tuple[float, float] | None:
    k = _lower_count(n, (1 - confidence) / 2)
    if k < 1:
        return None
    return float(walsh[k - 1]), float(walsh[len(walsh) - k])


def hodges_lehmann(logs: Sequence[float], confidence: float) -> tuple[float, float, float] | None:
    """(estimate, low, high) on the log scale at `confidence`, or None when the rounds cannot reach it."""
    walsh = _walsh(np.asarray(logs, dtype=float))
    interval = _interval(walsh, len(logs), confidence)
    if interval is None:
        return None
    return float(np.median(walsh)), *interval


@dataclass(frozen=True)
class Sample:
    """One comparison's paired values: a side and its baseline over the rounds both completed."""

    values: Sequence[float]
    base_values: Sequence[float]
    higher: str = FASTER  # the word for a ratio above 1
    lower: str = SLOWER
    unit: str = "rounds"

    def logs(self) -> list[float]:
        if len(self.values) != len(self.base_values):
            raise ValueError("paired values must come from the same rounds")
        return [
            math.log(a / b)
            for a, b in zip(self.values, self.base_values, strict=True)
            if a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)
        ]


def family_share(counts: Sequence[int], looks: int = 1) -> int:
    """How many equal shares the 5% is split into: the fewest shares s such that no more than s
    comparisons have rounds enough to reach 1 - 0.05/s at all, times the looks. A comparison too short
    to decide at its share cannot err, and counting it would only cost the others power."""
    for share in range(1, max(len(counts), 1) + 1):
        level = 1 - FAMILY_ERROR / (share * looks)
        if sum(1 for n in counts if n >= fewest_rounds(level)) <= share:
            return share * looks
    return max(len(counts), 1) * looks


def word_for(
    low: float | None,
    high: float | None,
    higher: str,
    lower: str,
    same_low: float | None = None,
    same_high: float | None = None,
) -> str:
    """The verdict: a direction only when the interval excludes 1 ("under 5%" when the equivalence
    interval also stays inside the margin); "same" when the equivalence interval lies in the margin."""
    if low is None or high is None:
        return UNCLEAR
    same_low = low if same_low is None else same_low
    same_high = high if same_high is None else same_high
    inside = same_low >= 1 - MARGIN and same_high <= 1 + MARGIN
    if low > 1:
        return f"{higher}, {UNDER_MARGIN}" if inside else higher
    if high < 1:
        return f"{lower}, {UNDER_MARGIN}" if inside else lower
    return SAME if inside else UNCLEAR


def judge(sample: Sample, share: int = 1) -> Ratio | None:
    """One comparison at its share of the run's error budget (1: judged alone, at 95%)."""
    logs = sample.logs()
    if not logs:
        return None
    alpha = FAMILY_ERROR / share
    walsh = _walsh(np.asarray(logs))
    centre = math.exp(float(np.median(walsh)))
    interval = _interval(walsh, len(logs), 1 - alpha)
    if interval is None:
        return Ratio(centre, None, None, len(logs), UNCLEAR, None, share, sample.unit)
    low, high = math.exp(interval[0]), math.exp(interval[1])
    same = _interval(walsh, len(logs), 1 - 2 * alpha)
    same_low, same_high = (math.exp(same[0]), math.exp(same[1])) if same else (None, None)
    word = word_for(low, high, sample.higher, sample.lower, same_low, same_high)
    return Ratio(centre, low, high, len(logs), word, 1 - alpha, share, sample.unit)


def judge_family(samples: Sequence[Sample], looks: int = 1) -> list[Ratio | None]:
    """Every comparison a run prints, judged together so the run's verdicts hold together."""
    counts = [len(s.logs()) for s in samples]
    share = family_share(counts, looks)
    return [judge(sample, share) for sample in samples]


def paired_ratio(
    values: Sequence[float], base_values: Sequence[float], *, higher: str = FASTER, lower: str = SLOWER
) -> Ratio | None:
    """values[i] / base_values[i] over the rounds both sides completed, judged alone (at 95%).

    Pairs where either value is missing, zero or not finite are dropped, never imputed.
    """
    return judge(Sample(values, base_values, higher, lower))


@dataclass(frozen=True)
class Resolution:
    """What a run's rounds could tell, from the spread of its paired rounds."""

    spread: float  # robust sd of one round's log-ratio about its comparison's centre
    rounds: int
    share: int
    detectable: float  # the difference decided 4 times in 5 at these rounds (0.22: 22%)
    rounds_for_planning: int  # rounds that would decide PLANNING_EFFECT 4 times in 5

    def describe(self) -> str:
        fewest = fewest_rounds(1 - FAMILY_ERROR / self.share)
        if self.rounds < fewest:
            return (
                f"{self.rounds} rounds cannot decide anything at a 1/{self.share} share of the 5% error "
                f"budget (at least {fewest} can); at this run's spread (one round's log-ratio varies by "
                f"{self.spread:.2f}) a {PLANNING_EFFECT:.0%} difference would need about "
                f"{self.rounds_for_planning} rounds"
            )
        return (
            f"at this run's spread (one round's log-ratio varies by {self.spread:.2f}), {self.rounds} "
            f"rounds decide a difference of {self.detectable:.0%} or more 4 times in 5; a "
            f"{PLANNING_EFFECT:.0%} difference would need about {self.rounds_for_planning} rounds"
        )


def _z_sum(share: int) -> float:
    from scipy import stats

    return float(stats.norm.ppf(1 - FAMILY_ERROR / share / 2) + stats.norm.ppf(PLANNING_POWER))


def pooled_spread(samples: Sequence[Sample]) -> float | None:
    """The robust sd (scaled median absolute deviation) of every comparison's log-ratios about its
    own centre: pooled over the run's comparisons, steadier than any one comparison's six rounds."""
    residuals: list[float] = []
    for sample in samples:
        logs = sample.logs()
        if len(logs) >= 3:
            centre = float(np.median(_walsh(np.asarray(logs))))
            residuals += [x - centre for x in logs]
    if len(residuals) < 6:
        return None
    from scipy import stats

    return float(stats.median_abs_deviation(residuals, scale="normal"))


def plan_rounds(spread: float, share: int, effect: float = PLANNING_EFFECT) -> int:
    """Rounds that decide a true `effect` with PLANNING_POWER at a share of the budget."""
    needed = (_z_sum(share) * spread / math.log1p(effect)) ** 2 / _WILCOXON_EFFICIENCY
    return max(math.ceil(needed), fewest_rounds(1 - FAMILY_ERROR / share))


def resolution(samples: Sequence[Sample], share: int) -> Resolution | None:
    spread = pooled_spread(samples)
    rounds = max((len(s.logs()) for s in samples), default=0)
    if spread is None or rounds == 0:
        return None
    detectable = math.expm1(_z_sum(share) * spread / math.sqrt(rounds * _WILCOXON_EFFICIENCY))
    return Resolution(spread, rounds, share, detectable, plan_rounds(spread, share))
