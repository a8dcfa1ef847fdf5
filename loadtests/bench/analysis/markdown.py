"""Comparisons as Markdown: a compact table per scenario (the answer), then the long tables (the evidence)."""

from collections.abc import Sequence

from bench.analysis.compare import (
    GENERATOR_MARK,
    GENERATOR_NOTE,
    TIMES,
    Comparison,
    ScenarioComparison,
    Side,
)
from bench.analysis.curves import knee
from bench.analysis.paired import Estimate, Ratio


def rate(value: float | None) -> str:
    """12.3k above ten thousand, 950 or 4,210 below: what a person reads at a glance."""
    if value is None:
        return "—"
    return f"{value / 1000:.1f}k" if value >= 10_000 else f"{value:,.0f}"


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def estimate_cell(value: Estimate | None, fmt: str = "rate") -> str:
    if value is None:
        return "—"
    show = rate if fmt == "rate" else (lambda v: f"{v:.3f}" if v is not None else "—")
    if value.low is None or value.high is None:
        return f"{show(value.value)} (n={value.count})"
    return f"{show(value.value)} [{show(value.low)}, {show(value.high)}]"


def ratio_cell(ratio: Ratio | None, side: Side, comparison: ScenarioComparison, word: bool = True) -> str:
    """The ratio against the side's own baseline, named when it is not the scenario's reference."""
    if side.baseline is None:
        return "baseline"
    if ratio is None:
        return "—"
    text = f"{ratio.value:.2f}{TIMES} {ratio.interval}" + (f" {ratio.word}" if word else "")
    if side.baseline is not comparison.baseline:
        text += f" vs {side.baseline.label}"
    return text


def _p99_cell(side: Side, rate_point: float | None) -> str:
    """The median p99 over the repeats, with its interval when there are enough; ⚠ when the generator
    limited a repeat (left out)."""
    if rate_point is None or side.p99 is None:
        return "—"
    found = side.p99
    if found.p99_ms is None:
        return "⚠ generator-limited" if found.excluded else "no success"
    text = ms(found.p99_ms.value)
    if found.p99_ms.low is not None and found.p99_ms.high is not None:
        text += f" [{ms(found.p99_ms.low)}, {ms(found.p99_ms.high)}]"
    if found.failed:
        text += f" ({found.failed_share:.1%} failed)"
    return text + (f" ⚠{found.excluded}" if found.excluded else "")


