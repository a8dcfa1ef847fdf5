"""Regenerating the README's "What it shows" and "What we found" from each experiment's newest run.

Each experiment's newest run (under results/, or already kept under docs/evidence/) is kept as compact
evidence (bench.evidence); its views are judged together, its verdicts written to docs/claims.json
(bench.claims), and the README's findings rendered from those claims, never parsed back from prose.
Each section states the question, the answer (each side against its baseline, with its interval and
verdict), one chart and one compact table, the run with its machine, and links to its evidence; the
long tables go to docs/results/<experiment>.md with the versions the run measured on.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import evidence
from bench.analysis.compare import Comparison, ScenarioComparison, Side
from bench.analysis.figures import capacity_figure, ladder_figure
from bench.analysis.markdown import compact_header, compact_rows, ms, render_markdown, table
from bench.analysis.paired import FAMILY_ERROR
from bench.analysis.versions import machine as machine_text
from bench.analysis.versions import versions
from bench.claims import Claim, claims_of, find, write_claims
from bench.common.errors import BenchError
from bench.common.paths import REPO_ROOT, RESULTS_DIR
from bench.common.results import write_text_atomic
from bench.common.schema import OpenLoopPoint, RunFacts, read_run_facts
from bench.experiments import EXPERIMENTS, LADDER_RUNGS, LOGGING_SERVICES, Experiment, compare_views

START = "<!-- what-it-shows:start -->"
END = "<!-- what-it-shows:end -->"
FINDINGS_START = "<!-- findings:start -->"
FINDINGS_END = "<!-- findings:end -->"
VERSIONS_START = "<!-- versions:start -->"
VERSIONS_END = "<!-- versions:end -->"
CLAIMS = REPO_ROOT / "docs" / "claims.json"

Views = list[tuple[Any, Comparison]]


@dataclass(frozen=True)
class Place:
    """Where a README's generated files go: beside it, under docs/."""

    root: Path

    @property
    def figures(self) -> Path:
        return self.root / "docs" / "figures"

    @property
    def pages(self) -> Path:
        return self.root / "docs" / "results"

    @property
    def evidence(self) -> Path:
        return self.root / "docs" / "evidence"

    @property
    def claims(self) -> Path:
        return self.root / "docs" / "claims.json"

    def link(self, path: Path) -> str:
        return str(path.resolve().relative_to(self.root.resolve()))


def run_facts(directory: Path) -> RunFacts | None:
    """The run.json of an experiment's first part (every part of one experiment runs on one machine)."""
    for path in sorted(directory.glob("*/run.json")):
        return read_run_facts(path.parent)
    return read_run_facts(directory)


def machine(directory: Path) -> str:
    """Where and with what a run measured, as prose."""
    facts = run_facts(directory)
    if facts is None:
        return f"run `{directory.name}` (no run record)"
    return f"run `{directory.name}` on {machine_text(facts)}; {versions(facts)}"


def short_machine(directory: Path) -> str:
    facts = run_facts(directory)
    env = facts.environment if facts else None
    where = f"{env.cpu_count} cores, {env.cpu_model}" if env else "machine not recorded"
    return f"run `{directory.name}`, {where}"


def _figure(place: Place, name: str, svg: str | None) -> str | None:
    if svg is None:
        return None
    path = place.figures / f"{name}.svg"
    write_text_atomic(path, svg)
    return place.link(path)


def _chart(experiment: Experiment, comparisons: Views) -> str | None:
    if experiment.name == "ladder":
        return ladder_figure([(view.title, c) for view, c in comparisons], LADDER_RUNGS)
    first = comparisons[0][1] if len(comparisons) == 1 else None
    return capacity_figure(first) if first is not None else _merged_figure(comparisons)


# More panels than this and a chart stops being read at a glance: past it, the first view keeps
# every scenario and each later one shows only the scenario its README row shows.
_MAX_PANELS = 6


def _merged_figure(comparisons: Views) -> str | None:
    """Several views (one per service) drawn as one chart: a panel per view and scenario."""
    merged = Comparison(sources=[], scenarios=[], excluded=[], mismatches=[])
    crowded = sum(len(c.scenarios) for _, c in comparisons) > _MAX_PANELS
    for index, (view, comparison) in enumerate(comparisons):
        chosen = _scenario_for_readme(comparison)
        for scenario in comparison.scenarios:
            if crowded and index > 0 and scenario.scenario != chosen:
                continue
            title = f"{view.title} ({scenario.scenario})"
            merged.scenarios.append(ScenarioComparison(title, scenario.sides, scenario.baseline, ""))
    return capacity_figure(merged)


