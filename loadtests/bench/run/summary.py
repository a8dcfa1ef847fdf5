"""The short table printed at the end of a run without --compare: one row per Locust case."""

from typing import Any

from bench.run.runner import RunOutcome

_HEADER = ("service", "variant", "scenario", "trial", "status", "req/s", "p50 ms", "p99 ms",
           "errors", "cpu ms/req", "rss MB", "notes")  # fmt: skip


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def summary_table(outcome: RunOutcome) -> str:
    rows: list[tuple[str, ...]] = [_HEADER]
    for case in outcome.cases:
        doc = case.document or {}
        latency = doc.get("latency_ms", {})
        resources = doc.get("resources", {})
        notes = []
        if doc.get("generator_bound"):
            notes.append("GENERATOR-BOUND: Locust, not the server, was the limit")
        if case.error:
            notes.append(case.error)
        rps = doc.get("throughput", {}).get("rps")
        failures = doc.get("requests", {}).get("failures")
        cpu_per_request = resources.get("service_cpu_ms_per_request")
        rows.append((
            case.service, case.variant, case.scenario, str(case.trial), case.status,
            _fmt(rps, 0), _fmt(latency.get("p50")), _fmt(latency.get("p99")),
            _fmt(failures),
            _fmt(cpu_per_request, 3), _fmt(resources.get("service_peak_rss_mb")), "; ".join(notes),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    if outcome.rounds is not None:
        lines.append(
            f"capacity rounds: {len(outcome.rounds.windows)} windows in {outcome.run_dir / 'rounds.json'}"
        )
    return "\n".join(lines)
