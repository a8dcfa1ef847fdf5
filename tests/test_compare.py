"""Comparing sides, on a recorded real `make bench` run (tests/fixtures/bench-run): ratios, words, tables."""

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.analysis.compare import Comparison, ScenarioComparison, compare_paths
from bench.analysis.console import console_summary
from bench.analysis.curves import knee
from bench.analysis.markdown import compact_header, compact_rows, render_markdown
from bench.analysis.paired import FASTER, SAME, SLOWER, UNCLEAR
from bench.common.errors import BenchError
from bench.common.schema import OPEN_LOOP_FILE, ROUNDS_FILE, LatencyMs, OpenLoopPoint, Rounds, read_record

FIXTURES = Path(__file__).parent / "fixtures"
BENCH_RUN = FIXTURES / "bench-run"
WORDS = {FASTER, SLOWER, SAME, UNCLEAR}


def scenario(comparison: Comparison, name: str) -> ScenarioComparison:
    (found,) = [s for s in comparison.scenarios if s.scenario == name]
    return found


@pytest.fixture
def bench_run(tmp_path: Path) -> Path:
    """A copy of the recorded run, free to change."""
    return Path(shutil.copytree(BENCH_RUN, tmp_path / BENCH_RUN.name))


def test_the_recorded_run_is_make_bench() -> None:
    record = read_record(BENCH_RUN / ROUNDS_FILE, Rounds)
    assert len(record.sides) == 7
    assert record.scenarios == ["ping", "list"]
    assert record.rounds >= 12
    assert record.window_s == 1


def test_each_side_is_judged_against_its_own_default_and_defaults_against_uvicorn() -> None:
    comparison = compare_paths([BENCH_RUN], None)
    assert [s.scenario for s in comparison.scenarios] == ["ping", "list"]
    judged = 0
    for each in comparison.scenarios:
        assert each.baseline.label == "fastapi-uvicorn:default"
        capacities = [side.capacity.value for side in each.sides if side.capacity]
        assert capacities == sorted(capacities, reverse=True)
        for side in each.sides:
            assert side.capacity is not None, side.label
            assert side.capacity.decided, side.label
            assert side.capacity.low <= side.capacity.value <= side.capacity.high  # type: ignore[operator]
            if side is each.baseline:
                assert side.baseline is None
                assert side.capacity_ratio is None
                continue
            assert side.baseline is not None
            expected = f"{side.stack}:default" if side.key.variant != "default" else "fastapi-uvicorn:default"
            assert side.baseline.label == expected, side.label
            ratio = side.capacity_ratio
            assert ratio is not None
            assert ratio.word.split(",")[0] in WORDS
            assert ratio.rounds == len([w for w in side.windows if w.usable])
            # Twelve verdicts share the run's 5% budget: each interval at 1 - 0.05/12.
            assert ratio.family == 12
            assert ratio.low is not None
            assert ratio.high is not None
            assert ratio.low <= ratio.value <= ratio.high
            judged += 1
    assert judged == 12, "every side but the reference was judged, on both scenarios"


def test_gin_against_fastapi_on_uvicorn_is_decided() -> None:
    """The effect the project must always decide: gin serves several times FastAPI here."""
    comparison = compare_paths([BENCH_RUN], None)
    for each in comparison.scenarios:
        gin = next(s for s in each.sides if s.stack == "go-gin")
        assert gin.capacity_ratio is not None
        assert gin.capacity_ratio.word == FASTER, (each.scenario, gin.capacity_ratio)


def test_a_baseline_can_be_any_side_and_a_typo_is_an_error() -> None:
    comparison = compare_paths([BENCH_RUN], "go-gin:default")
    for each in comparison.scenarios:
        assert each.baseline.label == "go-gin:default"
        fastapi = [s for s in each.sides if s.stack != "go-gin"]
        assert fastapi
        for side in fastapi:
            assert side.baseline is each.baseline
            assert side.capacity_ratio is not None
            assert side.capacity_ratio.word == SLOWER, (each.scenario, side.label, side.capacity_ratio)
    with pytest.raises(BenchError, match="matches no side"):
        compare_paths([BENCH_RUN], "fastapi-uvicorn:nope")


