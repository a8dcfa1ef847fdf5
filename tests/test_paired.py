"""The paired-round statistics on inputs with known answers, and on recorded rounds of real runs."""

import math
import random
from pathlib import Path

import pytest

from bench.analysis.paired import (
    CHEAPER,
    COSTLIER,
    FASTER,
    MIN_ROUNDS,
    SAME,
    SLOWER,
    UNCLEAR,
    estimate,
    median_interval,
    paired_ratio,
    rounds_needed,
    word_for,
)
from bench.common.schema import Rounds, read_record

FIXTURES = Path(__file__).parent / "fixtures"
AA_ROUNDS = FIXTURES / "aa-list" / "rounds.json"


def test_the_sign_test_interval_of_six_values_is_their_range() -> None:
    # With six values, P(all on one side of the median) = 2 / 64 = 3.1%: [min, max] covers 96.9%.
    values = [3.0, 1.0, 6.0, 2.0, 5.0, 4.0]
    assert median_interval(values) == (1.0, 6.0)


def test_five_values_cannot_reach_95_percent() -> None:
    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None
    result = paired_ratio([2.0] * 5, [1.0] * 5)
    assert result is not None
    assert result.word == UNCLEAR
    assert result.rounds_needed is not None
    assert result.rounds_needed >= MIN_ROUNDS


def test_twelve_values_trim_two_from_each_end() -> None:
    # n = 12: the 95% interval runs from the 3rd to the 10th order statistic (coverage 96.1%).
    values = [float(v) for v in range(1, 13)]
    assert median_interval(values) == (3.0, 10.0)


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
        (1.01, 1.2, FASTER),
        (0.8, 0.99, SLOWER),
        (0.96, 1.04, SAME),
        (0.95, 1.05, SAME),
        (0.94, 1.03, UNCLEAR),
        (0.9, 1.3, UNCLEAR),
        (None, None, UNCLEAR),
    ],
)
def test_verdict_words_follow_the_interval(low: float | None, high: float | None, word: str) -> None:
    assert word_for(low, high, FASTER, SLOWER) == word


def test_unclear_answers_say_how_many_rounds_would_tell() -> None:
    rng = random.Random(5)
    # A real 8% effect under +-20% round-to-round noise: eight rounds cannot tell, more could.
    base = [1000.0] * 8
    side = [1080.0 * math.exp(rng.gauss(0, 0.2)) for _ in base]
    result = paired_ratio(side, base)
    assert result is not None
    if result.word == UNCLEAR:
        assert result.rounds_needed is not None
        assert result.rounds_needed > 8
        assert f"about {result.rounds_needed} rounds" in result.describe()


def test_rounds_needed_grows_with_the_spread() -> None:
    calm = [math.log(1.1) + 0.01 * ((i % 5) - 2) for i in range(10)]
    noisy = [math.log(1.1) + 0.2 * ((i % 5) - 2) for i in range(10)]
    assert rounds_needed(noisy) > rounds_needed(calm)


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


def test_an_identical_copy_reads_same_or_unclear_in_19_of_20_resampled_comparisons() -> None:
    """The A/A target: 20 comparisons of a side with an identical copy of itself, each from rounds drawn
    (without replacement) from the recorded A/A run, at the round counts the project uses."""
    a, b = aa_pairs()
    rng = random.Random(2026)
    words = []
    for trial in range(20):
        size = (6, 8, 10, 12)[trial % 4]
        chosen = rng.sample(range(len(a)), size)
        result = paired_ratio([a[i] for i in chosen], [b[i] for i in chosen])
        assert result is not None
        words.append(result.word)
    decided = [w for w in words if w in (FASTER, SLOWER)]
    assert len(decided) <= 1, words
