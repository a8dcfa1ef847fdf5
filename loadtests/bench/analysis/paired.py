"""Paired-round statistics: a ratio with its 95% interval, and the verdict word the interval allows.

Every side runs once per round, in a shuffled order, so drift that slows a round slows every side in
it. A side is judged against its baseline on the rounds' paired log-ratios: the ratio is exp of their
median, and the interval is the sign test's distribution-free interval for that median (order
statistics chosen by the binomial distribution; scipy.stats.quantile_test computes it). It assumes
nothing about the shape of the noise, which on a shared machine is skewed and heavy-tailed, and it
needs at least six rounds to reach 95% (with five, even [min, max] covers only 94%).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

CONFIDENCE = 0.95
SAME_BAND = 0.05  # a ratio whose whole interval lies within 0.95-1.05 is "the same"
MIN_ROUNDS = 6  # the fewest paired rounds whose sign-test interval reaches 95% coverage
MAX_ROUNDS_SUGGESTED = 200
_Z = 1.959964  # the normal quantile for a 95% two-sided interval
# The sample median's standard error is sqrt(pi/2) times the mean's for normal data: the rounds a
# median interval needs, estimated from the rounds' spread.
_MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2)

FASTER, SLOWER = "faster", "slower"
CHEAPER, COSTLIER = "cheaper", "costlier"
SAME = "same (within ±5%)"
UNCLEAR = "unclear"


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
    word: str  # FASTER/SLOWER (or CHEAPER/COSTLIER), SAME or UNCLEAR
    rounds_needed: int | None  # for an unclear answer: rounds the observed spread suggests

    @property
    def interval(self) -> str:
        if self.low is None or self.high is None:
            return "[no interval]"
        return f"[{self.low:.2f}, {self.high:.2f}]"

    def describe(self) -> str:
        """`0.31x [0.29, 0.34] slower`, or `1.04x [0.93, 1.16] unclear (about 24 rounds would tell)`,
        with a typeset multiplication sign."""
        text = f"{self.value:.2f}\u00d7 {self.interval} {self.word}"
        if self.word == UNCLEAR and self.rounds_needed is not None:
            text += f" (about {self.rounds_needed} rounds would tell)"
        return text


def median_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """The sign test's 95% interval for the median of `values`, or None below MIN_ROUNDS values."""
    if len(values) < MIN_ROUNDS:
        return None
    # Imported where used: scipy.stats takes seconds to import, and most commands never judge a ratio.
    from scipy import stats

    result = stats.quantile_test(np.asarray(values, dtype=float), q=0.0, p=0.5)
    # scipy returns a ConfidenceInterval(low, high); scipy-stubs 1.17 types it as a float, wrongly.
    interval = cast(Any, result.confidence_interval(confidence_level=CONFIDENCE))
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


def rounds_needed(log_ratios: Sequence[float], interval: tuple[float, float] | None = None) -> int:
    """Rounds whose interval would be narrow enough to decide, at the spread these rounds show.

    Deciding needs the interval's half-width under |median| (a direction) or under the room left to
    the ±5% band (the same); the easier of the two sets the target. With the sign test's own interval
    (log scale) the answer scales it as 1/sqrt(rounds): it holds this run's wild rounds, which a
    spread estimate would smooth away, so the hint agrees with the verdict. Without one (under six
    rounds) the spread is the normal-scaled median absolute deviation. Never fewer rounds than were
    run plus one: these did not decide.
    """
    logs = np.asarray(log_ratios, dtype=float)
    centre = abs(float(np.median(logs)))
    target = max(centre, math.log1p(SAME_BAND) - centre)
    fewest = max(MIN_ROUNDS, len(logs) + 1)
    if target <= 0:
        return fewest
    if interval is not None:
        half = (interval[1] - interval[0]) / 2
        needed = math.ceil(len(logs) * (half / target) ** 2)
    else:
        from scipy import stats  # here: the CLI starts without scipy

        spread = float(stats.median_abs_deviation(logs, scale="normal"))
        needed = math.ceil((_Z * _MEDIAN_EFFICIENCY * spread / target) ** 2)
    return min(max(needed, fewest), MAX_ROUNDS_SUGGESTED)


def word_for(low: float | None, high: float | None, higher: str, lower: str) -> str:
    """Verdict words follow the interval: a direction only when it excludes 1."""
    if low is None or high is None:
        return UNCLEAR
    if low > 1:
        return higher
    if high < 1:
        return lower
    if low >= 1 - SAME_BAND and high <= 1 + SAME_BAND:
        return SAME
    return UNCLEAR


def paired_ratio(
    values: Sequence[float], base_values: Sequence[float], *, higher: str = FASTER, lower: str = SLOWER
) -> Ratio | None:
    """values[i] / base_values[i] over the rounds both sides completed (pass None-free, aligned lists).

    Pairs where either value is missing, zero or not finite are dropped, never imputed.
    """
    if len(values) != len(base_values):
        raise ValueError("paired values must come from the same rounds")
    logs = [
        math.log(a / b)
        for a, b in zip(values, base_values, strict=True)
        if a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)
    ]
    if not logs:
        return None
    value = math.exp(float(np.median(logs)))
    interval = median_interval(logs)
    low, high = (math.exp(interval[0]), math.exp(interval[1])) if interval is not None else (None, None)
    word = word_for(low, high, higher, lower)
    needed = rounds_needed(logs, interval) if word == UNCLEAR else None
    if needed is not None and len(logs) < MIN_ROUNDS:
        needed = max(needed, MIN_ROUNDS)
    return Ratio(value, low, high, len(logs), word, needed)