def _scenario_for_readme(comparison: Comparison) -> str | None:
    """The scenario a README block shows: list where measured (the one that reads the database),
    else the first."""
    names = [s.scenario for s in comparison.scenarios]
    return "list" if "list" in names else (names[0] if names else None)


def _sentence(scenario: ScenarioComparison) -> str | None:
    """The scenario's verdicts, each side against its baseline."""
    parts = [answer[0].lower() + answer[1:].rstrip(".") for answer in scenario.answers]
    return f"On {scenario.scenario}, " + "; ".join(parts) + "." if parts else None


def _answer(comparisons: Views) -> str:
    """Two to four sentences: one view's verdict per scenario, or with several views one sentence
    each, on the scenario its README row shows."""
    if len(comparisons) == 1:
        scenarios = comparisons[0][1].scenarios
        return " ".join([s for each in scenarios if (s := _sentence(each))][:3])
    sentences = []
    for view, comparison in comparisons:
        chosen = _scenario_for_readme(comparison)
        shown = [each for each in comparison.scenarios if each.scenario == chosen]
        # Views may share a baseline (the sync experiment's two loads): each sentence names its view.
        sentences += [f"**{view.title}**: {s[0].lower()}{s[1:]}" for each in shown if (s := _sentence(each))]
    return " ".join(sentences[:4])


def _heaviest(side: Side) -> OpenLoopPoint | None:
    return max(side.curve, key=lambda p: p.offered_rps) if side.curve else None


def overload_parts(comparisons: Views) -> list[str]:
    """Per side at its heaviest point: what it served, its errors (the commonest named), the p99 of
    its successes, and how long it took to answer at its normal latency again."""
    parts = []
    for _, comparison in comparisons[:1]:
        for scenario in comparison.scenarios:
            for side in scenario.sides:
                worst = _heaviest(side)
                if worst is None:
                    continue
                failed = sum(worst.errors.values())
                share = failed / worst.requests if worst.requests else 0.0
                commonest = max(worst.errors, key=lambda k: worst.errors[k]) if worst.errors else None
                kind = "sheds" if share >= 0.01 else "queues"
                errors = f"{share:.0%} errors ({commonest})" if commonest else "no errors"
                p99 = ms(worst.latency_ms.p99) if worst.latency_ms else "none served"
                recovery = next((p.recovered_after_s for p in side.recovery), None)
                back = f", normal again after {recovery:.1f} s" if recovery is not None else ""
                parts.append(
                    f"{side.label} {kind} at {worst.fraction:.0%} of its capacity: served "
                    f"{worst.goodput_rps:,.0f} of {worst.offered_rps:,.0f} req/s, {errors}, p99 of the "
                    f"successes {p99}{back}"
                )
    return parts


def _overload_answer(comparisons: Views) -> str:
    parts = overload_parts(comparisons)
    return ("; ".join(parts) + ".") if parts else "no overload curve in this run."


# Experiments whose question is not a capacity ratio answer it their own way.
ANSWERS: dict[str, Callable[[Views], str]] = {"overload": _overload_answer}


def _family_note(comparisons: Views) -> str:
    share = max((c.share for _, c in comparisons), default=1)
    resolved = next((c.resolution for _, c in comparisons if c.resolution is not None), None)
    note = (
        f"The experiment's verdicts share one {FAMILY_ERROR:.0%} error budget (each interval at "
        f"{1 - FAMILY_ERROR / share:.2%})"
        if share > 1
        else "Judged at 95%"
    )
    return note + (f"; {resolved.describe()}." if resolved is not None else ".")


def section(place: Place, experiment: Experiment, directory: Path, comparisons: Views) -> tuple[str, str]:
    """The README's block for one experiment (question, answer, chart, one compact table), and its
    page of every table under docs/results/."""
    page = place.pages / f"{experiment.name}.md"
    answer = ANSWERS.get(experiment.name, _answer)(comparisons) or "no capacity rounds in this run."
    lines = [
        f"### {experiment.title}",
        "",
        f"`make bench-{experiment.name}`: {experiment.question} **Answer:** {answer} "
        f"{_family_note(comparisons)} ({short_machine(directory)}; [every table]({place.link(page)}), "
        f"[evidence]({place.link(directory)}))",
    ]
    figure = _figure(place, experiment.name, _chart(experiment, comparisons))
    if figure:
        lines += ["", f"![{experiment.title}]({figure})"]
    rows: list[tuple[str, ...]] = []
    header: tuple[str, ...] = ()
    # One compact table: the first part's views. A second part (the servers' flags, the pool sizes)
    # is in the answer, the chart and the results page, so the block stays a screen long.
    first_part = comparisons[0][0].part if comparisons else None
    for view, comparison in comparisons:
        if view.part != first_part:
            continue
        chosen = _scenario_for_readme(comparison)
        for scenario in comparison.scenarios:
            if scenario.scenario == chosen:
                header = header or compact_header(scenario)
                rows += [r for r in compact_rows(scenario) if r not in rows]
    if rows:
        lines += ["", *table(header, rows)]
    full = [
        f"# {experiment.title}", "", experiment.question, "", f"Measured on {machine(directory)}.", "",
        f"Evidence (every window, point and setting): [{directory.name}](../../{place.link(directory)}).", "",
        _family_note(comparisons), "",
    ]  # fmt: skip
    if figure:
        full += [f"![{experiment.title}](../../{figure})", ""]
    for view, comparison in comparisons:
        full += [f"## {view.title}", "", render_markdown(comparison, level=3)]
    return "\n".join(lines), "\n".join(full)


