"""One run's report: the comparison as report.md and a self-contained report.html with inline SVG charts."""

import contextlib
import html
import itertools
import json
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.compare import (
    GENERATOR_MARK,
    GENERATOR_NOTE,
    TABLE_HEADER,
    Comparison,
    ScenarioComparison,
    Side,
    check_baseline,
    compare_loaded,
    load_paths,
    reading_note,
    render_markdown,
    table_rows,
    verdict,
)
from bench.errors import BenchError
from bench.results import COMPLETE

REPORT_MD, REPORT_HTML = "report.md", "report.html"
# Okabe-Ito: told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
TRIAL_DASHES = ("", "7 4", "2 3", "10 3 2 3")
PERCENTILE_DASHES = {"p50": "", "p95": "7 4", "p99": "2 3"}
WIDTH, PLOT_HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 24, 44, 52
CHAR_WIDTH = 7.0  # a 12px sans-serif character, near enough to lay out a legend without measuring text

METRICS = (
    ("RPS", "requests completed per second while every user was running: (requests at the last "
     "full-load second - requests at the first) / seconds between them. The ramp, the drain after the "
     "stop and the warm-up run before the measurement do not count."),
    ("p50, p99 (ms)", "Locust's response-time percentiles over the whole measured run, from its "
     "histogram (about two significant digits). They are measured at the client, so they include any "
     "queueing inside Locust itself when it is busy."),
    ("errors (rate)", "requests Locust counted as failed: a status or body that breaks the API "
     "contract, or a transport error; the rate is failures / requests over all trials."),
    ("CPU ms/req", "CPU time of the service's process tree during the measured window divided by the "
     "requests it served: the cost of one request, independent of how much load Locust could send."),
    ("peak RSS MB", "the largest resident memory of the service's process tree, sampled once a second "
     "(MB = 2^20 bytes)."),
    ("spread", "max - min over a side's trials; above 10% of the median it is marked, because then the "
     "trials disagree by more than most differences between servers."),
    ("vs baseline", "with two or more trials on both sides, a two-sided permutation test of the RPS "
     "values: p is the share of all ways to split the pooled trials into two groups of the same sizes "
     "whose difference in means is at least the observed one (exact when there are at most 200,000 "
     "splits, else 20,000 seeded random splits). With one trial per side nothing can be said about noise."),
    ("generator-bound", "Locust used nearly all the CPU it was given (or warned about it): it, not the "
     "server, set the pace, so the RPS is a lower bound of what the server can do."),
)  # fmt: skip

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;
color:#1b1b1b;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.8em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
tr.generator-bound td{background:#fff4d6}tr.baseline td:first-child{font-weight:600}
.banner{border-left:5px solid #d08a00;background:#fff4d6;padding:.6em 1em;margin:1em 0}
.banner.incomplete{border-color:#b00020;background:#fde7ea}tr.incomplete td{background:#fde7ea}
.note{color:#444}figure{margin:1.5em 0}figcaption{color:#444;font-size:13px;max-width:760px}
svg{max-width:100%;height:auto;background:#fff}
svg text{font-family:system-ui,sans-serif;font-size:12px;fill:#222}
svg .title{font-size:15px;font-weight:600}
svg .flag{font-size:10px;fill:#b35900}svg .grid{stroke:#e5e5e5}svg .axis{stroke:#444}
dl dt{font-weight:600}dl dd{margin:0 0 .5em 1.5em}
.headline{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 1.5em}
.headline figure{margin:.5em 0}.verdict{font-size:1.15em;font-weight:600;margin:.4em 0 1.2em}
"""


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside the target, fsync, then rename over it: never a half report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    points: list[tuple[float, float]]
    dash: str = ""


@dataclass(frozen=True)
class Marker:
    """A point called out on a line chart, such as a saturation knee."""

    x: float
    y: float
    label: str
    color: str


@dataclass(frozen=True)
class Bar:
    group: str
    name: str
    value: float
    color: str
    low: float | None = None
    high: float | None = None
    flag: str = ""  # a short warning drawn above the bar
    mark: float | None = None  # a reference level drawn across the bar, such as wrk's ceiling
    mark_label: str = ""


@dataclass
class _Frame:
    """Maps data to pixels for one plot area."""

    x_low: float
    x_high: float
    y_low: float
    y_high: float
    width: float = WIDTH - LEFT - RIGHT
    height: float = PLOT_HEIGHT
    ticks_x: list[float] = field(default_factory=list)
    ticks_y: list[float] = field(default_factory=list)

    def x(self, value: float) -> float:
        return LEFT + (value - self.x_low) / (self.x_high - self.x_low) * self.width

    def y(self, value: float) -> float:
        return TOP + self.height - (value - self.y_low) / (self.y_high - self.y_low) * self.height


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"cannot place ticks on [{low}, {high}]")
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _frame(xs: Iterable[float], ys: Iterable[float]) -> _Frame:
    # Every quantity drawn here (seconds, users, req/s, ms, MB) starts at 0: so do both axes, and a
    # small difference is never blown up by a cut-off axis.
    xs, ys = list(xs), list(ys)
    ticks_x = nice_ticks(0.0, max(xs) if xs and max(xs) > 0 else 1.0)
    ticks_y = nice_ticks(0.0, max(ys) if ys and max(ys) > 0 else 1.0)
    return _Frame(ticks_x[0], ticks_x[-1], ticks_y[0], ticks_y[-1], ticks_x=ticks_x, ticks_y=ticks_y)


def _num(value: float) -> str:
    return f"{value:.1f}"


def _tick_label(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0")


def _axes(frame: _Frame, x_label: str, y_label: str, *, x_ticks: bool = True) -> list[str]:
    bottom = TOP + frame.height
    out = []
    for tick in frame.ticks_y:
        y = _num(frame.y(tick))
        out.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + frame.width:.1f}" y1="{y}" y2="{y}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y}" text-anchor="end" dy="4">{_tick_label(tick)}</text>')
    if x_ticks:
        for tick in frame.ticks_x:
            x = _num(frame.x(tick))
            out.append(f'<line class="axis" x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 5}"/>')
            out.append(f'<text x="{x}" y="{bottom + 18}" text-anchor="middle">{_tick_label(tick)}</text>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}"/>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + frame.width:.1f}" y1="{bottom}" y2="{bottom}"/>')
    out.append(
        f'<text class="axis-label" x="{LEFT + frame.width / 2:.1f}" y="{bottom + 38}" '
        f'text-anchor="middle">{html.escape(x_label)}</text>'
    )
    mid = TOP + frame.height / 2
    out.append(
        f'<text class="axis-label" x="16" y="{mid:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {mid:.1f})">{html.escape(y_label)}</text>'
    )
    return out


def _legend(entries: Sequence[tuple[str, str, str]], top: float) -> tuple[list[str], float]:
    """Swatches and names flowed into rows under the plot; returns the SVG and the height used."""
    out = ['<g class="legend">']
    x, y = float(LEFT), top
    for name, color, dash in entries:
        width = 34 + CHAR_WIDTH * len(name)
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, y = float(LEFT), y + 20
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{x:.1f}" x2="{x + 24:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
            f'stroke-width="3"{dashes}/>'
        )
        out.append(f'<text x="{x + 30:.1f}" y="{y + 4:.1f}">{html.escape(name)}</text>')
        x += width + 12
    out.append("</g>")
    return out, (y - top) + 24 if entries else 0.0


def _figure(chart_id: str, title: str, caption: str, body: list[str], height: float) -> str:
    svg = (
        # No xmlns: inline SVG in HTML needs none, and the page names no URL at all.
        f'<svg viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" '
        f'height="{height:.0f}" role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>"
        f'<text class="title" x="{LEFT}" y="24">{html.escape(title)}</text>' + "".join(body) + "</svg>"
    )
    return (
        f'<figure data-chart="{html.escape(chart_id)}">{svg}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def line_chart(
    chart_id: str,
    title: str,
    caption: str,
    x_label: str,
    y_label: str,
    lines: Sequence[Line],
    markers: Sequence[Marker] = (),
    x_max: float | None = None,
) -> str:
    """A figure with one polyline (and its points) per line, optional called-out markers, and a legend.

    `x_max` widens the x axis to at least that value, so related charts can share one range.
    """
    xs = [x for line in lines for x, _ in line.points] + [m.x for m in markers]
    xs += [x_max] if x_max is not None else []
    ys = [y for line in lines for _, y in line.points] + [m.y for m in markers]
    frame = _frame(xs, ys)
    body = _axes(frame, x_label, y_label)
    if not xs:
        body.append(f'<text x="{LEFT + 20}" y="{TOP + 30}">no data recorded</text>')
    for line in lines:
        if not line.points:
            continue
        coords = " L ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in line.points)
        dashes = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        # data-series ties every mark to its legend entry, for whoever checks the drawing.
        series = f'data-series="{html.escape(line.name)}"'
        body.append(
            f'<path class="mark" {series} d="M {coords}" fill="none" stroke="{line.color}" '
            f'stroke-width="2"{dashes}><title>{html.escape(line.name)}</title></path>'
        )
        body += [
            f'<circle class="mark" {series} cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.5" '
            f'fill="{line.color}"/>'
            for x, y in line.points
        ]
    for marker in markers:
        cx, cy = frame.x(marker.x), frame.y(marker.y)
        body.append(
            f'<circle class="mark knee" cx="{cx:.1f}" cy="{cy:.1f}" r="8" fill="none" '
            f'stroke="{marker.color}" stroke-width="2.5"/>'
        )
        # Labels near the right edge go to the left of their point, so they stay inside the picture.
        right = cx > LEFT + frame.width * 0.7
        anchor, tx = ("end", cx - 10) if right else ("start", cx + 10)
        body.append(
            f'<text x="{tx:.1f}" y="{cy - 10:.1f}" text-anchor="{anchor}">{html.escape(marker.label)}</text>'
        )
    entries = list(dict.fromkeys((line.name, line.color, line.dash) for line in lines))
    legend, legend_height = _legend(entries, TOP + PLOT_HEIGHT + BOTTOM + 8)
    return _figure(chart_id, title, caption, body + legend, TOP + PLOT_HEIGHT + BOTTOM + legend_height + 8)


def bar_chart(chart_id: str, title: str, caption: str, y_label: str, bars: Sequence[Bar]) -> str:
    """Grouped bars (one group per scenario), with min-max whiskers where there are repeats."""
    if not bars:
        raise ValueError(f"chart {chart_id!r} has no data")
    groups = list(dict.fromkeys(bar.group for bar in bars))
    tops = [max(bar.value, bar.high or 0.0, bar.mark or 0.0) for bar in bars]
    frame = _frame([0.0, 1.0], tops)
    body = _axes(frame, "scenario", y_label, x_ticks=False)
    slot = frame.width / len(groups)
    bottom = TOP + frame.height
    for index, group in enumerate(groups):
        members = [bar for bar in bars if bar.group == group]
        bar_width = min(72.0, slot * 0.8 / len(members))
        start = LEFT + slot * index + (slot - bar_width * len(members)) / 2
        for position, bar in enumerate(members):
            x = start + position * bar_width
            y = frame.y(bar.value)
            body.append(
                f'<rect class="mark" data-series="{html.escape(bar.name)}" x="{x + 5:.1f}" y="{y:.1f}" '
                f'width="{bar_width - 10:.1f}" '
                f'height="{max(bottom - y, 0.5):.1f}" fill="{bar.color}">'
                f"<title>{html.escape(f'{bar.name}: {bar.value:,.3g}')}</title></rect>"
            )
            centre = x + bar_width / 2
            if bar.low is not None and bar.high is not None and bar.high > bar.low:
                body.append(
                    f'<line class="whisker" x1="{centre:.1f}" x2="{centre:.1f}" y1="{frame.y(bar.low):.1f}" '
                    f'y2="{frame.y(bar.high):.1f}" stroke="#222" stroke-width="1.5"/>'
                )
            if bar.mark is not None:
                body.append(
                    f'<line class="ceiling-mark" data-series="{html.escape(bar.name)}" x1="{x + 1:.1f}" '
                    f'x2="{x + bar_width - 1:.1f}" y1="{frame.y(bar.mark):.1f}" y2="{frame.y(bar.mark):.1f}" '
                    f'stroke="#222" stroke-width="2.5" stroke-dasharray="5 3">'
                    f"<title>{html.escape(f'{bar.mark_label}: {bar.mark:,.3g}')}</title></line>"
                )
            top = frame.y(max(bar.value, bar.high or bar.value, bar.mark or bar.value))
            body.append(
                f'<text x="{centre:.1f}" y="{top - 5:.1f}" text-anchor="middle">{bar.value:,.3g}</text>'
            )
            if bar.flag:
                body.append(
                    f'<text class="flag" x="{centre:.1f}" y="{top - 19:.1f}" text-anchor="middle">'
                    f"{html.escape(bar.flag)}</text>"
                )
        body.append(
            f'<text x="{LEFT + slot * (index + 0.5):.1f}" y="{bottom + 18}" text-anchor="middle">'
            f"{html.escape(group)}</text>"
        )
    entries = list(dict.fromkeys((bar.name, bar.color, "") for bar in bars))
    legend, legend_height = _legend(entries, TOP + PLOT_HEIGHT + BOTTOM + 8)
    return _figure(chart_id, title, caption, body + legend, TOP + PLOT_HEIGHT + BOTTOM + legend_height + 8)


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
    return chart + _html_table(("side", "scenario", "trial", "message", "occurrences"), rows)


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


def _html_table(header: Sequence[str], rows: Iterable[Sequence[str]], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if index < len(classes) and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _run_facts(record: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not record:
        return []
    request = record.get("request", {})
    keys = ("services", "scenarios", "variants", "variant", "users", "spawn_rate", "duration_s", "warmup_s",
            "repeat", "workers", "cpus", "locust_processes")  # fmt: skip
    facts = [("status", str(record.get("status")))]
    for key in keys:
        if key in request:
            value = request[key]
            shown = "default" if value is None else str(value)  # None in a request means "the default"
            facts.append((key, ", ".join(map(str, value)) if isinstance(value, list) else shown))
    if record.get("ceiling_generator"):
        facts.append(("ceiling", f"{record['ceiling_generator']}, {request.get('ceiling_s')}s per case"))
    order = record.get("order")
    if order:
        facts.append(
            ("trial order", f"{order['mode']}: " + " | ".join(", ".join(r) for r in order["rounds"]))
        )
    facts.append(("generator calibration", calibration_text(record.get("calibration"))))
    return facts


def calibration_text(calibration: dict[str, Any] | None) -> str:
    """Locust's measured top rate in one line, for the report and the README."""
    if not calibration:
        return "not measured"
    if not calibration.get("measured"):
        return f"not measured ({calibration.get('reason')})"
    text = (
        f"Locust's top rate {calibration['locust_rps']:,.0f} req/s on {calibration['server']} /ping/ "
        f"({calibration['users']} users, {calibration['seconds']}s, Locust CPU "
        f"{calibration.get('locust_cpu_percent')}%)"
    )
    if calibration.get("server_rps_wrk"):
        text += f"; the server answered wrk at {calibration['server_rps_wrk']:,.0f} req/s"
    if calibration.get("top_rps") is None:
        text += "; the server was the limit, so this is only a lower bound and no case is judged by it"
    return text


def _saturation_rows(documents: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for doc in documents:
        knee = doc.get("knee") or {}
        rows.append((
            f"{doc['service']} [{doc['variant']}]", str(doc["scenario"]), str(doc.get("status")),
            str(len(doc.get("steps", []))), str(knee.get("users", "—")),
            f"{knee['rps']:,.0f}" if "rps" in knee else "—",
            f"{knee['p99']:,.1f}" if knee.get("p99") is not None else "—", str(doc.get("stopped_by") or "—"),
            _load_by(doc),
        ))  # fmt: skip
    return rows


_SATURATION_HEADER = (
    "side",
    "scenario",
    "status",
    "steps",
    "knee users",
    "knee RPS",
    "knee p99 ms",
    "stopped by",
    "load from",
)


def _load_by(doc: dict[str, Any]) -> str:
    """Which generator measured the steps: Locust throughout, or wrk from where Locust saturated."""
    switched = doc.get("wrk_from_users")
    return "Locust" if switched is None else f"Locust, then wrk connections from {switched}"


def render_report_html(comparison: Comparison, run_dir: Path, record: dict[str, Any] | None) -> str:
    """The whole report as one HTML page: no network, no scripts, charts drawn as inline SVG."""
    title = f"fastapi-load report: {run_dir.name}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if comparison.scenarios:
        parts.append(f'<section class="headline">{"".join(headline_charts(comparison))}</section>')
    sentence = verdict(comparison)
    if sentence:
        parts.append(f'<p class="verdict">{html.escape(sentence)}</p>')
    if record and record.get("status") != COMPLETE:
        parts.append(
            f'<p class="banner incomplete">⚠ This run is {html.escape(str(record.get("status")))}: some '
            "cases did not finish. Only complete cases are in the numbers and charts.</p>"
        )
    bound = [side for s in comparison.scenarios for side in s.sides if side.generator_bound]
    if bound:
        names = ", ".join(sorted({f"{side.label} ({side.scenario})" for side in bound}))
        parts.append(f'<p class="banner generator-bound">{GENERATOR_MARK}: {html.escape(names)}. '
                     f"{html.escape(GENERATOR_NOTE)}</p>")  # fmt: skip
    if comparison.excluded:
        parts.append(
            f'<p class="banner incomplete">⚠ {len(comparison.excluded)} case(s) incomplete or failed: '
            "listed below and left out of every number.</p>"
        )
    facts = _run_facts(record)
    if facts:
        parts += ["<h2>Run</h2>", _html_table(("setting", "value"), facts)]
    parts += ["<h2>How to read this</h2>", f"<p>{html.escape(reading_note(comparison))}</p>", "<dl>"]
    parts += [f"<dt>{html.escape(name)}</dt><dd>{html.escape(text)}</dd>" for name, text in METRICS]
    parts.append("</dl>")
    for scenario in comparison.scenarios:
        parts.append(f"<h2>Scenario {html.escape(scenario.scenario)}</h2>")
        parts.append(f"<p>Baseline: {html.escape(scenario.baseline.label)}, "
                     f"{html.escape(scenario.baseline_reason)}.</p>")  # fmt: skip
        classes = [
            " ".join(c for c in ("baseline" if side is scenario.baseline else "",
                                 "generator-bound" if side.generator_bound else "") if c)
            for side in scenario.sides
        ]  # fmt: skip
        parts.append(_html_table(TABLE_HEADER, table_rows(scenario), classes))
        if scenario.findings:
            parts.append("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in scenario.findings) + "</ul>")
    if comparison.excluded:
        parts.append("<h2>Incomplete or failed cases (not in any number)</h2>")
        rows = [(e.label, e.scenario, str(e.trial), e.status, e.reason, str(e.path or "—"))
                for e in comparison.excluded]  # fmt: skip
        classes = ["incomplete"] * len(rows)
        parts.append(_html_table(("side", "scenario", "trial", "status", "reason", "file"), rows, classes))
    if comparison.saturations:
        parts += [
            "<h2>Saturation</h2>",
            _html_table(_SATURATION_HEADER, _saturation_rows(comparison.saturations)),
        ]
    parts += ["<h2>Charts</h2>", *charts(comparison)]
    parts.append("<h2>Mismatched settings</h2>")
    if comparison.mismatches:
        labels = list(dict.fromkeys(label for m in comparison.mismatches for label in m.values))
        settings = [
            (m.setting, *(m.values.get(label, "—") for label in labels)) for m in comparison.mismatches
        ]
        parts.append(_html_table(("setting", *labels), settings))
    else:
        parts.append(
            "<p>No differences: every side ran with the same settings, code, packages and machine.</p>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def render_report_markdown(comparison: Comparison, run_dir: Path, record: dict[str, Any] | None) -> str:
    out = [f"# fastapi-load report: {run_dir.name}", ""]
    sentence = verdict(comparison)
    if sentence:
        out += [f"**{sentence}**", ""]
    if record and record.get("status") != COMPLETE:
        out += [f"⚠ This run is {record.get('status')}: only complete cases are in the numbers.", ""]
    facts = _run_facts(record)
    if facts:
        out += ["## Run", "", *(f"- {name}: {value}" for name, value in facts), ""]
    out += ["## What the numbers mean", "", *(f"- **{name}**: {text}" for name, text in METRICS), ""]
    out.append("Charts of every case over time are in `report.html` beside this file.")
    out += ["", render_markdown(comparison, level=2).rstrip()]
    if comparison.saturations:
        out += ["", "## Saturation", ""]
        out.append("| " + " | ".join(_SATURATION_HEADER) + " |")
        out.append("|" + "---|" * len(_SATURATION_HEADER))
        out += ["| " + " | ".join(row) + " |" for row in _saturation_rows(comparison.saturations)]
    return "\n".join(out) + "\n"


def _record(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "run.json"
    if not path.is_file():
        return None
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot read {path}: {exc}") from None
    return record


def write_report(run_dir: Path, baseline: str | None = None) -> tuple[Path, Path]:
    """Write report.md and report.html into the run directory; returns their paths."""
    if not run_dir.is_dir():
        raise BenchError(f"no run directory at {run_dir}")
    loaded = load_paths([run_dir])
    if not loaded.cases and not loaded.unwritten and not loaded.saturations:
        raise BenchError(f"no results found in {run_dir}")
    comparison = compare_loaded(loaded, baseline)
    check_baseline(comparison, baseline)
    record = _record(run_dir)
    markdown, page = run_dir / REPORT_MD, run_dir / REPORT_HTML
    write_text_atomic(markdown, render_report_markdown(comparison, run_dir, record))
    write_text_atomic(page, render_report_html(comparison, run_dir, record))
    return markdown, page
