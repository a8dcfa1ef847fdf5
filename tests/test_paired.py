"""The paired-round statistics on inputs with known answers, and on recorded rounds of real runs."""

import math
import random
from pathlib import Path

import numpy as np
import pytest

from bench.analysis.paired import (
    CHEAPER,
    COSTLIER,
    FASTER,
    SAME,
    SLOWER,
    UNCLEAR,
    UNDER_MARGIN,
    Sample,
    estimate,
    family_share,
    fewest_rounds,
    hodges_lehmann,
    judge,
    judge_family,
    median_interval,
    paired_ratio,
    plan_rounds,
    resolution,
    word_for,
)
from bench.common.schema import Rounds, read_record

FIXTURES = Path(__file__).parent / "fixtures"
AA_ROUNDS = FIXTURES / "aa-list" / "rounds.json"


def test_the_sign_test_interval_of_six_values_is_their_range() -> None:
    # With six values, P(all on one side of the median) = 2 / 64 = 3.1%: [min, max] covers 96.9%.
    values = [3.0, 1.0, 6.0, 2.0, 5.0, 4.0]
    assert median_interval(values) == (1.0, 6.0)


def test_the_signed_rank_interval_of_six_values_is_their_range() -> None:
    # The extreme Walsh averages are the extreme values; P(W+ = 0) = 1/64, so k = 1 at 95%.
    found = hodges_lehmann([3.0, 1.0, 6.0, 2.0, 5.0, 4.0], 0.95)
    assert found is not None
    centre, low, high = found
    assert (low, high) == (1.0, 6.0)
    assert centre == 3.5


def test_the_signed_rank_interval_matches_the_published_table() -> None:
    # n = 12 at 95%: the critical value of W+ is 13 (P(W+ <= 13) = 0.0212), so the interval runs from
    # the 14th smallest to the 14th largest of the 78 Walsh averages.
    values = [float(v) for v in range(1, 13)]
    walsh = sorted((a + b) / 2 for i, a in enumerate(values) for b in values[i:])
    found = hodges_lehmann(values, 0.95)
    assert found is not None
    assert (found[1], found[2]) == (walsh[13], walsh[-14])


def test_the_interval_covers_the_truth_as_promised_on_heavy_tailed_noise() -> None:
    rng = np.random.default_rng(7)
    misses = 0
    for _ in range(2000):
        found = hodges_lehmann(list(rng.standard_t(3, size=10) * 0.2 + 0.1), 0.95)
        assert found is not None
        misses += not found[1] <= 0.1 <= found[2]
    assert misses / 2000 <= 0.06


def test_five_rounds_cannot_reach_95_percent() -> None:
    assert fewest_rounds(0.95) == 6
    assert hodges_lehmann([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) is None
    result = paired_ratio([2.0] * 5, [1.0] * 5)
    assert result is not None
    assert result.word == UNCLEAR
    assert "its share needs 6" in result.describe()


def test_a_clear_doubling_is_faster_and_its_inverse_slower() -> None:
    base = [100.0, 90.0, 110.0, 95.0, 105.0, 100.0, 98.0, 102.0]
    doubled = [2.0 * v * (1 + 0.02 * ((i % 3) - 1)) for i, v in enumerate(base)]
    faster = paired_ratio(doubled, base)
    slower = paired_ratio(base, doubled)
    assert faster is not None
    assert slower is not None
    assert faster.word == FASTER
    assert slower.word == SLOWER
    assert faster.low is not None
    assert faster.low > 1.9
    assert math.isclose(faster.value * slower.value, 1.0, rel_tol=1e-9)


def test_pairing_cancels_drift_that_an_unpaired_look_would_see_as_noise() -> None:
    # Every round the machine's speed changes by up to 2x, but the side is always 10% faster in it.
    drift = [1.0, 0.5, 1.8, 0.7, 1.3, 0.6, 1.5, 0.9]
    base = [1000 * d for d in drift]
    side = [1100 * d for d in drift]
    result = paired_ratio(side, base)
    assert result is not None
    assert result.word == FASTER
    assert result.low == pytest.approx(1.1)
    assert result.high == pytest.approx(1.1)


def test_cpu_words_say_cheaper_and_costlier() -> None:
    base = [0.5] * 8
    assert paired_ratio([0.4] * 8, base, higher=COSTLIER, lower=CHEAPER).word == CHEAPER  # type: ignore[union-attr]
    assert paired_ratio([0.7] * 8, base, higher=COSTLIER, lower=CHEAPER).word == COSTLIER  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("low", "high", "word"),
    [
        (1.06, 1.2, FASTER),
        (1.01, 1.04, f"{FASTER}, {UNDER_MARGIN}"),
        (0.8, 0.99, SLOWER),
        (0.97, 0.99, f"{SLOWER}, {UNDER_MARGIN}"),
        (0.96, 1.04, SAME),
        (0.95, 1.05, SAME),
        (0.94, 1.03, UNCLEAR),
        (0.9, 1.3, UNCLEAR),
        (None, None, UNCLEAR),
    ],
)
def test_verdict_words_follow_the_interval(low: float | None, high: float | None, word: str) -> None:
    assert word_for(low, high, FASTER, SLOWER) == word


