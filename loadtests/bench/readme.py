"""Regenerating the README's "What it shows" from the newest run of each experiment, and each experiment's
full tables under docs/results/.

Each section states the question, the answer in numbers with its interval, one chart and one compact
table per view, and the run it came from; the long tables go to docs/results/<experiment>.md.
"""

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis.compare import TIMES, Comparison, ScenarioComparison, Side
from bench.analysis.figures import capacity_figure, ladder_figure
from bench.analysis.markdown import compact_header, compact_rows, ms, rate, render_markdown, table
from bench.analysis.report import cpu_prose
from bench.common.errors import BenchError
from bench.common.paths import REPO_ROOT, RESULTS_DIR
from bench.common.results import find_results, read_result, write_text_atomic
from bench.experiments import EXPERIMENTS, LADDER_RUNGS, LOGGING_SERVICES, Experiment, compare_views

START = "<!-- what-it-shows:start -->"
END = "<!-- what-it-shows:end -->"
FIGURES = REPO_ROOT / "docs" / "figures"
RESULT_PAGES = REPO_ROOT / "docs" / "results"


def latest_run(name: str, results_dir: Path = RESULTS_DIR) -> Path | None:
    runs = sorted(p for p in results_dir.glob(f"{name}-*") if p.is_dir() and (p / "report.md").exists())
    return runs[-1] if runs else None


def _measured(directory: Path) -> tuple[str, dict[str, Any]]:
    """When a run was measured (its first result's date) and the environment it recorded."""
    paths = find_results(directory)
    if not paths:
        # A run of rounds and open-loop points only (no Locust pass) records no environment.
        records = sorted(directory.rglob("rounds.json"))
        if not records:
            raise BenchError(f"no results in {directory}")
        return time.strftime("%Y-%m-%d", time.gmtime(records[0].stat().st_mtime)), {}
    doc: dict[str, Any] = read_result(paths[0])
    return time.strftime("%Y-%m-%d", time.gmtime(paths[0].stat().st_mtime)), doc.get("environment", {})


def machine(directory: Path) -> str:
    """Where and when a run was measured, as prose."""
    when, env = _measured(directory)
    return (
        f"run `{directory.name}` on {when}: {env.get('cpu_model', 'unknown CPU')}, {env.get('cpu_count')} "
        f"cores, kernel {env.get('kernel')}, Python {env.get('python')}, {env.get('go') or 'no Go'}; "
        f"{cpu_prose(env.get('cpu_sets') or {})}"
    )


def short_machine(directory: Path) -> str:
    when, env = _measured(directory)
    return (
        f"run `{directory.name}`, {when}, {env.get('cpu_count')} cores, {env.get('cpu_model', 'unknown CPU')}"
    )


def _figure(name: str, svg: str | None) -> str | None:
    if svg is None:
        return None
    path = FIGURES / f"{name}.svg"
    write_text_atomic(path, svg)
    return str(path.relative_to(REPO_ROOT))


def _chart(experiment: Experiment, comparisons: list[tuple[Any, Comparison]]) -> str | None:
    if experiment.name == "ladder":
        return ladder_figure([(view.title, c) for view, c in comparisons], LADDER_RUNGS)
    first = comparisons[0][1] if len(comparisons) == 1 else None
    return capacity_figure(first) if first is not None else _merged_figure(comparisons)


# More panels than this and a chart stops being read at a glance: past it, the first view keeps
# every scenario and each later one shows only the scenario its README row shows.
_MAX_PANELS = 6


def _merged_figure(comparisons: list[tuple[Any, Comparison]]) -> str | None:
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
    """The verdict against the baseline, else the first finding."""
    against = [f for f in scenario.findings if f.startswith("Against ")]
    if against:
        return f"On {scenario.scenario}, a{against[0][1:]}"
    return scenario.findings[0] if scenario.findings else None


def _answer(comparisons: list[tuple[Any, Comparison]]) -> str:
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


def section(experiment: Experiment, directory: Path) -> tuple[str, str]:
    """The README's block for one experiment (question, answer, chart, one compact table), and its
    page of every table under docs/results/."""
    comparisons = compare_views(experiment, directory)
    page = RESULT_PAGES / f"{experiment.name}.md"
    link = page.relative_to(REPO_ROOT)
    lines = [
        f"### {experiment.title}",
        "",
        f"`make bench-{experiment.name}`: {experiment.question} **Answer:** "
        f"{_answer(comparisons) or 'no capacity rounds in this run.'} ({short_machine(directory)}; "
        f"[every table]({link}))",
    ]
    figure = _figure(experiment.name, _chart(experiment, comparisons))
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
    full = [f"# {experiment.title}", "", experiment.question, "", f"Measured on {machine(directory)}.", ""]
    if figure:
        full += [f"![{experiment.title}](../../{figure})", ""]
    for view, comparison in comparisons:
        full += [f"## {view.title}", "", render_markdown(comparison, level=3)]
    return "\n".join(lines), "\n".join(full)


