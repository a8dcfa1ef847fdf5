"""Summaries of a side's Locust trials: median and range (the verdicts come from bench.analysis.paired)."""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stat:
    """Median and range of one metric over a side's trials."""

    median: float
    low: float
    high: float
    count: int


def stat(values: Sequence[float | None]) -> Stat | None:
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    return Stat(statistics.median(present), min(present), max(present), len(present))
