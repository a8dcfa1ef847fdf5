"""What the method decides, on the recorded A/A run at `make bench` settings (tests/fixtures/aa-bench:
seven identical FastAPI-on-uvicorn sides, ping and list, 20 rounds of 1-second windows, recorded while
other jobs loaded the machine), resampled 2,000 times."""

from pathlib import Path

import pytest

from bench.analysis.power import simulate, table
from bench.common.schema import Rounds, read_record

AA_BENCH = Path(__file__).parent / "fixtures" / "aa-bench" / "rounds.json"
DRAWS = 2000
BENCH_ROUNDS = 12  # the Makefile's ROUNDS


@pytest.fixture(scope="module")
def record() -> Rounds:
    return read_record(AA_BENCH, Rounds)


def test_the_fixture_is_identical_sides_at_make_bench_settings(record: Rounds) -> None:
    assert len(record.sides) == 7
    assert {label.partition(":")[0] for label in record.sides} == {"fastapi-uvicorn"}
    assert record.scenarios == ["ping", "list"]
    assert record.window_s == 1
    assert record.rounds >= 16
    # Identical sides, and still single rounds disagree by far more than the effects users ask about.
    data = table(record, "rps")
    spreads = [max(r.values()) / min(r.values()) for r in data.rounds["list"]]
    assert max(spreads) > 1.2


@pytest.mark.parametrize("metric", ["rps", "service_cpu_ms_per_request"])
def test_identical_sides_print_a_false_verdict_in_at_most_5_percent_of_runs(
    record: Rounds, metric: str
) -> None:
    """All twelve comparisons of a make-bench-sized run together, on each metric."""
    found = simulate(record, metric, "signed-rank, run's budget shared", BENCH_ROUNDS, DRAWS, effect=0.0)  # type: ignore[arg-type]
    assert found.comparisons == 12
    assert found.runs_with_a_false_verdict <= 0.05, found


def test_judged_alone_the_same_comparisons_would_err_far_more_often(record: Rounds) -> None:
    """Why the budget is shared: twelve comparisons each at 95% print a false verdict in many runs."""
    alone = simulate(record, "rps", "signed-rank alone", BENCH_ROUNDS, DRAWS, effect=0.0)
    shared = simulate(record, "rps", "signed-rank, run's budget shared", BENCH_ROUNDS, DRAWS, effect=0.0)
    assert alone.runs_with_a_false_verdict > 0.05
    assert shared.runs_with_a_false_verdict < alone.runs_with_a_false_verdict


def test_a_doubling_is_decided_in_every_run(record: Rounds) -> None:
    """A positive control of known size: one side costing twice as much per request."""
    found = simulate(record, "rps", "signed-rank, run's budget shared", BENCH_ROUNDS, 500, effect=1.0)
    assert found.power is not None
    assert found.power >= 0.99, found
