"""Faults of the database under load: a fast restart while reading, a crash while writing."""

import contextlib
import os
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psycopg

from bench.common.errors import BenchError
from bench.faults.common import (
    SEED,
    Background,
    FaultResult,
    case_dir,
    outage_message,
    own_database,
    response_message,
    tally,
    transport_message,
    tree_pids,
)
from bench.load.locust import LoadSettings, LocustProcess, LocustRun
from bench.load.locust_output import SeriesPoint, parse_locust_output
from bench.services.stack import StackOptions, start_service

POSTGRES_RESTART = "postgres-restart"
POSTGRES_KILLED = "postgres-killed-during-create"
RECOVERY_BOUND_S = 10.0
_CLIENT_TIMEOUT_S = 10.0
_CHECKS_AFTER = 3  # direct requests after the load, each must be a 200


def _load_in_background(locust: LocustProcess, run_s: int) -> Background[LocustRun]:
    return Background(lambda: locust.run(run_s), "locust").start()


def _wait_for_file(path: Path, load: Background[LocustRun], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline or load.done():
            raise BenchError(f"Locust never wrote {path}")
        time.sleep(0.05)


def _stop_load(locust: LocustProcess) -> None:
    """Stop a Locust left running by an interrupted fault (its thread cannot be interrupted)."""
    process = locust.process
    if process is not None and process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _answers(url: str, path: str = "/tasks/") -> list[str]:
    """The service's answers to a few direct requests: "200" each when it has recovered."""
    seen = []
    with httpx.Client(base_url=url, timeout=_CLIENT_TIMEOUT_S) as client:
        for _ in range(_CHECKS_AFTER):
            try:
                response = client.get(path)
            except httpx.TransportError as exc:
                seen.append(transport_message(exc))
                continue
            seen.append("200" if response.status_code == 200 else response_message(response))
    return seen


def _last_failure_row(series: Sequence[SeriesPoint]) -> SeriesPoint | None:
    """The first per-second row whose cumulative failure count is already the final one."""
    if not series or series[-1].total_failures == 0:
        return None
    final = series[-1].total_failures
    return next(point for point in series if point.total_failures == final)


def postgres_restart(
    service: str,
    variant: str,
    workdir: Path,
    *,
    users: int = 20,
    run_s: int = 16,
    restart_at_s: float = 6.0,
) -> FaultResult:
    """PostgreSQL's fast shutdown and start (pg_ctl restart -m fast) in the middle of a Locust `list` run."""
    expected = (
        f"only 503 database unavailable/transport errors, none after {RECOVERY_BOUND_S:g}s; same process"
    )
    out = case_dir(workdir, POSTGRES_RESTART, f"{service}.{variant}")
    with own_database() as database:
        cluster = database.cluster
        assert cluster is not None
        with start_service(
            StackOptions(service=service, variant=variant, seed=SEED), database, out
        ) as running:
            pid = running.process.pid
            pids_before = tree_pids(pid)
            settings = LoadSettings(
                scenario="list", users=users, spawn_rate=users, duration_s=run_s, warmup_s=0
            )
            locust = LocustProcess(settings, running.url, out / "locust", cpus=None)
            # The restart runs on this thread: PostgreSQL dies with the thread that started it
            # (PR_SET_PDEATHSIG follows the thread), so a helper thread would take it down on exit.
            load = _load_in_background(locust, run_s)
            try:
                # Locust takes a moment to start: count from its first per-second history row.
                _wait_for_file(Path(f"{locust.prefix}_stats_history.csv"), load)
                time.sleep(max(0.0, restart_at_s - 1))
                restarted_at = time.time()
                cluster.restart(signal.SIGINT)
                ready_at = time.time()
                locust_run = load.result(timeout_s=run_s + 90)
            finally:
                _stop_load(locust)
            answers = _answers(running.url)
            pids_after = tree_pids(pid)
    summary = parse_locust_output(locust_run.prefix, locust_run.log_text)
    messages = tally((e.message, e.occurrences) for e in summary.errors)
    series = summary.series
    last = _last_failure_row(series)
    # A history row stamped T is written during second T, so the last failure came before T + 1.
    recovery = 0.0 if last is None else round(max(0.0, last.timestamp + 1 - restarted_at), 1)
    before = max((p.total_failures for p in series if p.timestamp < int(restarted_at)), default=0)
    clean_tail = 0 if last is None or not series else series[-1].timestamp - last.timestamp
    served_after = series[-1].total_requests - (last.total_requests if last else 0) if series else 0
    problems = []
    if bad := [m for m in messages if not outage_message(m)]:
        problems.append(f"unexpected errors: {bad[:3]}")
    if before:
        problems.append(f"{before} failures before the restart")
    if recovery > RECOVERY_BOUND_S:
        problems.append(f"failures until {recovery:.1f}s after the restart")
    if last is not None and (clean_tail < 2 or served_after == 0):
        problems.append("no clean seconds of load after the last failure")
    if answers != ["200"] * _CHECKS_AFTER:
        problems.append(f"after the run: {answers}")
    if pids_after != pids_before:
        problems.append(f"service processes changed: {sorted(pids_before)} -> {sorted(pids_after)}")
    if summary.exceptions:
        problems.append(f"locustfile raised: {summary.exceptions[0].message}")
    notes = (
        f"{summary.total_requests} requests; PostgreSQL back {ready_at - restarted_at:.1f}s after the "
        f"restart; {clean_tail}s clean after the last failure; pid {pid}"
    )
    return FaultResult(
        fault=POSTGRES_RESTART,
        stack=service,
        strategy=variant,
        expected=expected,
        errors=summary.total_failures,
        error_messages=messages,
        recovery_s=recovery,
        data_lost=None,
        leftovers=0,
        passed=not problems,
        notes="; ".join([*problems, notes]),
    )


class _Writer:
    """One client thread creating tasks with unique titles, remembering every 201 and every failure."""

    def __init__(self, url: str, label: str, stop: threading.Event) -> None:
        self.url = url
        self.label = label
        self.stop = stop
        self.acknowledged: dict[int, str] = {}
        self.successes: list[float] = []  # monotonic time of each 201
        self.failures: list[tuple[float, str]] = []
        self.thread = threading.Thread(target=self._run, name=f"writer {label}", daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=_CLIENT_TIMEOUT_S) as client:
            number = 0
            while not self.stop.is_set():
                number += 1
                title = f"fault {self.label} #{number}"
                try:
                    response = client.post("/tasks/", json={"title": title})
                except httpx.TransportError as exc:
                    self.failures.append((time.monotonic(), transport_message(exc)))
                    continue
                if response.status_code == 201:
                    self.acknowledged[int(response.json()["id"])] = title
                    self.successes.append(time.monotonic())
                else:
                    self.failures.append((time.monotonic(), response_message(response)))


def _lost(url: str, acknowledged: dict[int, str]) -> int:
    """Acknowledged tasks missing from the table, or present under another title."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT id, title FROM tasks WHERE id = ANY(%s)", (list(acknowledged),)
        ).fetchall()
    found = {int(task_id): title for task_id, title in rows}
    return sum(1 for task_id, title in acknowledged.items() if found.get(task_id) != title)


def postgres_killed_during_create(
    service: str,
    variant: str,
    workdir: Path,
    *,
    writers: int = 4,
    run_s: float = 10.0,
    kill_at_s: float = 4.0,
) -> FaultResult:
    """SIGKILL of PostgreSQL's whole process group (a crash, then crash recovery) while tasks are created."""
    expected = "every 201's task still in the table; only 503/transport errors; recovers; same process"
    out = case_dir(workdir, POSTGRES_KILLED, f"{service}.{variant}")
    stop = threading.Event()
    with own_database() as database:
        cluster = database.cluster
        assert cluster is not None
        with start_service(
            StackOptions(service=service, variant=variant, seed=SEED), database, out
        ) as running:
            pid = running.process.pid
            pids_before = tree_pids(pid)
            clients = [_Writer(running.url, f"{service} w{i}", stop) for i in range(writers)]
            started = time.monotonic()
            try:
                for client in clients:
                    client.thread.start()
                time.sleep(kill_at_s)
                killed_at = time.monotonic()
                cluster.restart(signal.SIGKILL)
                back_at = time.monotonic()
                time.sleep(max(0.0, started + run_s - time.monotonic()))
            finally:
                stop.set()
                for client in clients:
                    client.thread.join(_CLIENT_TIMEOUT_S + 5)
            answers = _answers(running.url)
            pids_after = tree_pids(pid)
            acknowledged = {k: v for client in clients for k, v in client.acknowledged.items()}
            lost = _lost(database.url, acknowledged)
    failures = sorted(f for client in clients for f in client.failures)
    successes = sorted(t for client in clients for t in client.successes)
    last_failure = failures[-1][0] if failures else None
    recovery = 0.0 if last_failure is None else round(max(0.0, last_failure - killed_at), 1)
    messages = tally((message, 1) for _, message in failures)
    problems = []
    if lost:
        problems.append(f"{lost} acknowledged tasks lost")
    if bad := [m for m in messages if not outage_message(m)]:
        problems.append(f"unexpected errors: {bad[:3]}")
    if early := [t for t, _ in failures if t < killed_at]:
        problems.append(f"{len(early)} failures before the kill")
    if not any(t < killed_at for t in successes):
        problems.append("no task was created before the kill")
    if last_failure is not None and not any(t > last_failure for t in successes):
        problems.append("no task was created after the last failure")
    if recovery > RECOVERY_BOUND_S:
        problems.append(f"failures until {recovery:.1f}s after the kill")
    if answers != ["200"] * _CHECKS_AFTER:
        problems.append(f"after the run: {answers}")
    if pids_after != pids_before:
        problems.append(f"service processes changed: {sorted(pids_before)} -> {sorted(pids_after)}")
    if any(client.thread.is_alive() for client in clients):
        problems.append("a client thread hung")
    notes = (
        f"{len(acknowledged)} tasks acknowledged ({writers} clients); PostgreSQL back "
        f"{back_at - killed_at:.1f}s after the kill; pid {pid}"
    )
    return FaultResult(
        fault=POSTGRES_KILLED,
        stack=service,
        strategy=variant,
        expected=expected,
        errors=len(failures),
        error_messages=messages,
        recovery_s=recovery,
        data_lost=lost,
        leftovers=0,
        passed=not problems,
        notes="; ".join([*problems, notes]),
    )