def test_two_runs_are_not_paired_round_by_round(tmp_path: Path) -> None:
    other = Path(shutil.copytree(BENCH_RUN, tmp_path / "other"))
    for path in other.rglob("*.json"):
        document = json.loads(path.read_text())
        if isinstance(document, dict) and document.get("run_id"):
            document["run_id"] = "other"
            path.write_text(json.dumps(document))
    comparison = compare_paths([BENCH_RUN, other], None)
    ping = scenario(comparison, "ping")
    assert len(ping.sides) == 14
    across = [s for s in ping.sides if s.baseline is not None and s.baseline.key.run_id != s.key.run_id]
    within = [s for s in ping.sides if s.baseline is not None and s.baseline.key.run_id == s.key.run_id]
    assert across
    assert within
    assert all(s.capacity_ratio is None for s in across), "no pairs across runs"
    assert all(s.capacity_ratio is not None for s in within), "a tuned side pairs with its own run's default"


def test_the_compact_table_has_at_most_seven_columns_and_no_scientific_notation() -> None:
    comparison = compare_paths([BENCH_RUN], None)
    for each in comparison.scenarios:
        header = compact_header(each)
        assert len(header) <= 7
        for row in compact_rows(each):
            assert len(row) == len(header)
            assert not any("e+" in cell for cell in row), row


def test_the_console_answer_fits_in_thirty_lines() -> None:
    comparison = compare_paths([BENCH_RUN], None)
    text = console_summary(comparison, BENCH_RUN, BENCH_RUN / "report.html")
    lines = text.strip().splitlines()
    assert len(lines) <= 30, text
    # The question FastAPI users bring: which server (each against uvicorn), and does tuning pay
    # (each tuned side against its own default), with verdicts; gin as the ceiling.
    against_uvicorn = [line for line in lines if line.strip().startswith("Against fastapi-uvicorn:default:")]
    assert len(against_uvicorn) == 2, text
    for line in against_uvicorn:
        for side in (
            "fastapi-granian:default",
            "fastapi-gunicorn:default",
            "fastapi-uvicorn:tuned",
            "go-gin:default",
        ):
            assert side in line, line
    for stack in ("fastapi-granian", "fastapi-gunicorn"):
        assert sum(line.strip().startswith(f"Against {stack}:default: {stack}:tuned") for line in lines) == 2
    assert "share one 5% error budget" in text
    assert lines[-1].startswith("report"), "it ends by saying where the rest is"


def test_markdown_holds_the_answer_then_the_evidence() -> None:
    text = render_markdown(compare_paths([BENCH_RUN], None))
    assert text.index("## ping") < text.index("## The evidence")
    assert "Open-loop latency (ms) at common rates on list" in text
    assert "Rounds of run" in text


def test_a_failed_window_is_left_out_and_listed(bench_run: Path) -> None:
    record = read_record(bench_run / ROUNDS_FILE, Rounds)
    victim = record.windows[0]
    broken = victim.model_copy(update={"error": "wrk exited with code 1: boom", "requests": 0, "rps": 0.0})
    windows = [broken, *record.windows[1:]]
    (bench_run / ROUNDS_FILE).write_text(record.model_copy(update={"windows": windows}).model_dump_json())
    comparison = compare_paths([bench_run], None)
    side = next(s for s in scenario(comparison, victim.scenario).sides if s.label == victim.side)
    assert side.capacity is not None
    assert side.capacity.count == record.rounds - 1
    assert any(e.reason == "wrk exited with code 1: boom" for e in comparison.excluded)


def test_locust_disagreeing_with_the_rounds_is_said(bench_run: Path) -> None:
    path = bench_run / "fastapi-uvicorn" / "default" / "list.json"
    document: dict[str, Any] = json.loads(path.read_text())
    document["throughput"]["rps"] = 10 * document["throughput"]["rps"]
    path.write_text(json.dumps(document))
    side = next(s for s in scenario(compare_paths([bench_run], None), "list").sides
                if s.label == "fastapi-uvicorn:default")  # fmt: skip
    assert side.locust_disagrees is not None
    assert "above the rounds' interval" in side.locust_disagrees


def test_a_record_of_another_version_is_one_clear_error(bench_run: Path) -> None:
    path = bench_run / OPEN_LOOP_FILE
    document = json.loads(path.read_text())
    document["version"] = 99
    path.write_text(json.dumps(document))
    with pytest.raises(BenchError, match="is not a OpenLoop record"):
        compare_paths([bench_run], None)


def test_no_results_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no results found"):
        compare_paths([tmp_path / "empty"], None)


