"""wrk: the native closed-loop generator the capacity rounds use (bench.run.rounds).

Locust (one gevent thread per process) tops out at a few thousand requests a second; wrk, written in
C, sends many times that from the same core. It runs the scenario's Lua script
(loadtests/wrk/<scenario>.lua, which judges every status against docs/api.md) at a fixed connection
count, on the generator CPUs. Its CPU is sampled, so a window where wrk itself could not push harder
is flagged `bound`.
"""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common.errors import BenchError
from bench.common.paths import LOCUSTFILE
from bench.load.generator import run_generator
from bench.load.sampling import Sampler
from bench.load.scenarios import SCENARIOS
from bench.load.tool import Tool
from bench.services.process import clean_environment

WRK = "wrk"
SCRIPTS = LOCUSTFILE.parent / "wrk"
DEFAULT_SECONDS = 2
TIMEOUT_S = 10  # a request unanswered this long counts as an error (wrk's own default is 2 s)
BOUND_PERCENT = 90.0  # of the cores wrk's threads can use: as Locust is judged
SUMMARY_MARK = "WRK-SUMMARY "
_STOP_S = 5
_OVERRUN_S = 30
INSTALL_HINT = "install it with `make setup` as root on Debian, or `apt-get install wrk`"


Wrk = Tool  # wrk found on PATH, with the version it reports


def find_wrk() -> Wrk | None:
    path = shutil.which(WRK)
    if path is None:
        return None
    # `wrk -v` prints "wrk debian/4.1.0-3+b2 [epoll] Copyright ..." then its usage, exiting 1.
    try:
        result = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"{path} -v failed: {exc}") from None
    words = (result.stdout + result.stderr).split()
    version = words[1] if len(words) > 1 and words[0] == WRK else "unknown"
    return Tool(WRK, path, version)


def script(scenario: str) -> Path:
    if scenario not in SCENARIOS:
        raise BenchError(f"unknown scenario {scenario!r}; known scenarios: {', '.join(SCENARIOS)}")
    return SCRIPTS / f"{scenario}.lua"


@dataclass(frozen=True)
class WrkSettings:
    scenario: str
    connections: int
    seconds: int = DEFAULT_SECONDS
    threads: int = 1

    def validate(self) -> None:
        if self.seconds < 1:
            raise BenchError("a wrk window must be at least 1 second")
        if self.connections < 1:
            raise BenchError("wrk needs at least one connection")
        script(self.scenario)


@dataclass(frozen=True)
class WrkRun:
    command: list[str]
    summary: dict[str, Any]  # the Lua script's done() line
    cpu_percent: float | None  # wrk's mean over its run, 100 = one core
    threads: int

    @property
    def errors(self) -> int:
        socket = self.summary["socket_errors"]
        # A failed judgement and a socket error are different requests; wrk's own status count
        # (>= 400) overlaps the judgement, so it is not added.
        return int(self.summary["failed"]) + sum(
            int(socket[k]) for k in ("connect", "read", "write", "timeout")
        )

    @property
    def rps(self) -> float:
        seconds = self.summary["duration_us"] / 1e6
        return self.summary["requests"] / seconds if seconds > 0 else 0.0

    @property
    def good_rps(self) -> float:
        """Answers within the contract per second (wrk's own rate counts every answer, 503s too)."""
        seconds = self.summary["duration_us"] / 1e6
        passed = self.summary["requests"] - self.summary["failed"]
        return max(passed, 0) / seconds if seconds > 0 else 0.0

    @property
    def bound(self) -> bool:
        return self.cpu_percent is not None and self.cpu_percent >= BOUND_PERCENT * self.threads

    def latency_ms(self) -> dict[str, float]:
        latency = self.summary["latency_us"]
        return {key: round(latency[key] / 1000, 3) for key in ("p50", "p90", "p99", "p99_9", "max")}


def threads_for(cpus: frozenset[int] | None, connections: int) -> int:
    """One wrk thread per generator CPU (wrk needs no more connections than threads)."""
    cores = len(cpus) if cpus else (os.cpu_count() or 1)
    return max(1, min(cores, connections))


def wrk_command(wrk: Wrk, settings: WrkSettings, url: str, threads: int) -> list[str]:
    return [
        wrk.path,
        "--threads", str(threads),
        "--connections", str(settings.connections),
        "--duration", f"{settings.seconds}s",
        "--timeout", f"{TIMEOUT_S}s",
        "--script", str(script(settings.scenario)),
        url.rstrip("/") + "/",
    ]  # fmt: skip


def _summary(text: str, out: Path) -> dict[str, Any]:
    for line in text.splitlines():
        if line.startswith(SUMMARY_MARK):
            try:
                summary: dict[str, Any] = json.loads(line[len(SUMMARY_MARK) :])
            except ValueError as exc:
                raise BenchError(f"{out}: wrk's summary line is not JSON: {exc}") from None
            return summary
    tail = " | ".join(text.strip().splitlines()[-3:])
    raise BenchError(f"wrk printed no summary (see {out}): {tail or 'no output'}")


def run_wrk(
    wrk: Wrk,
    settings: WrkSettings,
    url: str,
    out: Path,
    cpus: frozenset[int] | None,
    extra_groups: dict[str, Any] | None = None,
) -> tuple[WrkRun, Sampler]:
    """Runs wrk to the end, pinned to `cpus`, its output kept in `out`; the sampler also follows
    `extra_groups` (name -> callable returning root pids), for a caller that wants the server's CPU."""
    settings.validate()
    threads = threads_for(cpus, settings.connections)
    command = wrk_command(wrk, settings, url, threads)
    finished = run_generator(
        WRK, command, out, cpus, clean_environment({}), settings.seconds + _STOP_S + _OVERRUN_S, extra_groups
    )
    code = finished.code
    text = out.read_text(errors="replace")
    if code != 0:
        tail = " | ".join(text.strip().splitlines()[-3:])
        raise BenchError(f"wrk exited with code {code}: {tail}")
    return WrkRun(command, _summary(text, out), finished.cpu_percent, threads), finished.sampler