_NOT_MEASURED = "Not measured yet"


@dataclass(frozen=True)
class _Run:
    experiment: Experiment
    directory: Path
    views: Views
    evidence: str  # the evidence directory, relative to the README

    def cite(self) -> str:
        return f"[more]({anchor(self.experiment.title)}), [evidence]({self.evidence})"


@dataclass(frozen=True)
class Regenerated:
    measured: list[str]  # experiments whose section was written from a run (results or evidence)
    missing: list[str]  # experiments with no run anywhere


def _replace(text: str, start: str, end: str, body: str) -> str:
    if start not in text or end not in text:
        raise BenchError(f"the README has no {start} ... {end} markers")
    before, rest = text.split(start, 1)
    return f"{before}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def regenerate(readme: Path = REPO_ROOT / "README.md", results_dir: Path = RESULTS_DIR) -> Regenerated:
    """Rewrite the marked sections from the newest run of each experiment, keeping each as evidence
    under docs/ beside the README."""
    place = Place(readme.parent)
    text = readme.read_text()
    parts: list[str] = []
    measured: list[str] = []
    missing: list[str] = []
    claims: list[Claim] = []
    runs: dict[str, _Run] = {}
    for name, experiment in EXPERIMENTS.items():
        newest = evidence.newest_run(name, results_dir, place.evidence)
        if newest is None:
            parts.append(f"### {experiment.title}\n\n{_NOT_MEASURED}: run `make bench-{name}`.")
            missing.append(name)
            continue
        directory = evidence.keep(newest, place.evidence)
        comparisons = compare_views(experiment, directory)
        block, page = section(place, experiment, directory, comparisons)
        write_text_atomic(place.pages / f"{name}.md", page + "\n")
        parts.append(block)
        measured.append(name)
        kept = place.link(directory)
        claims += claims_of(name, [(view.title, c) for view, c in comparisons], directory, kept)
        runs[name] = _Run(experiment, directory, comparisons, kept)
    write_claims(place.claims, claims)
    text = _replace(text, START, END, "\n" + "\n\n".join(parts) + "\n")
    text = _replace(text, FINDINGS_START, FINDINGS_END, "\n".join(findings(runs, claims)))
    if VERSIONS_START in text:
        text = _replace(text, VERSIONS_START, VERSIONS_END, versions_block(runs))
    write_text_atomic(readme, text)
    return Regenerated(measured, missing)


def versions_block(runs: dict[str, _Run]) -> str:
    """Each distinct set of versions the README's runs measured on, with the runs that used it."""
    seen: dict[str, list[str]] = {}
    for run in runs.values():
        facts = run_facts(run.directory)
        line = f"{machine_text(facts)}; {versions(facts)}" if facts else "not recorded"
        seen.setdefault(line, []).append(run.directory.name)
    return "\n".join(f"- {line} (runs {', '.join(f'`{r}`' for r in names)})" for line, names in seen.items())


