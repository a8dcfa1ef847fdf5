"""Adaptive rounds and restart blocks: where the looks fall, where blocks begin, and the stopping rule
on recorded real rounds (the rule the finished run's analysis applies, looks counted)."""

from pathlib import Path

import pytest

from bench.analysis.compare import all_decided, compare_loaded, compare_paths
from bench.analysis.loading import Loaded
from bench.common.errors import BenchError
from bench.common.schema import ROUNDS_FILE, Rounds, read_record
from bench.run.rounds import RoundsPlan, block_starts, look_points

FIXTURES = Path(__file__).parent / "fixtures"


def test_looks_are_evenly_spaced_and_the_last_is_the_end() -> None:
    assert look_points(16, 1) == [16]
    assert look_points(16, 2) == [8, 16]
    assert look_points(10, 3) == [4, 7, 10]


def test_blocks_split_the_rounds_as_evenly_as_they_can() -> None:
    assert block_starts(16, 1) == {1}
    assert block_starts(16, 2) == {1, 9}
    assert block_starts(10, 3) == {1, 4, 7}


def test_more_looks_or_blocks_than_rounds_is_a_clear_error() -> None:
    with pytest.raises(BenchError, match="cannot be split"):
        RoundsPlan(4, 1, 0, 10, 1, "together", looks=5).validate()
    with pytest.raises(BenchError, match="1 or more"):
        RoundsPlan(4, 1, 0, 10, 1, "together", blocks=0).validate()


def _only(record: Rounds, labels: set[str]) -> Rounds:
    return record.model_copy(
        update={
            "sides": [s for s in record.sides if s in labels],
            "windows": [w for w in record.windows if w.side in labels],
        }
    )


def test_the_stopping_rule_waits_for_every_verdict() -> None:
    record = read_record(FIXTURES / "bench-run" / ROUNDS_FILE, Rounds)
    everything = ((None, ()),)
    # The recorded make bench run leaves several verdicts unclear: it would not have stopped.
    comparison = compare_paths([FIXTURES / "bench-run"], None)
    assert any(
        not s.capacity_ratio.decided for e in comparison.scenarios for s in e.judged() if s.capacity_ratio
    )
    assert not all_decided(record, everything)
    # gin against uvicorn alone is decided on both scenarios of the same rounds: it would have.
    assert all_decided(_only(record, {"fastapi-uvicorn:default", "go-gin:default"}), everything)


def test_looks_take_their_share_of_the_budget() -> None:
    """Two verdicts looked at three times: six shares, so each interval is at 1 - 0.05/6."""
    record = read_record(FIXTURES / "bench-run" / ROUNDS_FILE, Rounds)
    looked = _only(record, {"fastapi-uvicorn:default", "go-gin:default"}).model_copy(update={"looks": 3})
    comparison = compare_loaded(Loaded(sources=[], rounds=[(Path(ROUNDS_FILE), looked)]), None)
    ratios = [s.capacity_ratio for e in comparison.scenarios for s in e.judged() if s.capacity_ratio]
    assert len(ratios) == 2
    assert {r.family for r in ratios} == {6}
    for ratio in ratios:
        assert ratio.confidence == pytest.approx(1 - 0.05 / 6)
