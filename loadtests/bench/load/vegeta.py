"""Open-loop load: vegeta sends requests on a fixed schedule, whatever the server's answers are doing.

Closed-loop generators (Locust, wrk) wait for an answer before sending the next request, so a slow
server slows the load down and the latency they report leaves out the requests that were never sent
(coordinated omission). vegeta starts each request at its scheduled time, adding workers when answers
lag, so its latency is what a client arriving at that rate sees.

vegeta is a Go program, pinned by version and built into the project's .tools/bin by `make setup`
(`go install github.com/tsenart/vegeta/v12@v12.13.0`). A generator has limits of its own: on one
core here it cannot keep much past 10k req/s, and its own scheduling adds latency before that. So
every point is checked: the rate it really kept, its CPU, and (by the caller) the latency it measures
against the cheapest endpoint at the same rate; a point failing any check is marked, not reported as
the server's.
"""

import base64
import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common.errors import BenchError
from bench.common.paths import REPO_ROOT
from bench.common.schema import LatencyMs
from bench.load.generator import run_generator
from bench.load.scenarios import SCENARIOS, Request
from bench.load.tool import Tool
from bench.services.process import clean_environment

VEGETA = "vegeta"
VERSION = "v12.13.0"
MODULE = f"github.com/tsenart/vegeta/v12@{VERSION}"
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
INSTALL_HINT = f"`make setup` builds it (go install {MODULE}) into .tools/bin"
TIMEOUT_S = 10  # as wrk's: an answer this late is a timeout
# The generator kept its schedule when it sent at least this share of the asked rate.
KEPT_RATE = 0.97
BUSY_PERCENT = 90.0  # of its cores: beyond this its own scheduling delays requests
_DRAIN_S = TIMEOUT_S + 5
# vegeta adds a worker (and a connection) whenever the ones it has are all waiting; past a server's
# capacity that runs away until the generator itself is starved (seen here: thousands of workers at
# 98% of its core, sending a tenth of the rate asked). Capped, it falls behind its schedule instead,
# which the sent-rate check marks.
MAX_WORKERS = 1000


Vegeta = Tool  # vegeta from .tools/bin (or PATH), at the version `make setup` pins


def find_vegeta() -> Vegeta | None:
    local = TOOLS_BIN / VEGETA
    path = str(local) if local.exists() else shutil.which(VEGETA)
    return Tool(VEGETA, path, VERSION) if path else None


def require_vegeta() -> Vegeta:
    found = find_vegeta()
    if found is None:
        raise BenchError(f"open-loop load needs vegeta, which is not installed: {INSTALL_HINT}")
    return found


def targets_text(url: str, requests: tuple[Request, ...], body_dir: Path) -> str:
    """vegeta's http target format; it cycles through the targets in order, so repeats set a mix."""
    lines: list[str] = []
    base = url.rstrip("/")
    for index, request in enumerate(requests):
        lines.append(f"{request.method} {base}{request.path}")
        if request.body is not None:
            body = body_dir / f"body-{index}.json"
            body.write_text(request.body)
            lines += ["Content-Type: application/json", f"@{body}"]
        lines.append("")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Attack:
    """What one fixed-rate attack saw, summarised from vegeta's per-request results."""

    offered_rps: float
    seconds: int
    requests: int
    successes: int
    sent_rps: float
    goodput_rps: float
    errors: dict[str, int]
    latency_ms: LatencyMs | None
    cpu_percent: float | None
    cores: int
    # Per request, in the order sent: seconds since the first request, latency in ms, success.
    timeline: tuple[tuple[float, float, bool], ...] = ()

    def recovered_after(self, normal_ms: float, bin_s: float = 0.25) -> float | None:
        """Seconds from the attack's start after which every bin of `bin_s` answers all its requests
        successfully within `normal_ms`: how long a side took to serve at its normal latency again.
        None: it never did within the attack."""
        if not self.timeline:
            return None
        bins: dict[int, bool] = {}
        for at, latency, ok in self.timeline:
            index = int(at / bin_s)
            bins[index] = bins.get(index, True) and ok and latency <= normal_ms
        last_bad = max((index for index, good in bins.items() if not good), default=-1)
        if last_bad == max(bins):
            return None
        return round((last_bad + 1) * bin_s, 2)

    @property
    def limit_reasons(self) -> list[str]:
        """Why this point says more about the generator than the server (empty: it kept up)."""
        reasons = []
        if self.sent_rps < KEPT_RATE * self.offered_rps:
            reasons.append(f"vegeta sent {self.sent_rps:,.0f} of the {self.offered_rps:,.0f} req/s asked")
        if self.cpu_percent is not None and self.cpu_percent >= BUSY_PERCENT * self.cores:
            reasons.append(f"vegeta used {self.cpu_percent:.0f}% CPU of its {self.cores} core(s)")
        return reasons


