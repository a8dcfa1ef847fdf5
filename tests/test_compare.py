"""Comparing result sets: real runs made here, and the permutation test on inputs with known answers."""

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.analysis.compare import GENERATOR_MARK, TIMES, Comparison, ScenarioComparison, compare_paths
from bench.analysis.markdown import render_markdown
from bench.analysis.stats import permutation_test
from bench.common.errors import BenchError
from bench.run.results import COMPLETE, INCOMPLETE, SCHEMA_VERSION
from bench.run.runner import RunRequest, run
from tests.conftest import QUICK

PROFILE = {**QUICK, "duration_s": 3}
SERVICE = "fastapi-uvicorn"


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def save(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2))


def scenario(comparison: Comparison, name: str) -> ScenarioComparison:
    (found,) = [s for s in comparison.scenarios if s.scenario == name]
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real runs of three trials: the default variant, and access-log with two more users.

    Ping only: every case costs about eight seconds of service and Locust start-up, and the comparison
    treats each scenario alike, so a second scenario would add time, not coverage.
    """
    results = tmp_path_factory.mktemp("compare-results")
    default = run(
        RunRequest(services=[SERVICE], scenarios=["ping"], repeat=3, run_id="plain",
                   results_dir=results, **PROFILE)
    )  # fmt: skip
    logged = run(
        RunRequest(services=[SERVICE], scenarios=["ping"], variants=["access-log"], repeat=3, run_id="logged",
                   results_dir=results, **{**PROFILE, "users": PROFILE["users"] + 2})
    )  # fmt: skip
    for outcome in (default, logged):
        assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    return {"plain": default.run_dir, "logged": logged.run_dir}


def copy_run(source: Path, target: Path) -> Path:
    return Path(shutil.copytree(source, target / source.name))


# The permutation test on inputs whose p-value is known by counting.


def test_identical_samples_give_p_one() -> None:
    assert permutation_test([5.0, 5.0, 5.0], [5.0, 5.0, 5.0]).p_value == 1.0
    assert permutation_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).p_value == 1.0


def test_perfectly_separated_three_and_three_give_the_smallest_possible_p() -> None:
    result = permutation_test([1.0, 2.0, 3.0], [10.0, 11.0, 12.0])
    # C(6, 3) = 20 splits; only the observed one and its mirror are as extreme: 2 / 20.
    assert result.p_value == pytest.approx(0.1)
    assert (result.method, result.arrangements) == ("exact", 20)
    assert result.smallest_p == pytest.approx(0.1)
    assert permutation_test([10.0, 11.0, 12.0], [1.0, 2.0, 3.0]).p_value == pytest.approx(0.1), "two-sided"


def test_counted_cases() -> None:
    # {1,3} vs {2,4}: |mean difference| 1; the six splits give 1, 2, 0, 0, 2, 1 -> four at least 1.
    assert permutation_test([1.0, 3.0], [2.0, 4.0]).p_value == pytest.approx(4 / 6)
    # Four against four, fully separated: 2 of C(8, 4) = 70 splits.
    assert permutation_test([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]).p_value == pytest.approx(2 / 70)
    # Unequal sizes have no mirror split: the extreme split is alone, 1 of C(5, 2) = 10.
    assert permutation_test([1.0, 2.0], [10.0, 11.0, 12.0]).p_value == pytest.approx(0.1)


def test_large_samples_fall_back_to_a_seeded_monte_carlo() -> None:
    low, high = [float(x) for x in range(30)], [float(x) for x in range(100, 130)]
    result = permutation_test(low, high, resamples=2000)
    assert result.method == "monte-carlo"
    assert result.arrangements == 2000
    # No random split of 60 values is as extreme as the separated one: p is the floor 1 / (R + 1).
    assert result.p_value == pytest.approx(1 / 2001)
    assert "2,000 resamples" in result.describe()
    assert "seed" in result.describe()
    assert permutation_test(low, low, resamples=500).p_value == 1.0
    mixed = [float(x % 7) for x in range(40)]
    assert permutation_test(mixed, low, resamples=500) == permutation_test(mixed, low, resamples=500)


def test_an_empty_side_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        permutation_test([], [1.0])


# Real runs.


def test_a_run_compared_with_itself_is_within_noise(runs: dict[str, Path]) -> None:
    comparison = compare_paths([runs["plain"], runs["plain"]], None)
    assert [s.scenario for s in comparison.scenarios] == ["ping"]
    for each in comparison.scenarios:
        assert len(each.sides) == 2
        other = next(side for side in each.sides if side is not each.baseline)
        assert other.trials == each.baseline.trials == 3
        assert other.verdict is not None
        assert other.verdict.kind == "noise"
        assert other.verdict.test is not None
        assert other.verdict.test.p_value == 1.0
        assert other.ratio == 1.0
    text = render_markdown(comparison)
    for section in text.split("## Scenario ")[1:]:
        assert "| within noise (p=1.000) |" in section, "in the table"
        assert "; within noise (p=1.000) (exact permutation test over all 20 splits)" in section
    assert "significant (" not in text
    assert "can never reach p ≤ 0.05" in text, "3+3 trials: the report says why nothing can be significant"
    assert "## Mismatched settings\n\nNone" in text


def test_two_variants_make_a_table_with_both_sides_and_a_ratio(runs: dict[str, Path]) -> None:
    comparison = compare_paths([runs["plain"] / SERVICE / "default", runs["logged"]], None)
    ping = scenario(comparison, "ping")
    assert [side.key.variant for side in ping.sides] == ["default", "access-log"]
    assert ping.baseline.key.variant == "default", "no gin side: the first side is the baseline"
    logged = ping.sides[1]
    assert logged.ratio == pytest.approx(logged.rps.median / ping.baseline.rps.median)
    assert logged.verdict is not None
    assert logged.verdict.kind in {"noise", "significant"}
    text = render_markdown(comparison)
    table = text.split("## Scenario `ping`")[1].split("\n\n")[2].splitlines()
    assert table[0].startswith(f"| side | trials | RPS | capacity (wrk) | Locust share | {TIMES} baseline |")
    assert len(table) == 4, "header, rule, and one row per side"
    assert "fastapi-uvicorn [default] @ plain (baseline)" in table[2]
    assert "fastapi-uvicorn [access-log] @ logged" in table[3]
    assert re.search(rf"\| \d+\.\d\d{TIMES} \|", table[3])
    assert re.search(r"(within noise|significant) \(p=\d\.\d{3}\)", table[3])
    assert f"{logged.ratio:.2f}{TIMES} the RPS of" in text

    chosen = compare_paths([runs["plain"] / SERVICE / "default", runs["logged"]], "access-log")
    assert scenario(chosen, "ping").baseline.key.variant == "access-log"
    with pytest.raises(BenchError, match="baseline 'go-gin' matches no side"):
        compare_paths([runs["plain"], runs["logged"]], "go-gin")


def test_one_trial_a_side_cannot_judge_noise(runs: dict[str, Path]) -> None:
    files = [
        runs["plain"] / SERVICE / "default" / "ping.1.json",
        runs["logged"] / SERVICE / "access-log" / "ping.1.json",
    ]
    comparison = compare_paths(files, None)
    (ping,) = comparison.scenarios
    assert [side.trials for side in ping.sides] == [1, 1]
    assert ping.sides[1].verdict is not None
    assert ping.sides[1].verdict.text == "1 trial: cannot judge noise"
    assert "significant (p=" not in render_markdown(comparison)


def test_generator_bound_results_are_marked(runs: dict[str, Path], tmp_path: Path) -> None:
    copy = copy_run(runs["plain"], tmp_path)
    for path in (copy / SERVICE / "default").glob("*.json"):
        save(path, {**load(path), "generator_bound": False})
    clean = render_markdown(compare_paths([copy], None))
    assert GENERATOR_MARK not in clean
    assert "Locust was the limit" not in clean

    flipped = copy / SERVICE / "default" / "ping.2.json"
    save(flipped, {**load(flipped), "generator_bound": True, "generator_bound_reasons": ["set by the test"]})
    comparison = compare_paths([copy], None)
    side = scenario(comparison, "ping").sides[0]
    assert (side.generator_bound_trials, side.trials) == (1, 3)
    text = render_markdown(comparison)
    ping_section = text.split("## Scenario `ping`")[1].split("## Mismatched settings")[0]
    assert f"{GENERATOR_MARK} (1/3)" in ping_section
    assert "Locust was the limit; the server's true capacity is higher" in ping_section
    assert "Locust was the limit in 1 of 3 trial(s)" in ping_section


def test_an_incomplete_case_is_listed_apart(runs: dict[str, Path], tmp_path: Path) -> None:
    copy = copy_run(runs["plain"], tmp_path)
    cut = copy / SERVICE / "default" / "ping.3.json"
    # What the runner writes for a case interrupted by Ctrl-C.
    interrupted = {
        "schema_version": SCHEMA_VERSION,
        "status": INCOMPLETE,
        "reason": "interrupted",
        "service": SERVICE,
        "variant": "default",
        "scenario": "ping",
        "trial": 3,
        "trials": 3,
    }
    save(cut, interrupted)
    kept = [load(copy / SERVICE / "default" / f"ping.{n}.json")["throughput"]["rps"] for n in (1, 2)]
    comparison = compare_paths([copy], None)
    ping = scenario(comparison, "ping").sides[0]
    assert ping.trials == 2
    assert ping.rps.median == pytest.approx(sum(kept) / 2), "the incomplete trial is in no number"
    (excluded,) = comparison.excluded
    assert (excluded.scenario, excluded.trial, excluded.status, excluded.reason) == (
        "ping",
        3,
        INCOMPLETE,
        "interrupted",
    )
    section = render_markdown(comparison).split("## Incomplete or failed cases")[1]
    assert "| fastapi-uvicorn [default] | ping | 3 | incomplete | interrupted |" in section


def test_mismatched_settings_are_listed(runs: dict[str, Path]) -> None:
    comparison = compare_paths([runs["plain"], runs["logged"]], None)
    users = {m.setting: m.values for m in comparison.mismatches}["users"]
    base = PROFILE["users"]
    assert users == {
        "fastapi-uvicorn [default] @ plain": str(base),
        "fastapi-uvicorn [access-log] @ logged": str(base + 2),
    }
    section = render_markdown(comparison).split("## Mismatched settings")[1]
    assert f"| users | {base} | {base + 2} |" in section
    assert "| duration_s |" not in section, "only settings that differ are listed"


def test_no_results_and_mixed_schema_versions_are_clear_errors(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no results at"):
        compare_paths([tmp_path / "missing"], None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no load-case results found"):
        compare_paths([tmp_path / "empty"], None)
    copy = copy_run(runs["logged"], tmp_path)
    future = copy / SERVICE / "access-log" / "ping.1.json"
    save(future, {**load(future), "schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(BenchError, match="mixed schema versions"):
        compare_paths([copy], None)
    with pytest.raises(BenchError, match="schema version"):
        compare_paths([future], None)
