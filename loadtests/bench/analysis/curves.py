"""A side's own open-loop curve read for its knee: the highest offered rate it still serves at its floor.

The knee is the last point before one where (a) the side stops keeping up (successful answers per
second under 95% of the offered rate, or errors), or (b) p99 leaves its floor: more than three times
the p99 of the curve's lightest point. Points where the generator, not the server, was the limit say
nothing of the server and are skipped, and a curve that starts past its knee has none.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from bench.common.schema import OpenLoopPoint

KEPT_UP = 0.95
FLOOR_MULTIPLE = 3.0


@dataclass(frozen=True)
class Knee:
    rate: float | None  # offered req/s at the knee; None: the first point already broke a rule
    fraction: float | None
    reason: str  # why the next point is past it, or why there is no knee
    floor_p99_ms: float | None


def broken(point: OpenLoopPoint, floor_p99: float | None) -> str | None:
    """The rule this point breaks, if any."""
    if point.errors:
        kinds = ", ".join(f"{kind} x{count:,}" for kind, count in point.errors.items())
        return f"errors at {point.offered_rps:,.0f} req/s ({kinds})"
    if point.goodput_rps < KEPT_UP * point.offered_rps:
        return f"served {point.goodput_rps:,.0f} of {point.offered_rps:,.0f} req/s offered"
    p99 = point.latency_ms.p99 if point.latency_ms else None
    if floor_p99 is not None and p99 is not None and p99 > FLOOR_MULTIPLE * floor_p99:
        return f"p99 {p99:,.1f} ms at {point.offered_rps:,.0f} req/s, over {FLOOR_MULTIPLE:g}x its floor"
    return None


def knee(points: Sequence[OpenLoopPoint]) -> Knee:
    usable = sorted((p for p in points if not p.generator_limited), key=lambda p: p.offered_rps)
    if not usable:
        return Knee(None, None, "every point was limited by the generator", None)
    first = usable[0]
    floor = first.latency_ms.p99 if first.latency_ms and not first.errors else None
    last: OpenLoopPoint | None = None
    for point in usable:
        reason = broken(point, floor)
        if reason is not None:
            if last is None:
                return Knee(None, None, f"the lightest point already broke a rule: {reason}", floor)
            return Knee(last.offered_rps, last.fraction, reason, floor)
        last = point
    assert last is not None
    return Knee(
        last.offered_rps, last.fraction, "kept up at every point measured (the knee is higher)", floor
    )
