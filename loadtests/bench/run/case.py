"""Assembling one case's result document from Locust's summary, the samples and the settings."""

import statistics
from dataclasses import asdict
from typing import Any

from bench.common.results import COMPLETE, SCHEMA_VERSION
from bench.load.cpusets import CpuPlan
from bench.load.locust import LoadSettings, LocustRun, read_worker_report
from bench.load.locust_output import LocustSummary
from bench.load.sampling import LOCUST, POSTGRES, SERVICE, Sample, cpu_source

# Locust's own warning fires at 90% of one core; we flag at the same level of what it was given.
GENERATOR_BOUND_PERCENT = 90.0
# A case whose Locust rate reaches this share of the calibrated top rate (bench.load.calibration) is bound.
CALIBRATED_SHARE_BOUND = 0.9
_URLS_WITH_PASSWORDS = ("DATABASE_URL",)


def redact(env: dict[str, str]) -> dict[str, str]:
    """The service's environment without the database password."""
    clean = dict(env)
    for key in _URLS_WITH_PASSWORDS:
        if key in clean and "@" in clean[key]:
            scheme, rest = clean[key].split("://", 1)
            credentials, host = rest.rsplit("@", 1)
            user = credentials.split(":", 1)[0]
            clean[key] = f"{scheme}://{user}:***@{host}"
    return clean


def calibrated_reason(calibration: dict[str, Any] | None, rps: float) -> str | None:
    """The generator-bound reason a case's rate gives against the run's calibrated top rate, if any."""
    top = (calibration or {}).get("top_rps")
    if not top or rps < CALIBRATED_SHARE_BOUND * top:
        return None
    server = (calibration or {}).get("server")
    return (
        f"Locust sent {rps:,.0f} req/s, {rps / top:.0%} of its measured top rate here "
        f"({top:,.0f} req/s on {server} /ping/)"
    )


def generator_bound(
    samples: list[Sample],
    cores: int,
    cpu_warning: bool,
    workers: list[dict[str, Any]] | None = None,
    calibration: dict[str, Any] | None = None,
    rps: float = 0.0,
) -> tuple[bool, list[str]]:
    reasons = []
    # In a distributed run every worker is judged on its own: one saturated worker limits the
    # whole run even when the others idle.
    for worker in workers or []:
        if worker.get("cpu_warning") or float(worker.get("cpu_percent_peak", 0)) >= GENERATOR_BOUND_PERCENT:
            reasons.append(f"Locust worker {worker['id']} reached {worker.get('cpu_percent_peak')}% CPU")
    if cpu_warning:
        reasons.append("Locust logged its 'CPU usage above 90%' warning")
    usage = [s.cpu_percent[LOCUST] for s in samples]
    if usage:
        mean = statistics.fmean(usage)
        if mean >= GENERATOR_BOUND_PERCENT * cores:
            reasons.append(
                f"Locust used {mean:.0f}% CPU on average, >= {GENERATOR_BOUND_PERCENT:.0f}% of the "
                f"{cores} core(s) it was given"
            )
    calibrated = calibrated_reason(calibration, rps)
    if calibrated is not None:
        reasons.append(calibrated)
    return bool(reasons), reasons


def _resources(samples: list[Sample], requests: int) -> dict[str, Any]:
    if len(samples) < 2:
        return {"samples": len(samples)}
    first, last = samples[0], samples[-1]

    def cpu_seconds(group: str) -> float:
        return max(last.cpu_seconds[group] - first.cpu_seconds[group], 0.0)

    def mean_cpu(group: str) -> float:
        return round(statistics.fmean(s.cpu_percent[group] for s in samples[1:]), 1)

    def peak_rss_mb(group: str) -> float:
        return round(max(s.rss_bytes[group] for s in samples) / 2**20, 1)

    return {
        "samples": len(samples),
        "service_cpu_ms_per_request": round(1000 * cpu_seconds(SERVICE) / requests, 4) if requests else None,
        "postgres_cpu_ms_per_request": round(1000 * cpu_seconds(POSTGRES) / requests, 4)
        if requests
        else None,
        "service_cpu_percent_mean": mean_cpu(SERVICE),
        "locust_cpu_percent_mean": mean_cpu(LOCUST),
        "postgres_cpu_percent_mean": mean_cpu(POSTGRES),
        "service_peak_rss_mb": peak_rss_mb(SERVICE),
        "service_processes": max(s.processes.get(SERVICE, 0) for s in samples),
        "locust_peak_rss_mb": peak_rss_mb(LOCUST),
        "postgres_peak_rss_mb": peak_rss_mb(POSTGRES),
        "cpu_source": cpu_source(last, (SERVICE, POSTGRES)),  # see bench.common.schema.Window
    }


def _series(summary: LocustSummary, samples: list[Sample]) -> list[dict[str, Any]]:
    by_second = {int(s.at): s for s in samples}
    rows = []
    previous_total: int | None = None
    for point in summary.series:
        row = asdict(point)
        # Locust's own Requests/s column is a moving average; this is the second's own count.
        row["requests_in_second"] = None if previous_total is None else point.total_requests - previous_total
        previous_total = point.total_requests
        sample = by_second.get(int(point.timestamp))
        if sample is not None:
            row.update({
                "service_cpu_percent": round(sample.cpu_percent[SERVICE], 1),
                "locust_cpu_percent": round(sample.cpu_percent[LOCUST], 1),
                "postgres_cpu_percent": round(sample.cpu_percent[POSTGRES], 1),
                "service_rss_mb": round(sample.rss_bytes[SERVICE] / 2**20, 1),
            })  # fmt: skip
        rows.append(row)
    return rows


def build_document(
    *,
    identity: dict[str, Any],
    environment: dict[str, Any],
    service: dict[str, Any],
    database: dict[str, Any],
    cpu_plan: CpuPlan,
    load: LoadSettings,
    locust_run: LocustRun,
    summary: LocustSummary,
    samples: list[Sample],
    steady_rps: float,
    window_s: float,
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    aggregate = summary.aggregate
    # One Locust process is one gevent thread: it can never use more than one core.
    capacity = min(cpu_plan.generator_cores, load.processes)
    workers = read_worker_report(locust_run.prefix)
    bound, reasons = generator_bound(samples, capacity, summary.cpu_warning, workers, calibration, steady_rps)
    return {
        "schema_version": SCHEMA_VERSION,
        "status": COMPLETE,
        **identity,
        "environment": {**environment, "cpu_sets": cpu_plan.as_record()},
        "server": service,
        "database": database,
        "load": {
            **asdict(load),
            "ramp_s": load.ramp_s,
            "locust_command": locust_run.command,
            "measured_from": summary.started_at,
            "measured_to": summary.ended_at,
        },
        "throughput": {"rps": round(steady_rps, 2), "window_s": round(window_s, 2)},
        "latency_ms": {
            "p50": aggregate.p50,
            "p90": aggregate.p90,
            "p95": aggregate.p95,
            "p99": aggregate.p99,
            "p99_9": aggregate.p999,
            "max": aggregate.max,
        },
        "requests": {"total": summary.total_requests, "failures": summary.total_failures},
        "errors": {
            "by_status": summary.errors_by_status,
            "by_message": [asdict(e) for e in summary.errors],
        },
        "endpoints": [asdict(e) for e in summary.endpoints],
        "locust_workers": workers,
        "resources": _resources(samples, summary.total_requests),
        "generator_bound": bound,
        "generator_bound_reasons": reasons,
        "generator_calibration": calibration,
        "series": _series(summary, samples),
    }