def test_same_is_reachable_on_a_quiet_identical_copy() -> None:
    rng = random.Random(3)
    base = [1000.0] * 12
    side = [1000.0 * math.exp(rng.gauss(0, 0.02)) for _ in base]
    result = paired_ratio(side, base)
    assert result is not None
    assert result.word == SAME


def test_a_family_shares_its_budget_and_needs_more_rounds() -> None:
    # Twelve comparisons: each interval at 1 - 0.05/12, which nine rounds are the fewest to reach.
    assert family_share([12] * 12) == 12
    assert fewest_rounds(1 - 0.05 / 12) == 9
    # With six rounds none of the twelve can decide at its share, so none takes one: nothing can err.
    assert family_share([6] * 12) <= 2
    # Looks take their shares too.
    assert family_share([20] * 3, looks=2) == 6


def test_a_family_is_wider_than_one_comparison_alone() -> None:
    rng = random.Random(9)
    base = [1000.0] * 12
    side = [1080.0 * math.exp(rng.gauss(0, 0.05)) for _ in base]
    alone = judge(Sample(side, base))
    together = judge_family([Sample(side, base)] * 12)[0]
    assert alone is not None
    assert together is not None
    assert together.family == 12
    assert together.low is not None
    assert alone.low is not None
    assert together.low < alone.low
    assert together.high is not None
    assert alone.high is not None
    assert together.high > alone.high


def test_planning_asks_more_rounds_for_more_spread_and_smaller_effects() -> None:
    assert plan_rounds(0.3, 1) > plan_rounds(0.1, 1)
    assert plan_rounds(0.2, 1, effect=0.05) > plan_rounds(0.2, 1, effect=0.25)
    assert plan_rounds(0.2, 12) > plan_rounds(0.2, 1)


def test_bad_pairs_are_dropped_not_imputed() -> None:
    result = paired_ratio([2.0, 0.0, 2.0, float("nan"), 2.0, 2.0, 2.0, 2.0], [1.0] * 8)
    assert result is not None
    assert result.rounds == 6


def test_misaligned_pairs_are_an_error() -> None:
    with pytest.raises(ValueError, match="same rounds"):
        paired_ratio([1.0, 2.0], [1.0])


def test_estimate_of_a_side_has_its_median_and_interval() -> None:
    found = estimate([10.0, 12.0, 11.0, 13.0, 9.0, 14.0, 10.5])
    assert found is not None
    assert found.value == 11.0
    assert found.decided
    assert found.low == 9.0
    assert found.high == 14.0


def aa_pairs() -> tuple[list[float], list[float]]:
    record = read_record(AA_ROUNDS, Rounds)
    a_label, b_label = record.sides
    by_round: dict[int, dict[str, float]] = {}
    for window in record.windows:
        if window.usable:
            by_round.setdefault(window.round, {})[window.side] = window.rps
    rounds = [r for r in sorted(by_round) if len(by_round[r]) == 2]
    return [by_round[r][a_label] for r in rounds], [by_round[r][b_label] for r in rounds]


def test_the_recorded_a_a_run_is_a_real_one() -> None:
    record = read_record(AA_ROUNDS, Rounds)
    assert record.status == "complete"
    assert len(record.sides) == 2
    assert record.rounds >= 24
    a, b = aa_pairs()
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    # Single rounds of identical sides disagree by far more than the effects the project judges.
    assert max(ratios) / min(ratios) > 1.1


def test_the_run_s_resolution_comes_from_its_own_spread() -> None:
    a, b = aa_pairs()
    found = resolution([Sample(a, b)], 1)
    assert found is not None
    assert 0.1 < found.spread < 0.6
    assert found.rounds == len(a)
    assert found.rounds_for_planning > len(a)  # this noisy run could not decide 10%
    assert f"about {found.rounds_for_planning} rounds" in found.describe()