def compact_header(comparison: ScenarioComparison) -> tuple[str, ...]:
    common = comparison.common_rates[len(comparison.common_rates) // 2] if comparison.common_rates else None
    # The p99 column only where the run measured latency open-loop: a column of dashes says nothing.
    p99 = (f"p99 @ {rate(common)} req/s",) if common is not None else ()
    return ("side", "capacity req/s [95%]", f"{TIMES} baseline [95%]", "CPU ms/req", *p99, "peak RSS MB")


def compact_rows(comparison: ScenarioComparison) -> list[tuple[str, ...]]:
    """At most seven columns, sorted by capacity: the table a reader takes the answer from."""
    common = comparison.common_rates[len(comparison.common_rates) // 2] if comparison.common_rates else None
    rows: list[tuple[str, ...]] = []
    for side in comparison.sides:
        capacity = estimate_cell(side.capacity) + (" ⚠ wrk-bound" if side.wrk_bound else "")
        if side.window_errors:
            capacity += f", {side.error_share:.0%} errors"
        if side.capacity is None and side.locust is not None:
            capacity = f"Locust {rate(side.locust.rps.median)}"
        rss = side.peak_rss_mb
        p99 = (_p99_cell(side, common),) if common is not None else ()
        rows.append((
            side.label, capacity, ratio_cell(side.capacity_ratio, side, comparison),
            f"{side.cpu.value:.3f}" if side.cpu else "—", *p99, f"{rss:,.0f}" if rss is not None else "—",
        ))  # fmt: skip
    return rows


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


DETAIL_HEADER = ("side", "rounds (usable, wrk-bound)", f"CPU/req {TIMES} baseline [95%]",
                 "PostgreSQL CPU ms/req",
                 "Locust req/s", "Locust p50 / p99 ms", "Locust errors",
                 "Locust against the rounds")  # fmt: skip


def _latency_pair(side: Side) -> str:
    locust = side.locust
    if locust is None or locust.p50 is None or locust.p99 is None:
        return "—"
    return f"{locust.p50.median:.1f} / {locust.p99.median:.1f}"


def detail_rows(comparison: ScenarioComparison) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for side in comparison.sides:
        locust = side.locust
        label = side.label + (f" {GENERATOR_MARK}" if locust and locust.generator_bound else "")
        usable = len(side.windows) - side.unusable_windows
        rows.append((
            label, f"{len(side.windows)} ({usable}, {side.wrk_bound_windows})",
            ratio_cell(side.cpu_ratio, side, comparison, word=False),
            estimate_cell(side.postgres_cpu, "ms"),
            rate(locust.rps.median) if locust else "—",
            _latency_pair(side),
            f"{locust.failures:,} ({locust.error_rate:.2%})" if locust else "—",
            side.locust_disagrees or ("within the interval" if locust and side.capacity else "—"),
        ))  # fmt: skip
    return rows


def open_loop_rows(comparison: ScenarioComparison) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    rates = comparison.common_rates
    header = ("side", *(f"{rate(r)} req/s: p50 / p99 / p99.9" for r in rates))
    rows: list[tuple[str, ...]] = []
    for side in comparison.sides:
        cells = []
        for offered in rates:
            point = side.p99_at(offered)
            if point is None or point.latency_ms is None:
                cells.append("—" if point is None else f"no success ({sum(point.errors.values()):,} errors)")
                continue
            lat = point.latency_ms
            cell = f"{lat.p50:.2f} / {lat.p99:.2f} / {lat.p99_9:.2f}"
            if point.errors:
                cell += f", {sum(point.errors.values()):,} errors"
            cells.append(cell + (" ⚠" if point.generator_limited else ""))
        rows.append((side.label, *cells))
    return header, rows


def curve_rows(comparison: ScenarioComparison) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for side in comparison.sides:
        if not side.curve:
            continue
        found = knee(side.curve)
        points = ", ".join(
            f"{p.fraction:.0%}: {ms(p.latency_ms.p99) if p.latency_ms else 'none'}"
            + (" ⚠" if p.generator_limited else "")
            for p in sorted(side.curve, key=lambda p: p.offered_rps)
        )
        where = (
            f"{rate(found.rate)} req/s ({found.fraction:.0%})" if found.rate and found.fraction else "none"
        )
        rows.append((side.label, points, where, found.reason))
    return rows


OVERLOAD_HEADER = ("side", "offered req/s", "served req/s", "errors", "p50 / p99 ms of successes",
                   "normal again after")  # fmt: skip


def overload_rows(comparison: ScenarioComparison) -> list[tuple[str, ...]]:
    """Each side at its heaviest curve point: what came back, and how long it took to recover."""
    rows: list[tuple[str, ...]] = []
    for side in comparison.sides:
        if not side.curve:
            continue
        worst = max(side.curve, key=lambda p: p.offered_rps)
        failed = sum(worst.errors.values())
        kinds = ", ".join(f"{kind} {count / worst.requests:.0%}" for kind, count in worst.errors.items())
        errors = f"{failed / worst.requests:.0%} ({kinds})" if failed and worst.requests else "none"
        latency = worst.latency_ms
        recovery = next(iter(side.recovery), None)
        after = "—"
        if recovery is not None:
            after = (f"{recovery.recovered_after_s:.2f} s" if recovery.recovered_after_s is not None
                     else f"not within {recovery.seconds} s")  # fmt: skip
        rows.append((
            side.label + (" ⚠" if worst.generator_limited else ""),
            f"{rate(worst.offered_rps)} ({worst.fraction:.0%})", rate(worst.goodput_rps), errors,
            f"{latency.p50:.1f} / {latency.p99:.1f}" if latency else "no success", after,
        ))  # fmt: skip
    return rows


def reading_note() -> str:
    return (
        "Capacity is the median of a side's wrk windows over the rounds, with the sign test's 95% interval: "
        "this machine, this run. Each side is judged against its baseline (its own server's default, and "
        f"those against FastAPI on uvicorn, unless a baseline is named): {TIMES} baseline is the "
        "Hodges-Lehmann estimate of the rounds' paired ratios with its signed-rank interval. A run's "
        "verdicts share one 5% error budget, so each interval is wider than 95% when there are several: "
        "*faster* or *slower* only when the interval excludes 1 (*, under 5%* when it also stays within "
        "the ±5% margin), *same* when the equivalence interval lies within 0.95 to 1.05, else *unclear*. "
        "The CPU ratio beside it is a number with its own 95% interval, not a verdict. (⚠ wrk-bound: wrk "
        "used its whole core in most windows, so the capacity is a lower bound.) p99 is measured "
        "open-loop (vegeta at a fixed rate); ⚠ marks a point where the generator, not the server, was the "
        "limit."
    )


def errors_line(scenarios: Sequence[ScenarioComparison]) -> str | None:
    """Each side's failure messages with counts, so a refusal reads as what it was, not as a number."""
    parts = []
    for scenario in scenarios:
        for side in scenario.sides:
            counts: dict[str, int] = {}
            for document in side.locust.documents if side.locust else []:
                for row in document.errors.by_message:
                    counts[row.message] = counts.get(row.message, 0) + row.occurrences
            if side.window_errors:
                counts["wrk: answers outside the contract or socket errors"] = side.window_errors
            if counts:
                listed = "; ".join(f"`{message}` x{count:,}" for message, count in sorted(counts.items()))
                parts.append(f"{side.label} on {scenario.scenario}: {listed}")
    return "Errors: " + " / ".join(parts) + "." if parts else None


def render_answer(comparison: Comparison, level: int = 2) -> list[str]:
    """Per scenario: the compact table and its findings."""
    out: list[str] = []
    for scenario in comparison.scenarios:
        out += ["", f"{'#' * level} {scenario.scenario}", ""]
        out += table(compact_header(scenario), compact_rows(scenario))
        if scenario.findings:
            out += ["", " ".join(scenario.findings)]
    return out


def render_markdown(comparison: Comparison, level: int = 1) -> str:
    """The whole comparison: answer first, then the evidence; `level` is the top heading's depth."""
    h1, h2, h3 = "#" * level, "#" * (level + 1), "#" * (level + 2)
    out = [f"{h1} Comparison", "", reading_note()]
    out += render_answer(comparison, level + 1)
    out += ["", f"{h2} The evidence"]
    for scenario in comparison.scenarios:
        out += ["", f"{h3} {scenario.scenario}: rounds, CPU and the Locust pass", ""]
        out += [f"Baseline: {scenario.baseline.label}, {scenario.baseline_reason}.", ""]
        out += table(DETAIL_HEADER, detail_rows(scenario))
        if any(s.locust and s.locust.generator_bound for s in scenario.sides):
            out += ["", f"{GENERATOR_MARK}: {GENERATOR_NOTE}"]
        if scenario.common_rates:
            header, rows = open_loop_rows(scenario)
            out += [
                "",
                f"Open-loop latency (ms) at common rates on {scenario.scenario}:",
                "",
                *table(header, rows),
            ]
        curves = curve_rows(scenario)
        if curves:
            out += [
                "",
                f"Each side's own curve on {scenario.scenario} (p99 at fractions of its capacity):",
                "",
            ]
            out += table(("side", "p99 by offered load", "knee", "why there"), curves)
        if any(side.recovery for side in scenario.sides):
            out += ["", f"Past capacity on {scenario.scenario}, at each side's heaviest point:", ""]
            out += table(OVERLOAD_HEADER, overload_rows(scenario))
        errors = errors_line([scenario])
        if errors:
            out += ["", errors]
    for record in comparison.rounds:
        out += ["", f"Rounds of run `{record.run_id}`: {record.rounds} per scenario, "
                f"{record.window_s} s windows "
                f"after {record.warmup_s} s of warm-up, {record.connections} wrk connections, sides up "
                f"{record.sides_up}, order seed {record.seed} ({record.generator})."]  # fmt: skip
    if comparison.excluded:
        out += ["", f"{h2} Incomplete or failed (not in any number above)", ""]
        out += table(
            ("side", "scenario", "trial/round", "status", "reason", "file"),
            [(e.label, e.scenario, str(e.trial), e.status, e.reason, str(e.path or "—"))
             for e in comparison.excluded],
        )  # fmt: skip
    out += ["", f"{h2} Mismatched settings", ""]
    if comparison.mismatches:
        labels = list(dict.fromkeys(label for m in comparison.mismatches for label in m.values))
        out += ["These differ between the sides (or between one side's trials); differences in the "
                "numbers may come from them rather than from the servers.", ""]  # fmt: skip
        out += table(
            ("setting", *labels), [(m.setting, *(m.values.get(label, "—") for label in labels))
                                   for m in comparison.mismatches],
        )  # fmt: skip
    else:
        out.append("None: load settings, CPU sets, code, packages, toolchains, machine and database match.")
    return "\n".join(out) + "\n"
