"""Comparisons as Markdown: the tables, the reading notes, each side's errors by message."""

from collections.abc import Sequence

from bench.analysis.compare import (
    DASH,
    GENERATOR_MARK,
    GENERATOR_NOTE,
    SPREAD_MARK,
    SPREAD_NOTE,
    TIMES,
    Comparison,
    ScenarioComparison,
    Side,
)
from bench.analysis.stats import Stat


def _cell(value: Stat | None, digits: int) -> str:
    if value is None:
        return "—"
    text = f"{value.median:,.{digits}f}"
    if value.count > 1:
        text += f" ({value.low:,.{digits}f}{DASH}{value.high:,.{digits}f})"
    if value.wide:
        text += f" {SPREAD_MARK}"
    return text


TABLE_HEADER = ("side", "trials", "RPS", "capacity (wrk)", "Locust share", f"{TIMES} baseline",
                f"{TIMES} baseline (wrk)", "p50 ms", "p99 ms", "errors (rate)", "CPU ms/req",
                "peak RSS MB", "vs baseline (RPS)", "vs baseline (CPU/req)")  # fmt: skip


CEILING_NOTE = (
    "capacity (wrk): the median of wrk's ceilings, the same scenario sent by wrk at the same connection "
    f"count right after Locust; {TIMES} baseline (wrk) sets them against the baseline's, on sides "
    f"where both have one. {SPREAD_MARK} wrk-bound after a ceiling: wrk itself was the limit, a lower "
    f"bound; {SPREAD_MARK} alone, there as in any cell: the trials spread more than 10%."
)


def table_rows(comparison: ScenarioComparison) -> list[tuple[str, ...]]:
    """One row of cells per side, shared by the Markdown and the HTML report."""
    rows: list[tuple[str, ...]] = []
    for side in comparison.sides:
        label = side.label + (" (baseline)" if side is comparison.baseline else "")
        if side.generator_bound:
            label += f" {GENERATOR_MARK} ({side.generator_bound_trials}/{side.trials})"
        rows.append((
            label, str(side.trials), _cell(side.rps, 0),
            _cell(side.ceiling, 0) + (f" {SPREAD_MARK} wrk-bound" if side.ceiling_bound_trials else ""),
            f"{side.locust_share:.0%}" if side.locust_share is not None else "—",
            f"{side.ratio:.2f}{TIMES}" if side.ratio is not None else "—",
            f"{side.ceiling_ratio:.2f}{TIMES}" if side.ceiling_ratio is not None else "—",
            _cell(side.p50, 1), _cell(side.p99, 1), f"{side.failures:,} ({side.error_rate:.2%})",
            _cell(side.cpu_ms_per_request, 3), _cell(side.peak_rss_mb, 1),
            side.verdict.text if side.verdict else "—",
            side.cpu_verdict.text if side.cpu_verdict else "—",
        ))  # fmt: skip
    return rows


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


def reading_note(comparison: Comparison) -> str:
    """How to read the tables: what a cell holds, the spread warning, and when a difference is real."""
    return (
        f"Cells show the median over a side's trials and, with repeats, the range (min{DASH}max) in "
        f"brackets. {SPREAD_NOTE} A difference in RPS is called significant when a two-sided permutation "
        f"test of the trials gives p ≤ {comparison.alpha:g}; with one trial on either side it cannot be "
        "judged."
    )


def error_counts(side: Side) -> dict[str, int]:
    """A side's failures by message over all its trials, e.g. `HTTP 503: ...: too many clients already`."""
    counts: dict[str, int] = {}
    for document in side.documents:
        for row in document.get("errors", {}).get("by_message", []):
            counts[row["message"]] = counts.get(row["message"], 0) + int(row["occurrences"])
    return counts


def errors_line(scenarios: Sequence[ScenarioComparison]) -> str | None:
    """Each side's failure messages with counts, so a refusal reads as what it was, not as a number."""
    parts = []
    for scenario in scenarios:
        for side in scenario.sides:
            counts = error_counts(side)
            if counts:
                listed = "; ".join(f"`{message}` x{count:,}" for message, count in sorted(counts.items()))
                parts.append(f"{side.label}: {listed}")
    return "Errors: " + " / ".join(parts) + "." if parts else None


def render_markdown(comparison: Comparison, level: int = 1) -> str:
    """The comparison as Markdown; `level` is the depth of its top heading, for embedding in a report."""
    h1, h2 = "#" * level, "#" * (level + 1)
    out = [
        f"{h1} Comparison",
        "",
        f"Sources: {', '.join(f'`{p}`' for p in comparison.sources)}.",
        "",
        reading_note(comparison),
    ]
    for scenario in comparison.scenarios:
        out += ["", f"{h2} Scenario `{scenario.scenario}`", ""]
        out += [f"Baseline: {scenario.baseline.label}, {scenario.baseline_reason}.", ""]
        out += _markdown_table(TABLE_HEADER, table_rows(scenario))
        if any(side.ceiling for side in scenario.sides):
            out += ["", CEILING_NOTE]
        if any(side.generator_bound for side in scenario.sides):
            out += ["", f"{GENERATOR_MARK}: {GENERATOR_NOTE}"]
        errors = errors_line([scenario])
        if errors:
            out += ["", errors]
        if scenario.findings:
            out += ["", *(f"- {line}" for line in scenario.findings)]
    if comparison.excluded:
        out += ["", f"{h2} Incomplete or failed cases (not in any number above)", ""]
        out += _markdown_table(
            ("side", "scenario", "trial", "status", "reason", "file"),
            [(e.label, e.scenario, str(e.trial), e.status, e.reason, str(e.path or "—"))
             for e in comparison.excluded],
        )  # fmt: skip
    if comparison.saturations:
        count = len(comparison.saturations)
        out += ["", f"{count} saturation result(s) found: searches for a knee, not load cases, so they are "
                "in no table here (the run's report.html draws them)."]  # fmt: skip
    out += ["", f"{h2} Mismatched settings", ""]
    if comparison.mismatches:
        labels = list(dict.fromkeys(label for m in comparison.mismatches for label in m.values))
        out += ["These differ between the sides (or between one side's trials); differences in the "
                "numbers may come from them rather than from the servers.", ""]  # fmt: skip
        out += _markdown_table(
            ("setting", *labels), [(m.setting, *(m.values.get(label, "—") for label in labels))
                                   for m in comparison.mismatches],
        )  # fmt: skip
    else:
        out.append("None: load settings, CPU sets, code, packages, toolchains, machine and database match.")
    return "\n".join(out) + "\n"
