"""The harness itself interrupted: SIGINT or SIGTERM to `python -m bench run` at each stage of a run.

A stage is recognised from outside, as a user would see it: the embedded cluster's directory
(its owner.pid names the harness), the service's process, then the warm-up's and the measured
run's Locust history files. The runner writes run.json (status incomplete) before it starts the
database, so every interrupted run has one; a case file exists only once its case has begun,
that is from the warm-up on.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench.common.errors import BenchError
from bench.common.results import INCOMPLETE, case_path, raw_dir
from bench.faults.common import SEED, FaultResult, case_dir, living

HARNESS_INTERRUPTED = "harness-interrupted"
STACK = "fastapi-uvicorn"
DATABASE_STARTUP = "database-startup"
SERVICE_STARTUP = "service-startup"
WARM_UP = "warm-up"
MEASURED_RUN = "measured-run"
STAGES = (DATABASE_STARTUP, SERVICE_STARTUP, WARM_UP, MEASURED_RUN)
EXIT_INTERRUPTED = 130
_PG_PREFIX = "fastapi-load-pg-"  # bench.database.server's cluster directories
_STAGE_TIMEOUT_S = 90.0
_EXIT_TIMEOUT_S = 60.0
_POLL_S = 0.02


def _cluster_dirs(harness_pid: int) -> list[Path]:
    """The embedded cluster directories this harness owns (other runs on the machine have their own)."""
    owned = []
    for path in Path(tempfile.gettempdir()).glob(f"{_PG_PREFIX}*"):
        with contextlib.suppress(OSError, ValueError):
            if int((path / "owner.pid").read_text()) == harness_pid:
                owned.append(path)
    return owned


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _runs_service(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return any("uvicorn" in part for part in process.cmdline())
    return False


def _stage_reached(stage: str, harness_pid: int, case: Path) -> Callable[[], bool]:
    raw = raw_dir(case)
    checks: dict[str, Callable[[], bool]] = {
        # The cluster's directory exists and initdb or postgres runs: mid-startup, with a child to stop.
        DATABASE_STARTUP: lambda: bool(_cluster_dirs(harness_pid) and _descendants(harness_pid)),
        SERVICE_STARTUP: lambda: any(_runs_service(p) for p in _descendants(harness_pid)),
        WARM_UP: lambda: (raw / "warmup" / "locust_stats_history.csv").exists(),
        MEASURED_RUN: lambda: (raw / "locust_stats_history.csv").exists(),
    }
    return checks[stage]


def _later_stage_seen(stage: str, harness_pid: int, case: Path) -> str | None:
    """The first stage after `stage` that has already begun: then the signal came too late."""
    for later in STAGES[STAGES.index(stage) + 1 :]:
        if _stage_reached(later, harness_pid, case)():
            return later
    return None


def _watch_exit(
    proc: subprocess.Popen[bytes], tree: list[psutil.Process]
) -> tuple[int | None, list[psutil.Process]]:
    """Wait for the harness to exit; (its exit code or None, every descendant seen meanwhile).

    Children started after the snapshot (initdb's own postgres, say) are caught while they are
    still in the tree: once orphaned they would no longer be found under the harness.
    """
    seen = {p.pid: p for p in tree}
    deadline = time.monotonic() + _EXIT_TIMEOUT_S
    while proc.poll() is None:
        if time.monotonic() > deadline:
            return None, list(seen.values())
        for process in _descendants(proc.pid):
            seen.setdefault(process.pid, process)
        time.sleep(_POLL_S)
    return proc.returncode, list(seen.values())


def _describe(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"{process.pid} {process.name()}"
    return str(process.pid)


def _census(processes: list[psutil.Process]) -> str:
    """ "postgres x6, python x1": what was running, by name."""
    names: dict[str, int] = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            names[process.name()] = names.get(process.name(), 0) + 1
    return ", ".join(f"{name} x{n}" for name, n in sorted(names.items())) or "none"


def _read_status(path: Path) -> str | None:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    status = document.get("status")
    return status if isinstance(status, str) else None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """The harness did not exit by itself: take it down hard so the matrix can go on."""
    if proc.poll() is None:
        for child in _descendants(proc.pid):
            with contextlib.suppress(psutil.Error):
                child.kill()
        proc.kill()
        proc.wait(timeout=10)


def harness_interrupted(stage: str, sig: signal.Signals, workdir: Path) -> FaultResult:
    """Interrupt `bench run fastapi-uvicorn --scenario list` once it reaches `stage`."""
    if stage not in STAGES:
        raise BenchError(f"unknown stage {stage!r}; known stages: {', '.join(STAGES)}")
    expected = f"exit {EXIT_INTERRUPTED}, no process or cluster directory left, run.json incomplete"
    out = case_dir(workdir, HARNESS_INTERRUPTED, f"{stage}.{sig.name}")
    run_id = "run"
    case = case_path(out / run_id, STACK, "default", "list", 1, 1)
    command = [
        sys.executable, "-m", "bench", "run", STACK, "--scenario", "list",
        "--users", "10", "--spawn-rate", "10", "--duration", "30", "--warmup", "5",
        # The stages are the service's, the cluster's and Locust's: no capacity rounds before them.
        "--rounds", "0", "--no-calibration",
        "--seed", str(SEED), "--cpus", "none", "--run-id", run_id, "--results-dir", str(out), "--quiet",
    ]  # fmt: skip
    # Its own DATABASE_URL would skip the embedded cluster, whose startup is one of the stages.
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    stderr_path = out / "harness.err"
    with open(out / "harness.out", "wb") as stdout, open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    problems: list[str] = []
    try:
        reached = _stage_reached(stage, proc.pid, case)
        deadline = time.monotonic() + _STAGE_TIMEOUT_S
        while not reached():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the run never reached {stage} (exit code {proc.poll()})")
            time.sleep(_POLL_S)
        tree = _descendants(proc.pid)
        census = _census(tree)
        clusters = _cluster_dirs(proc.pid)
        too_late = _later_stage_seen(stage, proc.pid, case)
        proc.send_signal(sig)
        code, seen = _watch_exit(proc, tree)
        if code is None:
            problems.append(f"still running {_EXIT_TIMEOUT_S:g}s after {sig.name}")
    finally:
        _stop(proc)
    survivors = living(seen, timeout_s=10)
    left_dirs = [d for d in clusters if d.exists()] + [
        d for d in _cluster_dirs(proc.pid) if d not in clusters
    ]
    survivor_names = [_describe(p) for p in survivors]
    # Counted above; now cleared, so a failed check does not leave the machine littered.
    for process in survivors:
        with contextlib.suppress(psutil.Error):
            process.kill()
    for directory in left_dirs:
        shutil.rmtree(directory, ignore_errors=True)
    err = stderr_path.read_text(errors="replace")
    tracebacks = err.count("Traceback (most recent call last)")
    run_status = _read_status(out / run_id / "run.json")
    case_status = _read_status(case)
    if code is not None and code != EXIT_INTERRUPTED:
        problems.append(f"exit code {code}")
    if tracebacks:
        problems.append("a traceback was printed")
    if survivors:
        problems.append(f"{len(survivors)} processes survived: {survivor_names}")
    if left_dirs:
        problems.append(f"cluster directories left (removed since): {[str(d) for d in left_dirs]}")
    if run_status != INCOMPLETE:
        problems.append(f"run.json status {run_status!r}")
    expect_case = stage in (WARM_UP, MEASURED_RUN)
    if expect_case and case_status != INCOMPLETE:
        problems.append(f"case status {case_status!r}")
    if not expect_case and case_status is not None:
        problems.append(f"a case file exists ({case_status!r}) though no case had begun")
    if too_late:
        problems.append(f"signalled too late: {too_late} had already begun")
    if stage == DATABASE_STARTUP and not clusters:
        problems.append("no cluster directory seen at the signal")
    last_lines = err.strip().splitlines()[-1:] or ["(nothing)"]
    notes = (
        f"{len(tree)} processes at the signal ({census}), {len(seen)} until it exited; exit {code}; "
        f"run.json {run_status}; "
        f"case {case_status or 'not written'}; last stderr line: {last_lines[0]}"
    )
    return FaultResult(
        fault=HARNESS_INTERRUPTED,
        stack=STACK,
        strategy=f"{stage} {sig.name}",
        expected=expected,
        errors=tracebacks,
        error_messages={last_lines[0]: tracebacks} if tracebacks else {},
        recovery_s=None,
        data_lost=None,
        leftovers=len(survivors) + len(left_dirs),
        passed=not problems,
        notes="; ".join([*problems, notes]),
    )