_NOT_MEASURED = "Not measured yet"


def _current_sections(marked: str) -> dict[str, str]:
    """The README's sections as they stand, by title: one whose experiment has no run in this
    results directory (a fresh checkout, or a run made on another machine) is kept as it was,
    with the machine and date it states, rather than replaced by "not measured"."""
    sections: dict[str, str] = {}
    for chunk in re.split(r"(?m)^(?=### )", marked):
        if chunk.startswith("### ") and _NOT_MEASURED not in chunk:
            sections[chunk.splitlines()[0].removeprefix("### ").strip()] = chunk.strip()
    return sections


@dataclass(frozen=True)
class Regenerated:
    measured: list[str]  # experiments whose section was written from a run here
    kept: list[str]  # experiments whose section was kept from the README as it stood


def regenerate(readme: Path = REPO_ROOT / "README.md", results_dir: Path = RESULTS_DIR) -> Regenerated:
    """Rewrite the marked section from the newest run of each experiment."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise BenchError(f"{readme} has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    marked, tail = rest.split(END, 1)
    current = _current_sections(marked)
    parts: list[str] = []
    measured: list[str] = []
    kept: list[str] = []
    for name, experiment in EXPERIMENTS.items():
        directory = latest_run(name, results_dir)
        if directory is not None:
            block, page = section(experiment, directory)
            write_text_atomic(RESULT_PAGES / f"{name}.md", page + "\n")
            parts.append(block)
            measured.append(name)
        elif experiment.title in current:
            parts.append(current[experiment.title])
            kept.append(name)
        else:
            parts.append(f"### {experiment.title}\n\n{_NOT_MEASURED}: run `make bench-{name}`.")
    text = f"{head}{START}\n\n" + "\n\n".join(parts) + f"\n\n{END}{tail}"
    found = findings(results_dir)
    if found and FINDINGS_START in text and FINDINGS_END in text:
        before, rest = text.split(FINDINGS_START, 1)
        text = (
            before
            + FINDINGS_START
            + "\n"
            + "\n".join(found)
            + "\n"
            + FINDINGS_END
            + rest.split(FINDINGS_END, 1)[1]
        )
    write_text_atomic(readme, text)
    return Regenerated(measured, kept)


# "What we found": the README's first answer, one line per question, each from its experiment's
# newest run (named in the line), with the interval; a question whose run is missing is left out.
FINDINGS_START = "<!-- findings:start -->"
FINDINGS_END = "<!-- findings:end -->"
_STACKS = ("go-gin", "fastapi-uvicorn", "fastapi-granian", "fastapi-gunicorn")


def anchor(title: str) -> str:
    """GitHub's anchor for a heading."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return "#" + kept.replace(" ", "-")


def _ratio(side: Side | None) -> str | None:
    ratio = side.capacity_ratio if side else None
    if ratio is None:
        return None
    return f"{ratio.value:.2f}{TIMES} {ratio.interval} ({ratio.word})"


def _find(comparison: Comparison, scenario: str, label: str) -> Side | None:
    for each in comparison.scenarios:
        if each.scenario == scenario:
            return next((s for s in each.sides if s.label == label), None)
    return None


@dataclass(frozen=True)
class _Run:
    experiment: Experiment
    directory: Path
    views: list[tuple[Any, Comparison]]

    def view(self, index: int = 0) -> Comparison:
        return self.views[index][1]

    def cite(self) -> str:
        return f"[more]({anchor(self.experiment.title)}), run `{self.directory.name}`"


def _capacity(side: Side | None) -> str | None:
    if side is None or side.capacity is None:
        return None
    c = side.capacity
    interval = f" [{rate(c.low)}, {rate(c.high)}]" if c.low is not None and c.high is not None else ""
    return f"{rate(c.value)}{interval}"


