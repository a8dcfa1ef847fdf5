"""Running Locust headless as a subprocess: clean environment, pinned CPUs, raw files kept."""

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common.errors import BenchError
from bench.common.lifetime import die_with_parent, stop_group, track
from bench.common.paths import LOCUSTFILE, WORKER_REPORT
from bench.load.scenarios import SCENARIOS
from bench.services.process import clean_environment

STOP_TIMEOUT_S = 5
_OVERRUN_S = 60  # beyond run time + stop timeout, Locust is hung: kill it


@dataclass(frozen=True)
class LoadSettings:
    scenario: str
    users: int = 50
    spawn_rate: float = 25.0
    duration_s: int = 20
    warmup_s: int = 5
    processes: int = 1  # local Locust worker processes under one master (Locust's --processes)
    external_workers: int = 0  # workers started elsewhere that the master waits for
    master_bind: str = "127.0.0.1"

    @property
    def distributed(self) -> bool:
        return self.processes > 1 or self.external_workers > 0

    @property
    def ramp_s(self) -> int:
        return math.ceil(self.users / self.spawn_rate)

    def validate(self) -> None:
        if self.scenario not in SCENARIOS:
            raise BenchError(f"unknown scenario {self.scenario!r}; known scenarios: {', '.join(SCENARIOS)}")
        if self.users < 1 or self.spawn_rate <= 0 or self.duration_s < 1 or self.warmup_s < 0:
            raise BenchError(
                "users and duration must be at least 1, spawn rate above 0, warm-up not negative"
            )
        if self.processes < 1:
            raise BenchError("Locust processes must be at least 1")
        if self.external_workers and self.processes > 1:
            raise BenchError("use either local Locust workers or external ones, not both")


@dataclass(frozen=True)
class LocustRun:
    prefix: Path
    command: list[str]
    started_at: float
    ended_at: float
    exit_code: int
    log_text: str


def locust_command(
    settings: LoadSettings,
    host: str,
    prefix: Path,
    run_time_s: int,
    extra_files: Sequence[Path] = (),
    extra_args: Sequence[str] = (),
) -> list[str]:
    """`extra_files` join the suite in the comma-separated -f (a load shape, say); `extra_args` end it."""
    files = [LOCUSTFILE, *extra_files, *([WORKER_REPORT] if settings.distributed else [])]
    command = [
        sys.executable, "-m", "locust",
        "-f", ",".join(str(path) for path in files),
        SCENARIOS[settings.scenario].user_class,
        "--headless",
        "--host", host,
        "--users", str(settings.users),
        "--spawn-rate", f"{settings.spawn_rate:g}",
        "--run-time", f"{run_time_s}s",
        "--stop-timeout", str(STOP_TIMEOUT_S),
        "--json-file", str(prefix),
        "--csv", str(prefix),
        "--csv-full-history",
        "--reset-stats",
        "--only-summary",
        "--exit-code-on-error", "0",
        "--loglevel", "INFO",
        "--logfile", f"{prefix}.log",
    ]  # fmt: skip
    if settings.processes > 1:
        command += ["--processes", str(settings.processes)]
    if settings.external_workers:
        command += ["--master", "--expect-workers", str(settings.external_workers),
                    "--master-bind-host", settings.master_bind]  # fmt: skip
    if settings.distributed:
        command += ["--worker-report-file", f"{prefix}.workers.json"]
    return command + list(extra_args)


def worker_command(master_host: str) -> str:
    """What to run on each load machine to join an external-workers run (printed for the user)."""
    return f"uv run locust -f loadtests/locustfile.py --worker --master-host {master_host}"


def read_worker_report(prefix: Path) -> list[dict[str, object]] | None:
    path = Path(f"{prefix}.workers.json")
    if not path.exists():
        return None
    try:
        workers: list[dict[str, object]] = json.loads(path.read_text())["workers"]
    except (OSError, ValueError, KeyError) as exc:
        raise BenchError(f"{path}: unreadable worker report: {exc}") from None
    return workers


def _latest_progress(history: Path) -> tuple[float, float, int] | None:
    """(requests/s, failures/s, total requests) over the history so far.

    Locust's own "Requests/s" column is a rolling rate that reads 0 for the first seconds of a run,
    which is all a short pass has: the rate is taken from the totals and timestamps instead."""
    try:
        with open(history, newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("Name") == "Aggregated"]
    except OSError:
        return None
    try:
        points = [(float(r["Timestamp"]), int(r["Total Request Count"]), int(r["Total Failure Count"]))
                  for r in rows]  # fmt: skip
    except (KeyError, ValueError):
        return None
    if not points:
        return None
    first, last = points[0], points[-1]
    span = last[0] - first[0]
    if span <= 0:
        return None  # one row is no rate yet: the line says "starting" rather than 0 req/s
    return (last[1] - first[1]) / span, (last[2] - first[2]) / span, last[1]


class LocustProcess:
    """One Locust run; `pid` is what the sampler follows while it runs."""

    def __init__(
        self,
        settings: LoadSettings,
        host: str,
        prefix: Path,
        cpus: frozenset[int] | None,
        extra_files: Sequence[Path] = (),
        extra_args: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.host = host
        self.prefix = prefix
        self.cpus = cpus
        self.extra_files = tuple(extra_files)
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pids(self) -> list[int]:
        return [self.process.pid] if self.process is not None and self.process.poll() is None else []

    def run(self, run_time_s: int, progress: Callable[[str], None] | None = None) -> LocustRun:
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        command = locust_command(
            self.settings, self.host, self.prefix, run_time_s, self.extra_files, self.extra_args
        )
        cpus = self.cpus

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        # A fresh working directory and environment: no locust.conf, no LOCUST_* variable leaks in.
        env = clean_environment({"PYTHONUNBUFFERED": "1"})
        started = time.time()
        with open(f"{self.prefix}.out", "wb") as out:
            self.process = subprocess.Popen(
                command, cwd=self.prefix.parent, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGTERM, then=pin),
            )  # fmt: skip
            track(self.process.pid)
            try:
                self._wait(run_time_s, started, progress)
            except BaseException:
                self._kill()
                raise
        ended = time.time()
        code = self.process.returncode
        self.process = None
        log_text = _read(Path(f"{self.prefix}.log")) + _read(Path(f"{self.prefix}.out"))
        if code != 0:
            tail = " | ".join(log_text.strip().splitlines()[-3:])
            raise BenchError(f"Locust exited with code {code}: {tail}")
        return LocustRun(self.prefix, command, started, ended, code, log_text)

    def _wait(self, run_time_s: int, started: float, progress: Callable[[str], None] | None) -> None:
        assert self.process is not None
        deadline = started + run_time_s + STOP_TIMEOUT_S + _OVERRUN_S
        history = Path(f"{self.prefix}_stats_history.csv")
        while self.process.poll() is None:
            if time.time() > deadline:
                raise BenchError(f"Locust did not finish within {run_time_s + _OVERRUN_S}s")
            if progress is not None:
                elapsed = time.time() - started
                latest = _latest_progress(history)
                figures = f"{latest[0]:8.0f} req/s  {latest[1]:6.1f} fail/s" if latest else "starting"
                progress(
                    f"{elapsed:5.0f}s / {run_time_s}s  ({max(run_time_s - elapsed, 0):3.0f}s left)  {figures}"
                )
            time.sleep(1.0)

    def _kill(self) -> None:
        if self.process is not None:
            stop_group(self.process, STOP_TIMEOUT_S)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
