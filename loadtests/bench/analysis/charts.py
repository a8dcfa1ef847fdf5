"""The report's charts, drawn from a comparison: headline, capacity, RPS and latency, resources, errors."""

import html
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from bench.analysis.compare import (
    GENERATOR_MARK,
    Comparison,
    ScenarioComparison,
    Side,
)
from bench.analysis.svg import Bar, Line, Marker, bar_chart, line_chart
from bench.run.results import COMPLETE

# Okabe-Ito: told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")


TRIAL_DASHES = ("", "7 4", "2 3", "10 3 2 3")


PERCENTILE_DASHES = {"p50": "", "p95": "7 4", "p99": "2 3"}


def _colors(comparison: Comparison) -> dict[str, str]:
    """One colour per side label, the same in every chart."""
    labels = dict.fromkeys(side.label for s in comparison.scenarios for side in s.sides)
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def _legend_name(side: Side) -> str:
    return side.label + (f" {GENERATOR_MARK}" if side.generator_bound else "")


def _steady(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows written while every user ran: the part RPS is measured over, without the drain after it."""
    peak = max((int(row.get("user_count", 0)) for row in series), default=0)
    return [row for row in series if int(row.get("user_count", 0)) == peak]


def _seconds(series: list[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    if not series:
        return []
    start = float(series[0]["timestamp"])
    return [(float(row["timestamp"]) - start, float(row[key])) for row in series if row.get(key) is not None]


def _rps_points(series: list[dict[str, Any]]) -> list[tuple[float, float]]:
    # The second's own count where the runner recorded it; Locust's sliding average otherwise.
    if any(row.get("requests_in_second") is not None for row in series):
        return _seconds(series, "requests_in_second")
    return _seconds(series, "rps")


def _median_trial(side: Side) -> dict[str, Any]:
    """The trial whose RPS is the median (the lower middle one for an even count)."""
    ordered = sorted(side.documents, key=lambda d: float(d["throughput"]["rps"]))
    return ordered[(len(ordered) - 1) // 2]


def _rps_chart(scenario: ScenarioComparison, colors: dict[str, str]) -> str:
    lines = []
    for side in scenario.sides:
        for index, doc in enumerate(side.documents):
            name = _legend_name(side) + (f", trial {doc.get('trial', index + 1)}" if side.trials > 1 else "")
            dash = TRIAL_DASHES[index % len(TRIAL_DASHES)]
            lines.append(Line(name, colors[side.label], _rps_points(_steady(doc.get("series", []))), dash))
    return line_chart(
        f"rps-{scenario.scenario}",
        f"Requests per second over time: {scenario.scenario}",
        "Requests completed in each second while every user was running (from Locust's cumulative "
        "totals), one line per trial; the first second has no count of its own. A flat line is a "
        "steady run.",
        "seconds since the measurement started (s)",
        "requests per second (req/s)",
        lines,
    )


def _latency_chart(scenario: ScenarioComparison, colors: dict[str, str]) -> str:
    lines = []
    for side in scenario.sides:
        # Rows before Locust has timed a request carry zeros, not latencies.
        steady = _steady(_median_trial(side).get("series", []))
        series = [row for row in steady if any(row.get(k) for k in PERCENTILE_DASHES)]
        for key, dash in PERCENTILE_DASHES.items():
            lines.append(Line(f"{_legend_name(side)} {key}", colors[side.label], _seconds(series, key), dash))
    return line_chart(
        f"latency-{scenario.scenario}",
        f"Latency percentiles over time: {scenario.scenario}",
        "Locust's p50 (solid), p95 (dashed) and p99 (dotted) over a sliding 10-second window, for each "
        "side's median-RPS trial.",
        "seconds since the measurement started (s)",
        "response time (ms)",
        lines,
    )


def _resource_chart(comparison: Comparison, colors: dict[str, str], metric: str) -> str | None:
    bars = []
    for scenario in comparison.scenarios:
        for side in scenario.sides:
            value = side.cpu_ms_per_request if metric == "cpu" else side.peak_rss_mb
            if value is not None:
                flag = "⚠" if value.wide else ""
                if side.generator_bound:
                    flag = f"{flag} gen-bound".strip()
                color = colors[side.label]
                bars.append(
                    Bar(scenario.scenario, side.label, value.median, color, value.low, value.high, flag)
                )
    if not bars:
        return None
    if metric == "cpu":
        return bar_chart(
            "cpu-per-request",
            "Service CPU time per request",
            "Median over trials, whiskers from min to max; ⚠ marks a spread above 10% of the median, "
            "gen-bound a side where Locust was the limit in at least one trial. Lower is cheaper.",
            "CPU per request (ms)",
            bars,
        )
    return bar_chart(
        "peak-rss",
        "Service peak memory (RSS)",
        "Largest resident set of the service's process tree, sampled once a second; median over trials, "
        "whiskers from min to max; gen-bound marks a side where Locust was the limit.",
        "peak RSS (MB)",
        bars,
    )


def _capacity_chart(comparison: Comparison, colors: dict[str, str]) -> str | None:
    """wrk's ceiling per side and scenario, each bar labelled with the share Locust reached of it."""
    bars = []
    for scenario in comparison.scenarios:
        for side in scenario.sides:
            if side.ceiling is None:
                continue
            share = side.locust_share
            flag = f"Locust {share:.0%}" if share is not None else ""
            if side.ceiling_bound_trials:
                flag = f"{flag} wrk-bound".strip()
            value = side.ceiling
            bars.append(
                Bar(
                    scenario.scenario,
                    side.label,
                    value.median,
                    colors[side.label],
                    value.low,
                    value.high,
                    flag,
                )
            )
    if not bars:
        return None
    return bar_chart(
        "capacity",
        "Capacity: the same scenario sent by wrk",
        "wrk's requests per second at Locust's connection count, right after each Locust run; median over "
        "trials, whiskers from min to max. Above each bar: Locust's RPS as a share of it (a share near "
        "100% means Locust measured the server; far below, it measured itself). wrk-bound: wrk was the "
        "limit, so the bar is a lower bound.",
        "requests per second (wrk)",
        bars,
    )


def _errors_section(comparison: Comparison, colors: dict[str, str]) -> str:
    sides = [side for s in comparison.scenarios for side in s.sides if side.failures]
    if not sides:
        return '<p class="note" data-note="errors">No errors: every measured request succeeded.</p>'
    lines, rows = [], []
    for side in sides:
        for index, doc in enumerate(side.documents):
            series = doc.get("series", [])
            points = [
                (float(row["timestamp"]) - float(series[0]["timestamp"]),
                 float(row["total_failures"] - previous["total_failures"]))
                for previous, row in itertools.pairwise(series)
            ]  # fmt: skip
            name = f"{_legend_name(side)} ({side.scenario}, trial {doc.get('trial', index + 1)})"
            lines.append(Line(name, colors[side.label], points, TRIAL_DASHES[index % len(TRIAL_DASHES)]))
            rows += [
                (side.label, side.scenario, str(doc.get("trial", index + 1)), str(e["message"]),
                 f"{int(e['occurrences']):,}")
                for e in doc.get("errors", {}).get("by_message", [])
            ]  # fmt: skip
    chart = line_chart(
        "errors-over-time",
        "Failed requests per second",
        "Failures in each second of the measured run (Locust keeps its per-message counts only as "
        "totals: they are in the table below).",
        "seconds since the measurement started (s)",
        "failures per second (1/s)",
        lines,
    )
    return chart + html_table(("side", "scenario", "trial", "message", "occurrences"), rows)


def saturation_charts(documents: Sequence[dict[str, Any]]) -> list[str]:
    """RPS and p99 against the number of users, one line per saturation result, with the knee marked."""
    if not documents:
        return []
    rps_lines, p99_lines, rps_knees, p99_knees = [], [], [], []
    most_users = max((float(s["users"]) for doc in documents for s in doc.get("steps", [])), default=None)
    for index, doc in enumerate(documents):
        color = PALETTE[index % len(PALETTE)]
        stopped = f"stopped by {doc['stopped_by']}" if doc.get("stopped_by") else "not finished"
        name = f"{doc['service']} [{doc['variant']}] {doc['scenario']}, {stopped}"
        if doc.get("status") != COMPLETE:
            name += f" ⚠ {doc.get('status', 'incomplete')}"
        steps = doc.get("steps", [])
        rps_lines.append(Line(name, color, [(float(s["users"]), float(s["rps"])) for s in steps]))
        p99_lines.append(
            Line(
                name, color, [(float(s["users"]), float(s["p99"])) for s in steps if s.get("p99") is not None]
            )
        )
        knee = doc.get("knee")
        if knee:
            label = f"knee: {knee['users']} users"
            rps_knees.append(Marker(float(knee["users"]), float(knee["rps"]), label, color))
            if knee.get("p99") is not None:
                p99_knees.append(Marker(float(knee["users"]), float(knee["p99"]), label, color))
    charts = [
        line_chart(
            "saturation-rps",
            "Throughput against users (saturation search)",
            "Each point is one step of the search. The circled knee is the last step the service sustained: "
            "the one before the step that stopped the search or, at a throughput plateau, the step with the "
            "most requests per second.",
            "concurrent users",
            "requests per second (req/s)",
            rps_lines,
            rps_knees,
        )
    ]
    if any(line.points for line in p99_lines):
        charts.append(
            line_chart(
                "saturation-p99",
                "p99 latency against users (saturation search)",
                "p99 response time at each step (a step without timed requests has no point); circled: the "
                "knee.",
                "concurrent users",
                "p99 response time (ms)",
                p99_lines,
                p99_knees,
                x_max=most_users,
            )
        )
    return charts


def headline_charts(comparison: Comparison) -> list[str]:
    """What a reader came for, side by side per scenario: throughput with wrk's ceiling marked where
    there is one, and the server's CPU per request (steadier than RPS on a shared machine)."""
    colors = _colors(comparison)
    rps, cpu = [], []
    for scenario in comparison.scenarios:
        for side in scenario.sides:
            color = colors[side.label]
            flag = GENERATOR_MARK.split()[0] if side.generator_bound else ""
            ceiling = side.ceiling.median if side.ceiling else None
            rps.append(Bar(scenario.scenario, side.label, side.rps.median, color, side.rps.low, side.rps.high,
                           flag, ceiling, "wrk's ceiling"))  # fmt: skip
            if side.cpu_ms_per_request is not None:
                value = side.cpu_ms_per_request
                cpu.append(Bar(scenario.scenario, side.label, value.median, color, value.low, value.high))
    caption = (
        "Locust's requests per second over the measured window, median over trials (whiskers: min to max)."
    )
    if any(bar.mark is not None for bar in rps):
        caption += (
            " The dashed line across a bar is wrk's ceiling, the same scenario sent by wrk right after: "
            "where it stands far above the bar, Locust, not the server, was the limit."
        )
    if any(bar.flag for bar in rps):
        caption += f" {GENERATOR_MARK.split()[0]} above a bar: generator-bound."
    figures = [bar_chart("headline-rps", "Requests per second", caption, "requests per second", rps)]
    if cpu:
        figures.append(
            bar_chart(
                "headline-cpu",
                "Server CPU per request",
                "CPU time of the service's process tree per request served, median over trials: lower is "
                "cheaper, and it holds steadier than requests per second when the machine is shared.",
                "CPU ms per request",
                cpu,
            )
        )
    return figures


def charts(comparison: Comparison) -> list[str]:
    """Every chart of the report as a <figure>, in reading order."""
    colors = _colors(comparison)
    capacity = _capacity_chart(comparison, colors)
    figures = [capacity] if capacity else []
    for scenario in comparison.scenarios:
        figures += [_rps_chart(scenario, colors), _latency_chart(scenario, colors)]
    figures += [c for c in (_resource_chart(comparison, colors, m) for m in ("cpu", "rss")) if c]
    figures.append(_errors_section(comparison, colors))
    figures += saturation_charts(comparison.saturations)
    return figures


def html_table(header: Sequence[str], rows: Iterable[Sequence[str]], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if index < len(classes) and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
