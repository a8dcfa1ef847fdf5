"""The README's claims as data: every verdict an experiment's newest run makes, with its interval, the
run and evidence it rests on, and the versions it was measured on.

`make readme` writes them to docs/claims.json and renders the README's findings from them;
`make check-claims` re-runs an experiment and judges each claim against the new run. Nothing is
parsed back from English.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bench.analysis.compare import Comparison, Side
from bench.analysis.paired import Ratio
from bench.common.errors import BenchError
from bench.common.results import write_text_atomic

CLAIMS_VERSION: Literal[1] = 1


class Claim(BaseModel):
    """One side against its baseline on one scenario's capacity, as a run decided it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    experiment: str
    view: int  # the experiment's view (bench.experiments), in order
    view_title: str
    scenario: str
    side: str  # SERVICE:NAME
    baseline: str
    ratio: float
    low: float | None
    high: float | None
    word: str
    family: int  # the run's verdicts share its 5% error budget in this many parts
    rounds: int
    run: str  # the run's directory name
    evidence: str  # the committed evidence directory, relative to the repository

    @property
    def key(self) -> tuple[str, int, str, str, str]:
        return (self.experiment, self.view, self.scenario, self.side, self.baseline)

    def shown(self) -> str:
        interval = (
            f" [{self.low:.2f}, {self.high:.2f}]" if self.low is not None and self.high is not None else ""
        )
        return f"{self.ratio:.2f}\u00d7{interval} ({self.word})"


class Claims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = CLAIMS_VERSION
    claims: list[Claim]


def _claim(experiment: str, view: int, title: str, scenario: str, side: Side, ratio: Ratio, run: Path,
           evidence: str) -> Claim:  # fmt: skip
    assert side.baseline is not None
    return Claim(
        experiment=experiment, view=view, view_title=title, scenario=scenario, side=side.label,
        baseline=side.baseline.label, ratio=round(ratio.value, 4),
        low=round(ratio.low, 4) if ratio.low is not None else None,
        high=round(ratio.high, 4) if ratio.high is not None else None,
        word=ratio.word, family=ratio.family, rounds=ratio.rounds, run=run.name, evidence=evidence,
    )  # fmt: skip


def claims_of(experiment: str, views: list[tuple[str, Comparison]], run: Path, evidence: str) -> list[Claim]:
    """Every capacity verdict of an experiment's views (title, comparison), in order."""
    found = []
    for index, (title, comparison) in enumerate(views):
        for scenario in comparison.scenarios:
            for side in scenario.judged():
                assert side.capacity_ratio is not None
                found.append(
                    _claim(
                        experiment, index, title, scenario.scenario, side, side.capacity_ratio, run, evidence
                    )
                )
    return found


def write_claims(path: Path, claims: list[Claim]) -> None:
    write_text_atomic(path, Claims(claims=claims).model_dump_json(indent=1) + "\n")


def read_claims(path: Path) -> Claims:
    if not path.is_file():
        raise BenchError(f"no claims at {path}: run `make readme` after an experiment")
    try:
        return Claims.model_validate_json(path.read_text())
    except ValueError as exc:
        raise BenchError(f"{path}: not a claims file this version reads ({exc})") from None


def find(claims: list[Claim], experiment: str, view: int, scenario: str, side: str) -> Claim | None:
    return next(
        (
            c
            for c in claims
            if (c.experiment, c.view, c.scenario, c.side) == (experiment, view, scenario, side)
        ),
        None,
    )


Check = Literal["confirmed", "contradicted", "unclear", "not measured"]


def _direction(word: str) -> str | None:
    head = word.split(",")[0]
    return head if head in ("faster", "slower") else None


def _overlap(a: Claim, b: Claim) -> bool:
    if a.low is None or a.high is None or b.low is None or b.high is None:
        return False
    return a.low <= b.high and b.low <= a.high


def check(claim: Claim, new: Claim | None) -> Check:
    """confirmed: the same verdict, or the new interval overlaps the claimed one; contradicted: the
    opposite verdict (the other direction, or a difference beyond the margin where "same" was
    claimed); unclear otherwise."""
    if new is None:
        return "not measured"
    old_way, new_way = _direction(claim.word), _direction(new.word)
    beyond_margin = new_way is not None and "under" not in new.word
    if (old_way and new_way and old_way != new_way) or (claim.word.startswith("same") and beyond_margin):
        return "contradicted"
    if claim.word == new.word or (old_way is not None and old_way == new_way) or _overlap(claim, new):
        return "confirmed"
    return "unclear"


@dataclass(frozen=True)
class Checked:
    claim: Claim
    new: Claim | None
    outcome: Check

    def row(self) -> tuple[str, str, str, str, str]:
        return (
            f"{self.claim.experiment}: {self.claim.side} vs {self.claim.baseline} ({self.claim.scenario})",
            self.claim.shown(),
            self.new.shown() if self.new else "—",
            self.outcome,
            self.claim.run,
        )


def check_all(claims: list[Claim], new_claims: list[Claim]) -> list[Checked]:
    by_key = {c.key: c for c in new_claims}
    return [Checked(claim, found := by_key.get(claim.key), check(claim, found)) for claim in claims]