def anchor(title: str) -> str:
    """GitHub's anchor for a heading."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return "#" + kept.replace(" ", "-")


# "What we found": one line per question, each rendered from claims (view index, scenario, side,
# the name a reader knows it by); a question whose run is missing is left out.
Picks = list[tuple[int, str, str, str]]
_FINDINGS: dict[str, tuple[str, Picks]] = {
    "servers": ("Which server for FastAPI, against uvicorn (list)", [
        (0, "list", "fastapi-granian:default", "granian"),
        (0, "list", "fastapi-gunicorn:default", "gunicorn"),
        (0, "list", "go-gin:default", "the Go gin ceiling")]),
    "servers-tuned": ("Does tuning pay, each server against itself as shipped (list)", [
        (0, "list", f"{stack}:tuned", stack.removeprefix("fastapi-"))
        for stack in ("fastapi-uvicorn", "fastapi-granian", "fastapi-gunicorn")]),
    "servers-flags": ("Server flags on one server core, each against its default (list)", [
        (1, "list", "fastapi-gunicorn:asgi-worker", "gunicorn's ASGI worker"),
        (2, "list", "fastapi-uvicorn:workers", "uvicorn --workers 2"),
        (3, "list", "fastapi-granian:runtime-threads", "granian --runtime-threads 2"),
        (3, "list", "fastapi-granian:workers", "granian --workers 2")]),
    "ladder": ("FastAPI's rungs against the write-up's habits (list)", [
        (0, "list", f"fastapi-uvicorn:{rung}", rung) for rung in ("default", "tuned", "bare")]),
    "pooling": ("A connection per request against a pool (list, 200 connections)", [
        (0, "list", "fastapi-uvicorn:per-request", "uvicorn"), (1, "list", "go-gin:per-request", "gin")]),
    "logging": ("The access log on ping", [
        (i, "ping", f"{s}:access-log", s.removeprefix("fastapi-")) for i, s in enumerate(LOGGING_SERVICES)]),
    "serialization": ("FastAPI serialising against a TypeAdapter into a Response", [
        (0, scenario, "fastapi-uvicorn:idiomatic", f"{rows} rows")
        for scenario, rows in (("list-1", 1), ("list", 25), ("list-100", 100))]),
    "middleware-control": ("The method's positive control: a fixed extra CPU cost per request (burn-10, "
                           "its loop count in the run's evidence) against default", [
        (0, "list", "fastapi-uvicorn:burn-10", "list"), (0, "ping", "fastapi-uvicorn:burn-10", "ping")]),
    "middleware": ("Three middlewares on ping", [
        (0, "ping", "fastapi-uvicorn:http-3", "@app.middleware"),
        (0, "ping", "fastapi-uvicorn:asgi-3", "pure ASGI")]),
    "sync": ("`def` endpoints on the thread pool (list)", [
        (0, "list", "fastapi-uvicorn:sync", "50 connections"), (1, "list", "fastapi-uvicorn:sync", "200")]),
    "orm": ("SQLAlchemy against raw asyncpg (list)", [
        (0, "list", f"fastapi-uvicorn:sqlalchemy-{layer}", layer) for layer in ("core", "orm", "session")]),
    "drivers": ("asyncpg's pool against psycopg's", [
        (0, scenario, "fastapi-uvicorn:asyncpg", scenario) for scenario in ("list", "create")]),
    "workers": ("gunicorn workers on one server core, against one (list)", [
        (0, "list", f"fastapi-gunicorn:default@workers={n}", f"{n} workers") for n in (2, 4)]),
}  # fmt: skip


def _picked(run: _Run, claims: list[Claim], title: str, picks: Picks) -> list[str]:
    name = run.experiment.name
    parts = [f"{label} {claim.shown()}" for view, scenario, side, label in picks
             if (claim := find(claims, name, view, scenario, side)) is not None]  # fmt: skip
    return [f"- **{title}**: " + ", ".join(parts) + f" ({run.cite()})."] if parts else []


def _sizing(run: _Run) -> list[str]:
    """CPU per request turned into cores per 1,000 req/s: the number a reader carries to their machines."""
    comparison = run.views[0][1]
    parts = []
    for scenario in comparison.scenarios:
        if scenario.scenario != "list":
            continue
        for side in sorted(scenario.sides, key=lambda s: s.label):
            if side.cpu is None or not side.label.endswith(":default"):
                continue
            database = side.postgres_cpu.value if side.postgres_cpu else None
            own = f"{side.cpu.value:.2f}"
            if side.cpu.low is not None and side.cpu.high is not None:
                own += f" [{side.cpu.low:.2f}, {side.cpu.high:.2f}]"
            extra = f" + {database:.2f} PostgreSQL" if database is not None else ""
            parts.append(f"{side.label.removesuffix(':default').removeprefix('fastapi-')} {own}{extra}")
    if not parts:
        return []
    return [
        "- **Sizing (list, 25 rows; cores per 1,000 req/s = CPU ms per request)**: " + ", ".join(parts)
        + " — measured on one core shared with PostgreSQL over loopback, this app's one query; other "
        f"CPUs, networks and queries change it ({run.cite()})."
    ]  # fmt: skip


def findings(runs: dict[str, _Run], claims: list[Claim]) -> list[str]:
    lines: list[str] = []
    for key, (title, picks) in _FINDINGS.items():
        run = runs.get(key.split("-")[0])
        if run is not None:
            lines += _picked(run, claims, title, picks)
        if key == "servers-flags" and "servers" in runs:
            lines += _sizing(runs["servers"])
    if "overload" in runs:
        parts = overload_parts(runs["overload"].views)
        if parts:
            lines.append("- **Past capacity** (open-loop, list, heaviest point): " + "; ".join(parts)
                         + f" ({runs['overload'].cite()}).")  # fmt: skip
    return lines
