"""p99 at the common open-loop rates: each side's with an interval over repeats, and its ratio to a baseline.

Every common rate is measured `repeats` times per side, each repeat in a freshly shuffled order of the
sides (bench.run.openloop). A side's p99 at a rate is the median of its repeats' p99s with the
distribution-free interval bench.analysis.paired gives any median (it needs as many repeats as that
interval does: with fewer, a value and no interval). Against a baseline side, the p99 ratio is paired
by repeat, as capacity is paired by round: the repeats' log-ratios, their median and its interval;
higher is slower.

Each point's p99 is taken from the requests' intended send times, with requests that got no correct
answer counted at the timeout (bench.load.intended); a point whose latency came from vegeta's pickup
times (runs before that) is used as it is and says so (`latency_from`). Points the generator limited
are left out, and counted: a repeat where the side or the baseline was limited drops out of the pair.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from bench.analysis.paired import FASTER, SLOWER, Estimate, Ratio, estimate, paired_ratio
from bench.common.schema import LatencyFrom, OpenLoop, OpenLoopPoint


@dataclass(frozen=True)
class SideP99:
    """One side's p99 at one common rate, over its repeats the generator did not limit."""

    side: str
    p99_ms: Estimate | None  # None: every repeat was limited (or none succeeded)
    service_p99_ms: Estimate | None  # vegeta's own, from pickup: what the p99 would read without the waits
    repeats: int  # usable repeats behind p99_ms
    excluded: int  # repeats left out: the generator was the limit
    scheduled: int  # requests scheduled over the usable repeats
    failed: int  # of those, without a correct answer (errors, timeouts, never sent): in p99 at the timeout
    latency_from: LatencyFrom  # "pickup" if any repeat was measured the older way

    @property
    def failed_share(self) -> float:
        return self.failed / self.scheduled if self.scheduled else 0.0


@dataclass(frozen=True)
class P99Ratio:
    """A side's p99 over the baseline's at one rate, paired by repeat (higher is slower)."""

    side: str
    baseline: str
    ratio: Ratio | None  # None: no repeat where both were usable
    pairs: int  # repeats where both sides were usable


@dataclass(frozen=True)
class RateP99:
    """Every side at one common rate of one scenario."""

    scenario: str
    fraction: float  # of the reference (the slowest side's) capacity
    offered_rps: float
    sides: tuple[SideP99, ...]  # by label
    ratios: tuple[P99Ratio, ...]  # every other side against the baseline (empty: the baseline is absent)
    excluded: int  # points left out at this rate, every side together


def point_p99(point: OpenLoopPoint, timeout_ms: float | None) -> float | None:
    """The point's p99; a point measured from intended times where nothing succeeded is all failures,
    so its p99 is the timeout."""
    if point.generator_limited:
        return None
    if point.latency_ms is not None:
        return point.latency_ms.p99
    return timeout_ms if point.latency_from == "intended" and point.requests else None


def side_p99(label: str, points: list[OpenLoopPoint], timeout_ms: float | None) -> SideP99:
    p99s = [(p, v) for p in points if (v := point_p99(p, timeout_ms)) is not None]
    usable = [p for p, _ in p99s]
    return SideP99(
        side=label,
        p99_ms=estimate([v for _, v in p99s]),
        service_p99_ms=estimate([p.service_latency_ms.p99 for p in usable if p.service_latency_ms]),
        repeats=len(usable),
        excluded=sum(p.generator_limited for p in points),
        scheduled=sum(p.scheduled if p.scheduled is not None else p.requests for p in usable),
        failed=sum(p.failed for p in usable),
        latency_from="pickup" if any(p.latency_from == "pickup" for p in points) else "intended",
    )


def _ratio(
    label: str,
    points: list[OpenLoopPoint],
    baseline: str,
    base: list[OpenLoopPoint],
    timeout_ms: float | None,
) -> P99Ratio:
    values, base_values = paired_p99(points, base, timeout_ms)
    ratio = paired_ratio(values, base_values, higher=SLOWER, lower=FASTER) if values else None
    return P99Ratio(label, baseline, ratio, len(values))


def paired_p99(
    points: list[OpenLoopPoint], base: list[OpenLoopPoint], timeout_ms: float | None
) -> tuple[list[float], list[float]]:
    """Two sides' p99s at one rate, paired by repeat, over the repeats neither generator limited."""
    mine = {p.repeat: point_p99(p, timeout_ms) for p in points}
    theirs = {p.repeat: point_p99(p, timeout_ms) for p in base}
    paired = [(v, b) for r, v in sorted(mine.items()) if v is not None and (b := theirs.get(r)) is not None]
    return [v for v, _ in paired], [b for _, b in paired]


def _grouped(points: Iterable[OpenLoopPoint]) -> dict[tuple[str, float], dict[str, list[OpenLoopPoint]]]:
    """(scenario, offered rate) -> side -> its points at that rate, in record order."""
    grouped: dict[tuple[str, float], dict[str, list[OpenLoopPoint]]] = {}
    for point in points:
        if point.kind == "common":
            grouped.setdefault((point.scenario, point.offered_rps), {}).setdefault(point.side, []).append(
                point
            )
    return grouped


def common_p99(record: OpenLoop, baseline: str) -> tuple[RateP99, ...]:
    """Per scenario and common rate (in the record's scenario order, rates ascending): each side's p99
    with its interval, and every other side's p99 ratio against `baseline`, paired by repeat."""
    timeout_ms = record.timeout_s * 1000 if record.timeout_s is not None else None
    rows = []
    scenarios = list(dict.fromkeys(p.scenario for p in record.points))
    for (scenario, offered), by_side in sorted(
        _grouped(record.points).items(), key=lambda item: (scenarios.index(item[0][0]), item[0][1])
    ):
        labels = sorted(by_side)
        base = by_side.get(baseline)
        ratios = (
            tuple(
                _ratio(label, by_side[label], baseline, base, timeout_ms)
                for label in labels
                if label != baseline
            )
            if base is not None
            else ()
        )
        rows.append(
            RateP99(
                scenario=scenario,
                fraction=next(iter(by_side.values()))[0].fraction,
                offered_rps=offered,
                sides=tuple(side_p99(label, by_side[label], timeout_ms) for label in labels),
                ratios=ratios,
                excluded=sum(p.generator_limited for points in by_side.values() for p in points),
            )
        )
    return tuple(rows)
