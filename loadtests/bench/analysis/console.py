"""What a run prints when it ends: per scenario one compact table and its findings, then where the rest is."""

from collections.abc import Sequence
from pathlib import Path

from bench.analysis.compare import Comparison, compare_paths
from bench.analysis.curves import knee
from bench.analysis.markdown import compact_header, compact_rows, errors_line, ms, rate


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in (header, *rows)]  # fmt: skip


def console_summary(comparison: Comparison, run_dir: Path, report: Path | None) -> str:
    lines: list[str] = []
    for scenario in comparison.scenarios:
        lines += ["", f"{scenario.scenario} (each side against its baseline: its own default, or "
                  f"{scenario.baseline.label})"]  # fmt: skip
        lines += ["  " + line for line in _aligned(compact_header(scenario), compact_rows(scenario))]
        lines += [f"  {answer}" for answer in scenario.answers]
    note = (
        f"The run's {comparison.share} verdicts share one 5% error budget (each interval at "
        f"{1 - 0.05 / comparison.share:.2%}), so together they hold"
        if comparison.share > 1
        else "Each verdict at 95%"
    )
    undecided = any(
        not r.decided for s in comparison.scenarios for x in s.judged() if (r := x.capacity_ratio)
    )
    if undecided and comparison.resolution is not None:
        note += f"; unclear means not decided: {comparison.resolution.describe()}"
    lines += ["", note + "."]
    errors = errors_line(comparison.scenarios)
    if errors:
        lines += ["", errors]
    lines += [f"results: {run_dir}"]
    if report is not None:
        lines.append(f"report (every table, the Locust pass, settings): {report}")
    return "\n".join(lines)


def describe_curves(run_dir: Path) -> list[str]:
    """A side's own curve in a line per side: its capacity, the knee and why the next point is past it."""
    comparison = compare_paths([run_dir], None)
    lines = []
    for scenario in comparison.scenarios:
        for side in scenario.sides:
            if not side.curve:
                continue
            found = knee(side.curve)
            capacity = f"capacity {rate(side.capacity.value)} req/s" if side.capacity else "no capacity"
            where = (
                f"knee at {rate(found.rate)} req/s offered ({found.fraction:.0%} of capacity, p99 floor "
                f"{ms(found.floor_p99_ms)})"
                if found.rate is not None and found.fraction is not None
                else "no knee"
            )
            notes = (
                [f"taken as noise, the next point kept up: {'; '.join(found.isolated)}"]
                if found.isolated
                else []
            )
            notes += (
                [f"{found.limited} point(s) skipped: the generator was the limit"] if found.limited else []
            )
            tail = f" ({'; '.join(notes)})" if notes else ""
            lines.append(f"{side.label} on {scenario.scenario}: {capacity}; {where}: {found.reason}{tail}")
    return lines or ["no open-loop curve was measured"]
