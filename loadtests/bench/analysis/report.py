"""One run's report: the comparison as report.md and a self-contained report.html with inline SVG charts."""

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.analysis.charts import charts, headline_charts, html_table
from bench.analysis.compare import (
    GENERATOR_MARK,
    GENERATOR_NOTE,
    Comparison,
    check_baseline,
    compare_loaded,
    verdict,
)
from bench.analysis.loading import load_paths
from bench.analysis.markdown import TABLE_HEADER, reading_note, render_markdown, table_rows
from bench.common.errors import BenchError
from bench.run.results import COMPLETE, write_text_atomic

REPORT_MD, REPORT_HTML = "report.md", "report.html"

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
        parts += ["<h2>Run</h2>", html_table(("setting", "value"), facts)]
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
        parts.append(html_table(TABLE_HEADER, table_rows(scenario), classes))
        if scenario.findings:
            parts.append("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in scenario.findings) + "</ul>")
    if comparison.excluded:
        parts.append("<h2>Incomplete or failed cases (not in any number)</h2>")
        rows = [(e.label, e.scenario, str(e.trial), e.status, e.reason, str(e.path or "—"))
                for e in comparison.excluded]  # fmt: skip
        classes = ["incomplete"] * len(rows)
        parts.append(html_table(("side", "scenario", "trial", "status", "reason", "file"), rows, classes))
    if comparison.saturations:
        parts += [
            "<h2>Saturation</h2>",
            html_table(_SATURATION_HEADER, _saturation_rows(comparison.saturations)),
        ]
    parts += ["<h2>Charts</h2>", *charts(comparison)]
    parts.append("<h2>Mismatched settings</h2>")
    if comparison.mismatches:
        labels = list(dict.fromkeys(label for m in comparison.mismatches for label in m.values))
        settings = [
            (m.setting, *(m.values.get(label, "—") for label in labels)) for m in comparison.mismatches
        ]
        parts.append(html_table(("setting", *labels), settings))
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
