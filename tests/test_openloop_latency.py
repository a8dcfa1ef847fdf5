"""p99 at common rates across repeats, on a recorded run (tests/fixtures/openloop/common-ping.json: two
identical uvicorn sides and go-gin at one ping rate, six repeats) and on an older run's record."""

import statistics
from pathlib import Path

from bench.analysis.latency import RateP99, common_p99
from bench.analysis.paired import FASTER, SLOWER
from bench.common.schema import OPEN_LOOP_FILE, OpenLoop, read_record

FIXTURES = Path(__file__).parent / "fixtures"
BASE, SAME, GIN = "fastapi-uvicorn:default", "fastapi-uvicorn:pool", "go-gin:default"


def recorded() -> OpenLoop:
    return read_record(FIXTURES / "openloop" / "common-ping.json", OpenLoop)


def only(rows: tuple[RateP99, ...]) -> RateP99:
    assert len(rows) == 1
    return rows[0]


def test_each_side_gets_the_median_p99_of_its_usable_repeats_with_an_interval() -> None:
    record = recorded()
    row = only(common_p99(record, BASE))
    assert (row.scenario, row.offered_rps) == ("ping", record.points[0].offered_rps)
    assert [s.side for s in row.sides] == sorted([BASE, SAME, GIN])
    for side in row.sides:
        points = [p for p in record.points if p.side == side.side]
        usable = [p for p in points if not p.generator_limited]
        assert len(points) == record.repeats == 6
        assert side.repeats == len(usable)
        assert side.excluded == len(points) - len(usable)
        assert side.latency_from == "intended"
        if usable:
            assert side.p99_ms is not None
            assert side.p99_ms.value == statistics.median(p.latency_ms.p99 for p in usable if p.latency_ms)
            assert side.service_p99_ms is not None
            assert side.service_p99_ms.value <= side.p99_ms.value, "vegeta's own leaves out the waits"
    assert row.excluded == sum(p.generator_limited for p in record.points)
    assert row.excluded > 0, "the fixture holds points the generator limited"
    full = next(s for s in row.sides if s.repeats == 6)
    assert full.p99_ms is not None
    assert full.p99_ms.decided, "six repeats give the median its interval"
    assert full.p99_ms.low is not None
    assert full.p99_ms.high is not None
    assert full.p99_ms.low <= full.p99_ms.value <= full.p99_ms.high


def test_the_ratio_pairs_repeats_where_both_sides_were_usable() -> None:
    record = recorded()
    row = only(common_p99(record, BASE))
    assert [r.side for r in row.ratios] == [SAME, GIN]
    usable = {(p.side, p.repeat) for p in record.points if not p.generator_limited}
    for ratio in row.ratios:
        assert ratio.baseline == BASE
        assert ratio.pairs == sum((ratio.side, r) in usable and (BASE, r) in usable for r in range(6))
        assert ratio.ratio is not None
        assert ratio.ratio.rounds == ratio.pairs
    same = row.ratios[0].ratio
    assert same is not None
    assert same.word not in (FASTER, SLOWER), "an identical copy is not called either"


def test_a_limited_baseline_repeat_drops_out_of_every_pair() -> None:
    record = recorded()
    before = only(common_p99(record, BASE))
    target = next(
        i for i, p in enumerate(record.points) if p.side == BASE and not p.generator_limited and p.repeat > 0
    )
    points = list(record.points)
    points[target] = points[target].model_copy(update={"generator_limited": True, "limit_reasons": ["x"]})
    after = only(common_p99(record.model_copy(update={"points": points}), BASE))
    assert after.excluded == before.excluded + 1
    for old, new in zip(before.ratios, after.ratios, strict=True):
        mine = next(p for p in points if p.side == old.side and p.repeat == points[target].repeat)
        assert new.pairs == old.pairs - (not mine.generator_limited)


def test_a_point_where_nothing_succeeded_counts_at_the_timeout() -> None:
    record = recorded()
    target = next(i for i, p in enumerate(record.points) if p.side == SAME)
    points = list(record.points)
    failed = points[target].model_copy(update={"latency_ms": None, "successes": 0, "errors": {"refused": 5}})
    points[target] = failed
    row = only(common_p99(record.model_copy(update={"points": points}), BASE))
    side = next(s for s in row.sides if s.side == SAME)
    assert record.timeout_s is not None
    assert side.p99_ms is not None
    assert side.p99_ms.high == record.timeout_s * 1000
    assert side.failed >= 5


def test_a_baseline_absent_gives_no_ratios() -> None:
    assert only(common_p99(recorded(), "nobody:default")).ratios == ()


def test_an_older_record_reads_as_one_pickup_repeat_per_side() -> None:
    record = read_record(FIXTURES / "bench-run" / OPEN_LOOP_FILE, OpenLoop)
    rows = common_p99(record, "go-gin:default")
    assert {r.scenario for r in rows} == {p.scenario for p in record.points if p.kind == "common"}
    for row in rows:
        for side in row.sides:
            assert side.latency_from == "pickup"
            assert side.repeats + side.excluded == 1
            assert side.p99_ms is None or not side.p99_ms.decided
        for ratio in row.ratios:
            assert ratio.pairs <= 1
