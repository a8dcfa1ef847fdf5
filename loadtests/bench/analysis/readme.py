"""Regenerating the README's "What it shows" section from the newest run of each experiment."""

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis.charts import charts
from bench.analysis.compare import Comparison, capacity_summary, compare_paths
from bench.analysis.markdown import errors_line, render_markdown
from bench.analysis.report import calibration_text
from bench.common.errors import BenchError
from bench.common.paths import REPO_ROOT, RESULTS_DIR
from bench.experiments import EXPERIMENTS, Experiment, compare_views
from bench.run.results import find_results, read_result, write_text_atomic

START = "<!-- what-it-shows:start -->"
END = "<!-- what-it-shows:end -->"
FIGURES = REPO_ROOT / "docs" / "figures"
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
# Standalone SVG files need the namespace and the styles the HTML report keeps in its page CSS.
_SVG_STYLE = (
    "<style>text{font:12px sans-serif;fill:#222}.title{font-weight:bold;font-size:14px}"
    ".axis line,.axis path{stroke:#888}.grid{stroke:#eee}</style>"
)


def latest_run(name: str, results_dir: Path = RESULTS_DIR) -> Path | None:
    runs = sorted(p for p in results_dir.glob(f"{name}-*") if p.is_dir() and (p / "report.md").exists())
    return runs[-1] if runs else None


def _machine(directory: Path) -> str:
    paths = find_results(directory)
    if not paths:
        raise BenchError(f"no results in {directory}")
    doc: dict[str, Any] = read_result(paths[0])
    env = doc.get("environment", {})
    when = time.strftime("%Y-%m-%d", time.gmtime(paths[0].stat().st_mtime))
    calibration = doc.get("generator_calibration")
    measured = f"; generator calibration: {calibration_text(calibration)}" if calibration else ""
    return (
        f"{env.get('cpu_model', 'unknown CPU')}, {env.get('cpu_count')} cores, kernel {env.get('kernel')}, "
        f"Python {env.get('python')}, {env.get('go') or 'no Go'}; CPU sets {env.get('cpu_sets')}; {when}"
        f"{measured}"
    )


def _figure(name: str, comparison: Comparison) -> str | None:
    for figure in charts(comparison):
        match = _SVG.search(figure)
        if match:
            svg = match.group(0).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
            svg = svg.replace(">", ">" + _SVG_STYLE, 1)
            FIGURES.mkdir(parents=True, exist_ok=True)
            path = FIGURES / f"{name}.svg"
            write_text_atomic(path, svg + "\n")
            return str(path.relative_to(REPO_ROOT))
    return None


def section(experiment: Experiment, directory: Path) -> str:
    lines = [
        f"### {experiment.title}",
        "",
        f"`make bench-{experiment.name}` — {experiment.question}",
        "",
        f"Measured on {_machine(directory)}.",
    ]
    comparisons = compare_views(experiment, directory)
    for view, comparison in comparisons:
        lines += ["", f"#### {view.title}", "", _tables_only(render_markdown(comparison, level=5))]
        errors = errors_line(comparison.scenarios)
        if errors:
            lines += ["", errors]
        capacity = [text for text in map(capacity_summary, comparison.scenarios) if text]
        if capacity:
            lines += ["", "Capacity: " + " ".join(capacity)]
        findings = [
            line for scenario in comparison.scenarios for line in scenario.findings if line not in capacity
        ]
        if findings:
            lines += ["", "What the numbers say: " + " ".join(findings[:3])]
    figure = _figure(experiment.name, compare_paths([directory], experiment.baseline))
    if figure:
        lines += ["", f"![{experiment.title}]({figure})"]
    return "\n".join(lines)


def _tables_only(markdown: str) -> str:
    """The comparison's scenario headings and tables: the README states the reading note once."""
    out: list[str] = []
    for line in markdown.splitlines():
        is_table = line.startswith("|")
        if is_table or line.startswith("Baseline") or (line.startswith("#") and "Scenario" in line):
            if out and not (is_table and out[-1].startswith("|")):
                out.append("")  # Markdown needs a blank line before a table or after a heading
            out.append(line)
    return "\n".join(out)


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
            parts.append(section(experiment, directory))
            measured.append(name)
        elif experiment.title in current:
            parts.append(current[experiment.title])
            kept.append(name)
        else:
            parts.append(f"### {experiment.title}\n\n{_NOT_MEASURED}: run `make bench-{name}`.")
    write_text_atomic(readme, f"{head}{START}\n\n" + "\n\n".join(parts) + f"\n\n{END}{tail}")
    return Regenerated(measured, kept)