def _error_kind(code: int, error: str, body_b64: str) -> str | None:
    """None for a success; else a short kind: `status 503 (pool timeout)`, `refused`, `timeout`..."""
    if 200 <= code < 300 and not error:
        return None
    if code:
        kind = f"status {code}"
        if code == 503:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                detail = json.loads(base64.b64decode(body_b64))["detail"]
                kind += f" ({str(detail).removeprefix('database unavailable: ')})"
        return kind
    lowered = error.lower()
    for needle, kind in (
        ("refused", "refused"),
        ("timeout", "timeout"),
        ("deadline", "timeout"),
        ("reset", "reset"),
        ("eof", "closed"),
    ):
        if needle in lowered:
            return kind
    return "other"


def summarise(csv_text: str, offered_rps: float, seconds: int, cpu: float | None, cores: int) -> Attack:
    """The attack's numbers from `vegeta encode --to csv` output (no header; see `vegeta encode -h`)."""
    starts: list[int] = []
    ends: list[int] = []
    ok_latencies: list[float] = []
    outcomes: list[tuple[int, float, bool]] = []
    errors: dict[str, int] = {}
    for row in csv.reader(io.StringIO(csv_text)):
        if len(row) < 7:
            continue
        started, code, took_ns = int(row[0]), int(row[1]), int(row[2])
        starts.append(started)
        ends.append(started + took_ns)
        kind = _error_kind(code, row[5], row[6])
        outcomes.append((started, took_ns / 1e6, kind is None))
        if kind is None:
            ok_latencies.append(took_ns / 1e6)
        else:
            errors[kind] = errors.get(kind, 0) + 1
    requests = len(starts)
    if requests == 0:
        raise BenchError("vegeta recorded no requests")
    span = (max(starts) - min(starts)) / 1e9
    sent = (requests - 1) / span if requests > 1 and span > 0 else 0.0
    finished = (max(ends) - min(starts)) / 1e9
    goodput = len(ok_latencies) / finished if finished > 0 else 0.0
    latency = None
    if ok_latencies:
        values = np.percentile(np.asarray(ok_latencies), [50, 90, 99, 99.9, 100])
        latency = LatencyMs(
            p50=round(float(values[0]), 3),
            p90=round(float(values[1]), 3),
            p99=round(float(values[2]), 3),
            p99_9=round(float(values[3]), 3),
            max=round(float(values[4]), 3),
        )
    return Attack(
        offered_rps=offered_rps,
        seconds=seconds,
        requests=requests,
        successes=len(ok_latencies),
        sent_rps=round(sent, 2),
        goodput_rps=round(goodput, 2),
        errors=dict(sorted(errors.items())),
        latency_ms=latency,
        cpu_percent=cpu,
        cores=cores,
        timeline=tuple(((at - min(starts)) / 1e9, ms, ok) for at, ms, ok in sorted(outcomes)),
    )


def attack(
    vegeta: Vegeta,
    url: str,
    scenario: str,
    rate: float,
    seconds: int,
    out_dir: Path,
    cpus: frozenset[int] | None,
) -> Attack:
    """One fixed-rate attack on `scenario`, pinned to `cpus`; its raw results are kept in `out_dir`."""
    requests = SCENARIOS[scenario].open_loop
    if not requests:
        raise BenchError(f"scenario {scenario!r} depends on earlier answers and cannot be sent open-loop")
    if rate < 1 or seconds < 1:
        raise BenchError("an open-loop point needs a rate of at least 1 req/s and at least 1 second")
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = out_dir / "targets.txt"
    targets.write_text(targets_text(url, requests, out_dir))
    results = out_dir / "results.bin"
    cores = len(cpus) if cpus else (os.cpu_count() or 1)
    command = [
        vegeta.path, "attack",
        f"-rate={round(rate)}/1s", f"-duration={seconds}s", f"-timeout={TIMEOUT_S}s",
        f"-targets={targets}", "-max-body=512", "-http2=false", f"-max-workers={MAX_WORKERS}",
        f"-output={results}",
    ]  # fmt: skip

    finished = run_generator(
        VEGETA, command, out_dir / "vegeta.log", cpus, clean_environment({"GOMAXPROCS": str(cores)}),
        seconds + _DRAIN_S, interval_s=0.5,
    )  # fmt: skip
    if finished.code != 0:
        tail = " | ".join((out_dir / "vegeta.log").read_text(errors="replace").strip().splitlines()[-3:])
        raise BenchError(f"vegeta exited with code {finished.code}: {tail or 'no output'}")
    encoded = subprocess.run(
        [vegeta.path, "encode", "--to", "csv", str(results)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if encoded.returncode != 0:
        raise BenchError(f"vegeta encode failed: {encoded.stderr.strip()[-200:]}")
    return summarise(encoded.stdout, rate, seconds, finished.cpu_percent, cores)
