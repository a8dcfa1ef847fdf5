"""One run's report: report.md, and a self-contained report.html that opens on the verdict, then the
charts, then the compact tables; the evidence, the run's settings and the method below."""

import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.analysis.compare import TIMES, Comparison, check_baseline, compare_loaded, verdict
from bench.analysis.figures import figures
from bench.analysis.loading import load_paths
from bench.analysis.markdown import (
    DETAIL_HEADER,
    compact_header,
    compact_rows,
    curve_rows,
    detail_rows,
    open_loop_rows,
    reading_note,
    render_markdown,
)
from bench.analysis.versions import machine, versions
from bench.common.errors import BenchError
from bench.common.results import COMPLETE, write_text_atomic
from bench.common.schema import RunFacts

REPORT_MD, REPORT_HTML = "report.md", "report.html"

METRICS = (
    ("capacity", "requests per second wrk got from the side in a window of the rounds, at the scenario's "
     "connection count, answers judged against the API contract; the median over the rounds, with the "
     "sign test's 95% interval for that median."),
    (f"{TIMES} baseline", "the Hodges-Lehmann estimate of the per-round ratios side / its baseline (each "
     "round ran every side once, in a shuffled order), with its signed-rank interval; the run's verdicts "
     "share one 5% error budget. faster/slower only when the interval excludes 1 (', under 5%' when it "
     "stays within the ±5% margin); same when the equivalence interval lies within 0.95 to 1.05; "
     "otherwise unclear."),
    ("CPU ms/req", "CPU time of the service's process tree during a window divided by the requests it "
     "served: the cost of one request, steadier than the rate on a busy machine."),
    ("p99 (open-loop)", "vegeta sends requests at a fixed rate whatever the answers do, so its latency "
     "includes the time requests would have waited (no coordinated omission). ⚠: the generator, not "
     "the server, was the limit at that point (it fell behind its schedule, used its whole core, or "
     "its own latency against the cheapest endpoint is at least half the point's p99)."),
    ("peak RSS MB", "the largest resident memory of the service's process tree during its Locust run."),
    ("Locust", "the shared Locust suite, closed-loop: its flows, checks, ramp and users, as a user's "
     "test would run; generator-bound when Locust used nearly all of its core."),
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


def html_table(header: Sequence[str], rows: Iterable[Sequence[str]], classes: Sequence[str] = ()) -> str:
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
    keys = ("scenarios", "users", "spawn_rate", "duration_s", "warmup_s", "repeat", "rounds", "looks",
            "blocks", "window_s", "window_warmup_s", "open_loop", "open_loop_repeats", "curve", "open_loop_s",
            "cpus")  # fmt: skip
    facts = [("status", str(record.get("status"))), ("sides", ", ".join(record.get("sides", [])))]
    for key in keys:
        if key in request:
            value = request[key]
            shown = "default" if value is None else str(value)  # None in a request means "the default"
            facts.append((key, ", ".join(map(str, value)) if isinstance(value, list) else shown))
    facts.append(("sides up", str(record.get("sides_up"))))
    facts.append(("order seed", str(record.get("seed"))))
    cpus = record.get("cpu_sets") or {}
    facts.append(("CPUs", cpu_prose(cpus)))
    facts.append(("generator calibration", calibration_text(record.get("calibration"))))
    known = RunFacts.model_validate({"run_id": "", "status": "", **record})
    facts.append(("machine", machine(known)))
    facts.append(("versions", versions(known)))
    return facts


def cpu_prose(cpu_sets: dict[str, Any]) -> str:
    """{'mode': 'auto', 'server': [0], 'generator': [1]} as a person says it."""
    server, generator = cpu_sets.get("server"), cpu_sets.get("generator")
    if not server or not generator:
        return "nothing pinned: server, PostgreSQL and load generator share every CPU"

    def cpus(values: list[int]) -> str:
        return ("CPU " if len(values) == 1 else "CPUs ") + ", ".join(map(str, values))

    return f"server and PostgreSQL on {cpus(server)}, load generator on {cpus(generator)}"


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


def render_report_html(comparison: Comparison, run_dir: Path, record: dict[str, Any] | None) -> str:
    """The whole report as one HTML page: no network, no scripts, charts inline as SVG."""
    title = f"fastapi-load report: {run_dir.name}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    sentence = verdict(comparison)
    if sentence:
        parts.append(f'<p class="verdict">{html.escape(sentence)}</p>')
    if record and record.get("status") != COMPLETE:
        parts.append(
            f'<p class="banner incomplete">⚠ This run is {html.escape(str(record.get("status")))}: some '
            "parts did not finish. Only what completed is in the numbers and charts.</p>"
        )
    if comparison.excluded:
        parts.append(
            f'<p class="banner incomplete">⚠ {len(comparison.excluded)} case(s) or window(s) incomplete or '
            "failed: listed below and left out of every number.</p>"
        )
    charts = figures(comparison)
    if charts:
        parts.append(
            f'<section class="headline">{"".join(f"<figure>{svg}</figure>" for svg in charts)}</section>'
        )
    for scenario in comparison.scenarios:
        parts.append(f"<h2>{html.escape(scenario.scenario)}</h2>")
        classes = ["baseline" if side is scenario.baseline else "" for side in scenario.sides]
        parts.append(html_table(compact_header(scenario), compact_rows(scenario), classes))
        if scenario.findings:
            parts.append("<p>" + html.escape(" ".join(scenario.findings)) + "</p>")
    parts += ["<h2>The evidence</h2>", f"<p>{html.escape(reading_note())}</p>"]
    for scenario in comparison.scenarios:
        parts.append(f"<h3>{html.escape(scenario.scenario)}: rounds, CPU and the Locust pass</h3>")
        parts.append(f"<p>Baseline: {html.escape(scenario.baseline.label)}, "
                     f"{html.escape(scenario.baseline_reason)}.</p>")  # fmt: skip
        parts.append(html_table(DETAIL_HEADER, detail_rows(scenario)))
        if scenario.common_rates:
            header, rows = open_loop_rows(scenario)
            parts += [f"<p>Open-loop latency (ms) at common rates on {html.escape(scenario.scenario)}:</p>",
                      html_table(header, rows)]  # fmt: skip
        curves = curve_rows(scenario)
        if curves:
            parts.append(html_table(("side", "p99 by offered load", "knee", "why there"), curves))
    if comparison.excluded:
        parts.append("<h2>Incomplete or failed (not in any number)</h2>")
        rows = [(e.label, e.scenario, str(e.trial), e.status, e.reason, str(e.path or "—"))
                for e in comparison.excluded]  # fmt: skip
        parts.append(html_table(("side", "scenario", "trial/round", "status", "reason", "file"), rows,
                                ["incomplete"] * len(rows)))  # fmt: skip
    facts = _run_facts(record)
    if facts:
        parts += ["<h2>Run</h2>", html_table(("setting", "value"), facts)]
    parts += ["<h2>How to read this</h2>", "<dl>"]
    parts += [f"<dt>{html.escape(name)}</dt><dd>{html.escape(text)}</dd>" for name, text in METRICS]
    parts.append("</dl>")
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
        out += [f"⚠ This run is {record.get('status')}: only what completed is in the numbers.", ""]
    out += [render_markdown(comparison, level=2).rstrip(), ""]
    facts = _run_facts(record)
    if facts:
        out += ["## Run", "", *(f"- {name}: {value}" for name, value in facts), ""]
    out += ["## What the numbers mean", "", *(f"- **{name}**: {text}" for name, text in METRICS)]
    out += ["", "Charts are in `report.html` beside this file."]
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
    if not loaded.cases and not loaded.unwritten and not loaded.rounds:
        raise BenchError(f"no results found in {run_dir}")
    comparison = compare_loaded(loaded, baseline)
    check_baseline(comparison, baseline)
    record = _record(run_dir)
    markdown, page = run_dir / REPORT_MD, run_dir / REPORT_HTML
    write_text_atomic(markdown, render_report_markdown(comparison, run_dir, record))
    write_text_atomic(page, render_report_html(comparison, run_dir, record))
    return markdown, page
