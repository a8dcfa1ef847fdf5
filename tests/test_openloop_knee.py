"""The knee of a side's own curve: its floor, confirmed breaks, failures; on recorded `make saturate-fastapi`
curves (tests/fixtures/openloop/saturate-*.json) and on points built to isolate each rule."""

from pathlib import Path

import pytest

from bench.analysis.curves import FLOOR_MULTIPLE, LIGHT_FRACTION, floor_p99, knee, usable
from bench.common.schema import LatencyMs, LimitKind, OpenLoop, OpenLoopPoint, read_record

FIXTURES = Path(__file__).parent / "fixtures" / "openloop"


def point(
    fraction: float, p99: float, *, unsent: int = 0, limited: bool = False, limits: tuple[LimitKind, ...] = ()
) -> OpenLoopPoint:
    offered = 1000 * fraction
    return OpenLoopPoint(
        side="s:default", scenario="ping", kind="curve", fraction=fraction, offered_rps=offered,
        sent_rps=offered, goodput_rps=offered - unsent / 2, requests=int(offered * 2) - unsent,
        successes=int(offered * 2) - unsent, errors={},
        latency_ms=LatencyMs(p50=p99 / 3, p90=p99 / 2, p99=p99, p99_9=p99, max=p99),
        generator_cpu_percent=20.0, generator_limited=limited, limit_reasons=["x"] if limited else [],
        started_at=0.0, seconds=2, latency_from="intended", unsent=unsent, limits=list(limits),
    )  # fmt: skip


def test_the_floor_is_the_lowest_p99_of_the_light_points() -> None:
    points = [point(0.25, 9.0), point(0.5, 3.0), point(0.4, 5.0), point(0.75, 1.0)]
    assert floor_p99(points) == 3.0, "noise only adds to a tail; a heavier point is not light"
    assert floor_p99([point(0.75, 4.0), point(0.9, 8.0)]) == 4.0, "no light point: the lightest"
    assert LIGHT_FRACTION == 0.5


def test_one_slow_point_the_next_does_not_confirm_is_named_not_taken() -> None:
    found = knee([point(0.25, 2.0), point(0.5, 2.0), point(0.75, 30.0), point(0.9, 2.5), point(1.0, 40.0)])
    assert found.rate == 900
    assert "over 3x its floor" in found.reason
    assert len(found.isolated) == 1
    assert "750" in found.isolated[0]


def test_a_slow_point_the_next_confirms_is_past_the_knee() -> None:
    found = knee([point(0.25, 2.0), point(0.5, 2.0), point(0.75, 30.0), point(0.9, 50.0)])
    assert found.rate == 500
    assert found.floor_p99_ms == 2.0
    assert found.isolated == ()


def test_requests_never_sent_break_the_curve_at_once() -> None:
    found = knee([point(0.25, 2.0), point(0.5, 2.0, unsent=4), point(0.75, 2.0)])
    assert found.rate == 250
    assert "never sent x4" in found.reason


def test_points_the_generator_limited_are_skipped_and_counted() -> None:
    found = knee([point(0.25, 2.0, limited=True), point(0.5, 2.0), point(0.75, 2.2), point(0.9, 7.0)])
    assert found.limited == 1
    assert found.floor_p99_ms == 2.0, "the limited light point is not the floor"
    assert found.rate == 750
    assert "at 900 req/s" in found.reason, "the last point needs no confirmation"


def test_a_point_marked_only_for_vegetas_lateness_still_bounds_the_side() -> None:
    late = point(0.25, 2.0, limited=True, limits=("lateness",))
    found = knee([late, point(0.5, 40.0), point(0.75, 50.0)])
    assert found.limited == 0
    assert found.floor_p99_ms == 2.0
    assert found.rate == 250
    behind = point(0.25, 2.0, limited=True, limits=("lateness", "rate"))
    assert knee([behind, point(0.5, 40.0), point(0.75, 50.0)]).limited == 1


@pytest.mark.parametrize("scenario", ["ping", "list"])
def test_recorded_curves_name_a_knee_below_their_first_broken_point(scenario: str) -> None:
    record = read_record(FIXTURES / f"saturate-{scenario}.json", OpenLoop)
    curve = [p for p in record.points if p.kind == "curve"]
    found = knee(curve)
    assert found.rate is not None
    assert found.fraction is not None
    assert sum(p.generator_limited for p in curve if p.fraction < 1) <= 1
    floor = floor_p99([p for p in curve if usable(p)])
    assert found.floor_p99_ms == floor
    heavier = sorted((p for p in curve if p.offered_rps > found.rate and usable(p)),
                     key=lambda p: p.offered_rps)  # fmt: skip
    assert heavier, "the curve went past its knee"
    first = heavier[0]
    assert (
        first.failed
        or first.goodput_rps < 0.95 * first.offered_rps
        or (
            first.latency_ms is not None
            and floor is not None
            and first.latency_ms.p99 > FLOOR_MULTIPLE * floor
        )
    )
