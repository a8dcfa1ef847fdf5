"""`make check-claims`: re-run the README's experiments here and judge each claim against the new run.

Each experiment whose claims docs/claims.json holds is run again (into results/check-claims/, so the
README's own runs are not replaced), at a reduced budget: no Locust pass, which no claim rests on.
Every claim then reads confirmed (the same verdict, or the new interval overlaps the claimed one),
contradicted (the opposite verdict) or unclear, with both intervals; any contradiction fails.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from bench.analysis.markdown import table
from bench.claims import Checked, Claim, check_all, claims_of, read_claims
from bench.common.errors import BenchError
from bench.common.paths import RESULTS_DIR
from bench.experiments import EXPERIMENTS, Profile, run_experiment
from bench.readme import CLAIMS

CHECK_DIR = RESULTS_DIR / "check-claims"


@dataclass(frozen=True)
class CheckRequest:
    experiments: tuple[str, ...] = ()  # empty: every experiment with claims
    rounds: int | None = None  # None: each experiment's own
    claims_file: Path = CLAIMS
    results_dir: Path = CHECK_DIR


def _chosen(request: CheckRequest, claims: list[Claim]) -> list[str]:
    with_claims = list(dict.fromkeys(c.experiment for c in claims))
    for name in request.experiments:
        if name not in EXPERIMENTS:
            raise BenchError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
        if name not in with_claims:
            raise BenchError(
                f"the README makes no claim from {name!r}; claims come from: {', '.join(with_claims)}"
            )
    return list(request.experiments) or with_claims


def check_claims(request: CheckRequest) -> list[Checked]:
    claims = read_claims(request.claims_file).claims
    names = _chosen(request, claims)  # every name checked before anything runs
    checked: list[Checked] = []
    for name in names:
        print(f"check-claims: re-running {name}", file=sys.stderr)
        outcome = run_experiment(name, Profile(repeat=0, rounds=request.rounds), request.results_dir)
        views = [(view.title, comparison) for view, comparison in outcome.comparisons]
        new = claims_of(name, views, outcome.directory, str(outcome.directory))
        checked += check_all([c for c in claims if c.experiment == name], new)
    return checked


def render(checked: list[Checked]) -> str:
    header = ("claim", "claimed", "here", "verdict", "claimed by run")
    counts = {word: sum(c.outcome == word for c in checked) for word in
              ("confirmed", "contradicted", "unclear", "not measured")}  # fmt: skip
    summary = ", ".join(f"{n} {word}" for word, n in counts.items() if n)
    return "\n".join([*table(header, [c.row() for c in checked]), "", f"{len(checked)} claims: {summary}."])
