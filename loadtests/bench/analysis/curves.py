"""A side's own open-loop curve read for its knee: the highest offered rate it still serves at its floor.

The knee is the last point before one where (a) the side stops keeping up: a request without a
correct answer (an error, a timeout, or one vegeta never sent because every worker was waiting), or
correct answers on time under 95% of the offered rate (goodput over the scheduled seconds, answers
during a short drain counted: bench.load.intended); or (b) p99 leaves its floor: over three times the
floor, the lowest p99 among the curve's light points (at most half its capacity; the lightest point
when there are none). The lowest, because on this shared machine noise only ever adds to a tail: a
stall of the server's core put 430-500 ms on one light point's p99 in recorded runs whose neighbours
read 6-8 ms, and a median of two light points follows such a stall.

A p99 over the line must be confirmed by the next heavier point breaking a rule too (or be the last
point): a single point's p99 jumps several-fold with no load behind it, while a real knee stays
broken past it. An unconfirmed one is named beside the knee, not hidden. Failures and a shortfall
need no confirmation: they are counted requests, not a tail estimate.

Points where the generator, not the server, was the limit say nothing of the server and are skipped
(and counted), except those marked for vegeta's own lateness alone: the side got the full rate, and
their p99, the generator's lateness included, bounds the side's from above. A curve that starts past
its knee has none.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from bench.common.schema import OpenLoopPoint

KEPT_UP = 0.95
FLOOR_MULTIPLE = 3.0
LIGHT_FRACTION = 0.5  # points at most this share of capacity set the floor


@dataclass(frozen=True)
class Knee:
    rate: float | None  # offered req/s at the knee; None: the first point already broke a rule
    fraction: float | None
    reason: str  # why the next point is past it, or why there is no knee
    floor_p99_ms: float | None
    isolated: tuple[str, ...] = ()  # p99 breaks below the knee that the next point did not confirm
    limited: int = 0  # points skipped: the generator was the limit (beyond its own lateness)


def usable(point: OpenLoopPoint) -> bool:
    """Whether the point speaks of the server: not limited by the generator, or only by its lateness."""
    return not point.generator_limited or (bool(point.limits) and set(point.limits) == {"lateness"})


def floor_p99(points: Sequence[OpenLoopPoint]) -> float | None:
    """The lowest p99 of the light points that failed nothing (the lightest such point if none is light)."""
    clean = sorted((p for p in points if p.latency_ms and not p.failed), key=lambda p: p.offered_rps)
    light = [p for p in clean if p.fraction <= LIGHT_FRACTION] or clean[:1]
    return min(p.latency_ms.p99 for p in light if p.latency_ms) if light else None


def failing(point: OpenLoopPoint) -> str | None:
    """The counted rule this point breaks (failures, a shortfall), if any."""
    if point.failed:
        kinds = [f"{kind} x{count:,}" for kind, count in point.errors.items()]
        if point.unsent:
            kinds.append(f"never sent x{point.unsent:,} (every vegeta worker waiting)")
        return f"failures at {point.offered_rps:,.0f} req/s ({', '.join(kinds)})"
    if point.goodput_rps < KEPT_UP * point.offered_rps:
        return f"served {point.goodput_rps:,.0f} of {point.offered_rps:,.0f} req/s offered"
    return None


def slow(point: OpenLoopPoint, floor_p99: float | None) -> str | None:
    """The latency rule this point breaks, if any."""
    p99 = point.latency_ms.p99 if point.latency_ms else None
    if floor_p99 is not None and p99 is not None and p99 > FLOOR_MULTIPLE * floor_p99:
        return f"p99 {p99:,.1f} ms at {point.offered_rps:,.0f} req/s, over {FLOOR_MULTIPLE:g}x its floor"
    return None


def broken(point: OpenLoopPoint, floor_p99: float | None) -> str | None:
    """The rule this point breaks, if any."""
    return failing(point) or slow(point, floor_p99)


def knee(points: Sequence[OpenLoopPoint]) -> Knee:
    kept = sorted((p for p in points if usable(p)), key=lambda p: p.offered_rps)
    limited = len(points) - len(kept)
    if not kept:
        return Knee(None, None, "every point was limited by the generator", None, limited=limited)
    floor = floor_p99(kept)
    isolated: list[str] = []
    last: OpenLoopPoint | None = None
    for index, point in enumerate(kept):
        reason = failing(point)
        if reason is None and (reason := slow(point, floor)) is not None:
            after = kept[index + 1] if index + 1 < len(kept) else None
            if after is not None and broken(after, floor) is None:
                isolated.append(reason)
                last = point
                continue
        if reason is not None:
            if last is None:
                return Knee(
                    None, None, f"the lightest point already broke a rule: {reason}", floor,
                    tuple(isolated), limited,
                )  # fmt: skip
            return Knee(last.offered_rps, last.fraction, reason, floor, tuple(isolated), limited)
        last = point
    assert last is not None
    return Knee(
        last.offered_rps, last.fraction, "kept up at every point measured (the knee is higher)", floor,
        tuple(isolated), limited,
    )  # fmt: skip
