"""The generator calibration: Locust's own top rate on this machine, measured once per run.

A few seconds of the run's Locust settings on `/ping/` (the cheapest endpoint) of the fastest server
of the run. When wrk is there, it loads the same endpoint right after: if the server answers wrk much
faster than Locust sent, Locust was the limit and its rate is its capacity; if not, the server was,
and the figure is only a lower bound for Locust, so cases are not judged against it.
"""

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common.errors import BenchError
from bench.load.cpusets import CpuPlan
from bench.load.locust import LoadSettings, LocustProcess
from bench.load.locust_output import parse_locust_output, steady_rps
from bench.load.sampling import LOCUST, SERVICE, Sampler
from bench.load.wrk import Wrk, WrkSettings, run_wrk

SCENARIO = "ping"
# wrk must get this much more out of the server than Locust did for Locust's rate to be its own limit.
HEADROOM_NEEDED = 1.5


def skipped(reason: str) -> dict[str, Any]:
    return {"measured": False, "reason": reason}


def calibrate(
    settings: LoadSettings,
    seconds: int,
    url: str,
    server_pids: Callable[[], list[int]],
    cpu_plan: CpuPlan,
    raw: Path,
    wrk: Wrk | None,
    server: str,
) -> dict[str, Any]:
    """Locust on `url`'s /ping/ for `seconds` at full load (after its ramp), then wrk if given."""
    settings = replace(settings, scenario=SCENARIO, duration_s=seconds, warmup_s=0)
    print(f"calibration: Locust's top rate on {server} /ping/ ({seconds}s)", file=sys.stderr)
    locust = LocustProcess(settings, url, raw / "locust", cpu_plan.generator)
    with Sampler({LOCUST: lambda: locust.pids, SERVICE: server_pids}) as sampler:
        locust_run = locust.run(settings.ramp_s + settings.duration_s)
    summary = parse_locust_output(locust_run.prefix, locust_run.log_text)
    rps, window_s = steady_rps(summary.series, skip_seconds=0)
    window = sampler.window(summary.started_at, summary.ended_at)
    cpu = round(statistics.fmean(s.cpu_percent[LOCUST] for s in window), 1) if window else None
    record: dict[str, Any] = {
        "measured": True,
        "server": server,
        "scenario": SCENARIO,
        "users": settings.users,
        "locust_processes": settings.processes,
        "seconds": seconds,
        "locust_rps": round(rps, 2),
        "window_s": round(window_s, 2),
        "locust_cpu_percent": cpu,
        "failures": summary.total_failures,
        "measured_at": time.time(),
    }
    record["server_rps_wrk"] = None
    if wrk is not None:
        try:
            result, _ = run_wrk(
                wrk, WrkSettings(SCENARIO, settings.users), url, raw / "wrk.out", cpu_plan.generator
            )
            record["server_rps_wrk"] = round(result.rps, 2)
        except BenchError as exc:
            record["wrk_error"] = str(exc)
    headroom = record["server_rps_wrk"] / rps if record["server_rps_wrk"] and rps else None
    record["server_headroom"] = round(headroom, 2) if headroom is not None else None
    # Without wrk there is no second opinion: Locust's CPU says whether it was the limit.
    locust_limited = headroom >= HEADROOM_NEEDED if headroom is not None else (cpu or 0) >= 90.0
    record["limited_by"] = "locust" if locust_limited else "server (the rate is a lower bound for Locust)"
    record["top_rps"] = round(rps, 2) if locust_limited else None
    line = f"  Locust's top rate: {rps:,.0f} req/s at {cpu if cpu is not None else '?'}% CPU"
    if record["server_rps_wrk"]:
        line += f"; the server answered wrk at {record['server_rps_wrk']:,.0f} req/s"
    print(line + ("" if locust_limited else " (server-limited: a lower bound)"), file=sys.stderr)
    return record
