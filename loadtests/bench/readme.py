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

from bench.analysis.compare import Comparison, ScenarioComparison
from bench.analysis.figures import capacity_figure, ladder_figure
from bench.analysis.markdown import compact_header, compact_rows, render_markdown, table
from bench.analysis.report import cpu_prose
from bench.common.errors import BenchError
from bench.common.paths import REPO_ROOT, RESULTS_DIR
from bench.common.results import find_results, read_result, write_text_atomic
from bench.experiments import EXPERIMENTS, LADDER_RUNGS, Experiment, compare_views

START = "<!-- what-it-shows:start -->"
END = "<!-- what-it-shows:end -->"
FIGURES = REPO_ROOT / "docs" / "figures"
RESULT_PAGES = REPO_ROOT / "docs" / "results"


def latest_run(name: str, results_dir: Path = RESULTS_DIR) -> Path | None:
    runs = sorted(p for p in results_dir.glob(f"{name}-*") if p.is_dir() and (p / "report.md").exists())
    return runs[-1] if runs else None


def machine(directory: Path) -> str:
    """Where and when a run was measured, as prose."""
    paths = find_results(directory)
    if not paths:
        raise BenchError(f"no results in {directory}")
    doc: dict[str, Any] = read_result(paths[0])
    env = doc.get("environment", {})
    when = time.strftime("%Y-%m-%d", time.gmtime(paths[0].stat().st_mtime))
    return (
        f"run `{directory.name}` on {when}: {env.get('cpu_model', 'unknown CPU')}, {env.get('cpu_count')} "
        f"cores, kernel {env.get('kernel')}, Python {env.get('python')}, {env.get('go') or 'no Go'}; "
        f"{cpu_prose(env.get('cpu_sets') or {})}"
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


def _merged_figure(comparisons: list[tuple[Any, Comparison]]) -> str | None:
    """Several views (one per service) drawn as one chart: a panel per view and scenario."""
    merged = Comparison(sources=[], scenarios=[], excluded=[], mismatches=[])
    for view, comparison in comparisons:
        for scenario in comparison.scenarios:
            title = f"{view.title} ({scenario.scenario})"
            merged.scenarios.append(ScenarioComparison(title, scenario.sides, scenario.baseline, ""))
    return capacity_figure(merged)


def section(experiment: Experiment, directory: Path) -> tuple[str, str]:
    """The README's block for one experiment, and its full-tables page."""
    comparisons = compare_views(experiment, directory)
    answer = [finding for _, c in comparisons for s in c.scenarios for finding in s.findings[:2]]
    lines = [f"### {experiment.title}", "", f"`make bench-{experiment.name}`: {experiment.question}", ""]
    if answer:
        lines += ["**Answer.** " + " ".join(answer[:4]), ""]
    figure = _figure(experiment.name, _chart(experiment, comparisons))
    if figure:
        lines += [f"![{experiment.title}]({figure})", ""]
    for view, comparison in comparisons:
        for scenario in comparison.scenarios:
            lines += [f"*{view.title}, {scenario.scenario}:*", ""]
            lines += [*table(compact_header(scenario), compact_rows(scenario)), ""]
    page = RESULT_PAGES / f"{experiment.name}.md"
    lines.append(f"Measured on {machine(directory)}. Every table: [{page.relative_to(REPO_ROOT)}]"
                 f"({page.relative_to(REPO_ROOT)}).")  # fmt: skip
    full = [f"# {experiment.title}", "", experiment.question, "", f"Measured on {machine(directory)}.", ""]
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
    write_text_atomic(readme, f"{head}{START}\n\n" + "\n\n".join(parts) + f"\n\n{END}{tail}")
    return Regenerated(measured, kept)