def _servers(run: _Run) -> list[str]:
    lines = []
    for scenario in ("ping", "list", "mixed"):
        parts = [
            f"{stack.removeprefix('fastapi-')} {shown}"
            for stack in _STACKS
            if (shown := _capacity(_find(run.view(), scenario, f"{stack}:default")))
        ]
        if parts:
            lines.append(f"- **{scenario}**, req/s on one core: " + ", ".join(parts) + f" ({run.cite()}).")
    # The settings part's views (1-3 in experiments.py), each flag against its own server's default.
    return lines + _pairs(run, "Server flags on one server core, each against its default (list)", [
        (1, "list", "fastapi-gunicorn:asgi-worker", "gunicorn's ASGI worker"),
        (2, "list", "fastapi-uvicorn:workers", "uvicorn --workers 2"),
        (3, "list", "fastapi-granian:runtime-threads", "granian --runtime-threads 2"),
        (3, "list", "fastapi-granian:workers", "granian --workers 2"),
    ])  # fmt: skip


def _pairs(run: _Run, title: str, pairs: list[tuple[int, str, str, str]]) -> list[str]:
    """One line: `title`: name ratio, ... for (view index, scenario, side label, name) pairs."""
    parts = [
        f"{name} {shown}"
        for index, scenario, label, name in pairs
        if index < len(run.views) and (shown := _ratio(_find(run.view(index), scenario, label)))
    ]
    return [f"- **{title}**: " + ", ".join(parts) + f" ({run.cite()})."] if parts else []


def _overload(run: _Run) -> list[str]:
    parts = []
    for scenario in run.view().scenarios:
        for side in scenario.sides:
            if not side.curve:
                continue
            worst = max(side.curve, key=lambda p: p.offered_rps)
            failed = sum(worst.errors.values()) / worst.requests if worst.requests else 0.0
            p99 = ms(worst.latency_ms.p99) if worst.latency_ms else "none served"
            parts.append(f"{side.label.removeprefix('fastapi-')} {failed:.0%} errors, p99 {p99}")
    if not parts:
        return []
    return ["- **At 150% of capacity** (open-loop, list): " + "; ".join(parts) + f" ({run.cite()})."]


def _ladder(run: _Run) -> list[str]:
    return _pairs(run, "FastAPI's rungs against the write-up's habits", [
        (0, scenario, f"fastapi-uvicorn:{rung}", f"{rung} on {scenario}")
        for scenario in ("list",) for rung in ("default", "tuned", "bare")
    ])  # fmt: skip


_FINDINGS = {
    "servers": _servers,
    "ladder": _ladder,
    "pooling": lambda run: _pairs(run, "A connection per request against a pool (list, 200 connections)", [
        (0, "list", "fastapi-uvicorn:per-request", "uvicorn"), (1, "list", "go-gin:per-request", "gin")]),
    "logging": lambda run: _pairs(run, "The access log on ping", [
        (i, "ping", f"{s}:access-log", s.removeprefix("fastapi-")) for i, s in enumerate(LOGGING_SERVICES)]),
    "serialization": lambda run: _pairs(run, "FastAPI serialising against a TypeAdapter into a Response", [
        (0, scenario, "fastapi-uvicorn:idiomatic", f"{rows} rows")
        for scenario, rows in (("list-1", 1), ("list", 25), ("list-100", 100))]),
    "middleware": lambda run: _pairs(run, "Three middlewares on ping", [
        (0, "ping", "fastapi-uvicorn:http-3", "@app.middleware"),
        (0, "ping", "fastapi-uvicorn:asgi-3", "pure ASGI")]),
    "sync": lambda run: _pairs(run, "`def` endpoints on the thread pool (list)", [
        (0, "list", "fastapi-uvicorn:sync", "50 connections"), (1, "list", "fastapi-uvicorn:sync", "200")]),
    "orm": lambda run: _pairs(run, "SQLAlchemy against raw asyncpg (list)", [
        (0, "list", f"fastapi-uvicorn:sqlalchemy-{layer}", layer) for layer in ("core", "orm", "session")]),
    "drivers": lambda run: _pairs(run, "asyncpg's pool against psycopg's", [
        (0, scenario, "fastapi-uvicorn:asyncpg", scenario) for scenario in ("list", "create")]),
    "workers": lambda run: _pairs(run, "gunicorn workers on one server core, against one (list)", [
        (0, "list", f"fastapi-gunicorn:default@workers={n}", f"{n} workers") for n in (2, 4)]),
    "overload": _overload,
}  # fmt: skip


def findings(results_dir: Path = RESULTS_DIR) -> list[str]:
    lines: list[str] = []
    for name, describe in _FINDINGS.items():
        directory = latest_run(name, results_dir)
        if directory is None:
            continue
        experiment = EXPERIMENTS[name]
        lines += describe(_Run(experiment, directory, compare_views(experiment, directory)))
    return lines