def point(fraction: float, offered: float, p99: float, *, good: float | None = None, errors: int = 0,
          limited: bool = False) -> OpenLoopPoint:  # fmt: skip
    latency = LatencyMs(p50=p99 / 3, p90=p99 / 2, p99=p99, p99_9=p99 * 1.2, max=p99 * 1.5)
    return OpenLoopPoint(
        side="s:default", scenario="list", kind="curve", fraction=fraction, offered_rps=offered,
        sent_rps=offered, goodput_rps=offered if good is None else good, requests=int(offered * 2),
        successes=int(offered * 2) - errors, errors={"status 503 (pool timeout)": errors} if errors else {},
        latency_ms=latency, generator_cpu_percent=20.0, generator_limited=limited,
        limit_reasons=["x"] if limited else [], started_at=0.0, seconds=2,
    )  # fmt: skip


def test_the_knee_is_the_last_point_before_latency_leaves_its_floor() -> None:
    found = knee([point(0.25, 250, 2.0), point(0.5, 500, 2.5), point(0.75, 750, 5.0), point(1.0, 1000, 40.0)])
    assert found.rate == 750
    assert found.fraction == 0.75
    assert "over 3x its floor" in found.reason


def test_the_knee_stops_where_the_side_falls_behind_or_errs() -> None:
    behind = knee([point(0.5, 500, 2.0), point(1.0, 1000, 3.0, good=800)])
    assert behind.rate == 500
    assert "served 800 of 1,000" in behind.reason
    erring = knee([point(0.5, 500, 2.0), point(1.0, 1000, 3.0, errors=12)])
    assert erring.rate == 500
    assert "status 503 (pool timeout) x12" in erring.reason


def test_points_the_generator_limited_say_nothing_of_the_knee() -> None:
    found = knee([point(0.25, 250, 2.0), point(0.5, 500, 50.0, limited=True), point(0.75, 750, 2.4)])
    assert found.rate == 750
    assert "kept up at every point" in found.reason
    assert knee([point(0.5, 500, 2.0, limited=True)]).rate is None


def test_an_unclear_answer_says_what_the_run_could_decide() -> None:
    """The server flags' real run (8 rounds of 2 s on a drifting machine): with eight verdicts sharing
    the budget, 8 rounds reach each share, and the unclear ones say what the run's pooled spread could
    decide and how many rounds a 10% difference would need (more than it had)."""
    comparison = compare_paths([FIXTURES / "server-settings"], "default")
    assert comparison.resolution is not None
    assert {
        s.capacity_ratio.family for e in comparison.scenarios for s in e.judged() if s.capacity_ratio
    } == {comparison.share}
    said = " ".join(f for each in comparison.scenarios for f in each.findings)
    assert "Unclear means not decided" in said
    found = re.search(r"would need about (\d+) rounds", said)
    assert found, said
    assert int(found.group(1)) > 8
    assert comparison.resolution.rounds_for_planning == int(found.group(1))


def test_same_is_said_within_the_margin_and_under_5_percent_when_decided() -> None:
    comparison = compare_paths([BENCH_RUN], None)
    words = {
        s.capacity_ratio.word for each in comparison.scenarios for s in each.judged() if s.capacity_ratio
    }
    assert words <= {FASTER, SLOWER, SAME, UNCLEAR, f"{FASTER}, under 5%", f"{SLOWER}, under 5%"}


def test_p99_has_an_interval_over_repeats_and_joins_the_run_s_verdicts(tmp_path: Path) -> None:
    """A recorded common-rate run (three sides on ping, six repeats each, pool identical to default):
    each side's p99 is a median with its interval, and each p99 ratio against its baseline is a
    verdict sharing the run's budget; the identical side is not called faster or slower."""
    run = tmp_path / "common"
    run.mkdir()
    shutil.copy(FIXTURES / "openloop" / "common-ping.json", run / OPEN_LOOP_FILE)
    comparison = compare_paths([run], None)
    ping = scenario(comparison, "ping")
    for side in ping.sides:
        assert side.p99 is not None
        assert side.p99.repeats + side.p99.excluded == 6
    pool = next(s for s in ping.sides if s.label == "fastapi-uvicorn:pool")
    gin = next(s for s in ping.sides if s.stack == "go-gin")
    for judged in (pool, gin):
        assert judged.p99_ratio is not None
        assert judged.p99_ratio.family == comparison.share
    assert pool.p99_ratio is not None
    assert pool.p99_ratio.direction is None, pool.p99_ratio
    assert any("p99 at " in note for note in ping.findings)
