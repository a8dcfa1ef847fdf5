"""Faults at the service: an exhausted pool, SIGTERM with requests in flight, load far past the knee."""

import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common.ports import port_is_free
from bench.common.results import COMPLETE
from bench.database.server import Database
from bench.faults.common import (
    MARGIN_S,
    SEED,
    UNAVAILABLE,
    FaultResult,
    case_dir,
    living,
    locked_tasks,
    response_message,
    sessions_of,
    tally,
    transport_message,
    wait_for_lock_waiters,
    with_application_name,
)
from bench.run.runner import RunRequest, run
from bench.services.stack import StackOptions, start_service

POOL_EXHAUSTED = "pool-exhausted"
SIGTERM_IN_FLIGHT = "sigterm-in-flight"
OVERLOAD = "overload"
POOL_SIZE = 2
POOL_TIMEOUT_S = 1.0
POOL_TIMED_OUT = "HTTP 503: database unavailable: pool timeout"
# Far longer than any bound below: a request that needs it has hung.
_CLIENT_TIMEOUT_S = 30.0
_LOCK_HOLD_S = 3.0  # past the pool timeout plus margin, so every queued request times out first
_IN_FLIGHT = 3
_OVERLOAD_USERS = 300
_OVERLOAD_DURATION_S = 10


@dataclass
class _Answer:
    message: str  # "200" or the failure as Locust words it
    started: float  # monotonic
    finished: float

    @property
    def latency(self) -> float:
        return self.finished - self.started


class _Requests:
    """Concurrent GETs, one thread each, through one client built up front (building a client per
    request costs tens of milliseconds of CPU that would count as latency). A context manager."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.answers: list[_Answer] = []
        self._lock = threading.Lock()
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        self._client = httpx.Client(timeout=_CLIENT_TIMEOUT_S, limits=limits)
        self._threads = [
            threading.Thread(target=self._get, name=f"request {i}", daemon=True) for i in range(count)
        ]

    def __enter__(self) -> "_Requests":
        return self

    def __exit__(self, *_: object) -> None:
        self.join()
        self._client.close()

    def _get(self) -> None:
        started = time.monotonic()
        try:
            response = self._client.get(self.url)
            message = "200" if response.status_code == 200 else response_message(response)
        except httpx.TransportError as exc:
            message = transport_message(exc)
        with self._lock:
            self.answers.append(_Answer(message, started, time.monotonic()))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> int:
        """Waits for every request; returns how many are still stuck after the client timeout."""
        deadline = time.monotonic() + _CLIENT_TIMEOUT_S + 5
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        return sum(thread.is_alive() for thread in self._threads)


def pool_exhausted(
    service: str, variant: str, database: Database, workdir: Path, *, requests: int = 30, queues: bool = False
) -> FaultResult:
    """A pool of 2 held by queries blocked on a table lock, and many more requests queueing for it.
    `queues`: the variant has no bounded wait in front of the pool (threads matched to the pool wait in
    anyio's limiter, which has no timeout), so the right answer is no 503 and every request served
    once the lock goes."""
    bound = POOL_TIMEOUT_S + MARGIN_S
    expected = (
        "no 503: every request waits for a thread, and is a 200 once the lock goes; none hangs"
        if queues
        else f"each request a 503 pool timeout within {bound:g}s, or a 200 once the lock goes; none hangs"
    )
    out = case_dir(workdir, POOL_EXHAUSTED, f"{service}.{variant}")
    application = f"fault-pool-{service}-{variant}"
    options = StackOptions(
        service=service,
        variant=variant,
        workers=1,  # one pool, so "both connections busy" is what the lock waiters show
        pool_max=POOL_SIZE,
        seed=SEED,
        extra_env={
            "DATABASE_URL": with_application_name(database.url, application),
            "DB_POOL_TIMEOUT": f"{POOL_TIMEOUT_S:g}",
        },
    )
    with start_service(options, database, out) as running:
        url = f"{running.url}/tasks/"
        warm = httpx.get(url, timeout=_CLIENT_TIMEOUT_S).status_code
        with _Requests(url, requests) as queued:
            with locked_tasks(database.url):
                queued.start()
                started = time.monotonic()
                wait_for_lock_waiters(database.url, application, POOL_SIZE)
                time.sleep(max(0.0, started + _LOCK_HOLD_S - time.monotonic()))
                released = time.monotonic()
            stuck = queued.join()
        answers = queued.answers
        after = httpx.get(url, timeout=_CLIENT_TIMEOUT_S).status_code
    failures = [a.message for a in answers if a.message != "200"]
    timed_out = [a for a in answers if a.message == POOL_TIMED_OUT]
    served = [a for a in answers if a.message == "200"]
    slowest_503 = max((a.latency for a in timed_out), default=0.0)
    late_200 = max((a.finished - released for a in served), default=0.0)
    slowest = max((a.latency for a in answers), default=0.0)
    problems = []
    if warm != 200 or after != 200:
        problems.append(f"GET before/after the fault: {warm}/{after}")
    if bad := sorted({m for m in failures if m != POOL_TIMED_OUT}):
        problems.append(f"unexpected answers: {bad[:3]}")
    if stuck:
        problems.append(f"{stuck} requests hung past {_CLIENT_TIMEOUT_S:g}s")
    if queues and timed_out:
        problems.append("a request got the pool timeout: a thread waited inside the pool")
    if not queues and not timed_out:
        problems.append("no request got the pool timeout: the pool was never exhausted")
    if slowest_503 > bound:
        problems.append(f"a 503 took {slowest_503:.2f}s")
    if late_200 > MARGIN_S:
        problems.append(f"a 200 came {late_200:.2f}s after the lock was released")
    notes = (
        f"{len(answers)} requests: {len(served)} x 200, {len(timed_out)} x pool timeout; slowest 503 "
        f"{slowest_503:.2f}s, max latency {slowest:.2f}s (lock held {_LOCK_HOLD_S:g}s)"
    )
    return FaultResult(
        fault=POOL_EXHAUSTED,
        stack=service,
        strategy=variant,
        expected=expected,
        errors=len(failures),
        error_messages=tally((m, 1) for m in failures),
        recovery_s=None,
        data_lost=None,
        leftovers=0,
        passed=not problems,
        notes="; ".join([*problems, notes]),
    )


def sigterm_in_flight(service: str, variant: str, database: Database, workdir: Path) -> FaultResult:
    """SIGTERM while requests wait in the database: they are answered, then the server exits cleanly."""
    expected = "in-flight requests answered 200; exit 0 (or by its own SIGTERM) within grace; nothing left"
    out = case_dir(workdir, SIGTERM_IN_FLIGHT, f"{service}.{variant}")
    application = f"fault-sigterm-{service}-{variant}"
    options = StackOptions(
        service=service,
        variant=variant,
        seed=SEED,
        extra_env={"DATABASE_URL": with_application_name(database.url, application)},
    )
    problems = []
    with start_service(options, database, out) as running:
        popen = running.process.process
        assert popen is not None
        grace = running.launch.grace_seconds
        tree = running.process.tree()
        port = running.process.port
        with _Requests(f"{running.url}/tasks/", _IN_FLIGHT) as in_flight:
            with locked_tasks(database.url):
                in_flight.start()
                wait_for_lock_waiters(database.url, application, _IN_FLIGHT)
                popen.send_signal(signal.SIGTERM)
                signalled = time.monotonic()
                time.sleep(0.5)  # the server drains while our requests are still blocked in the database
                draining = popen.poll() is None
            stuck = in_flight.join()
        answers = in_flight.answers
        try:
            code: int | None = popen.wait(timeout=max(0.0, signalled + grace - time.monotonic()))
        except subprocess.TimeoutExpired:
            code = None
        exited_after = time.monotonic() - signalled
        survivors = living(tree, timeout_s=5)
        port_free = port_is_free(port)
        sessions = sessions_of(database.url, application)
    failures = [a.message for a in answers if a.message != "200"]
    if not draining:
        problems.append("exited before its in-flight requests were answered")
    if failures or stuck:
        problems.append(f"in-flight requests: {failures[:3]}, {stuck} hung")
    if code is None:
        problems.append(f"still running {grace}s after SIGTERM")
    elif code not in (0, -signal.SIGTERM):
        # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done.
        problems.append(f"exit code {code}")
    if survivors:
        problems.append(f"survivors: {[p.pid for p in survivors]}")
    if not port_free:
        problems.append(f"port {port} still taken")
    if sessions:
        problems.append(f"{sessions} database sessions still open")
    notes = f"{len(answers)} in flight answered; exit code {code} after {exited_after:.1f}s (grace {grace}s)"
    return FaultResult(
        fault=SIGTERM_IN_FLIGHT,
        stack=service,
        strategy=variant,
        expected=expected,
        errors=len(failures) + stuck,
        error_messages=tally((m, 1) for m in failures),
        recovery_s=None,
        data_lost=None,
        leftovers=len(survivors) + (0 if port_free else 1),
        passed=not problems,
        notes="; ".join([*problems, notes]),
    )


def overload(
    service: str,
    variant: str,
    workdir: Path,
    *,
    users: int = _OVERLOAD_USERS,
    duration_s: int = _OVERLOAD_DURATION_S,
) -> FaultResult:
    """`list` with many users, no wait time and a pool of 2, through the normal benchmark pipeline."""
    expected = "harness returns a result; failures are 503s or transport errors, counted apart from latency"
    request = RunRequest(
        # The fault is the subject: no capacity rounds, no calibration beside it.
        calibrate=False,
        services=[service],
        scenarios=["list"],
        variants=[variant],
        users=users,
        spawn_rate=100.0,
        duration_s=duration_s,
        warmup_s=0,
        pool_max=POOL_SIZE,
        seed=SEED,
        results_dir=case_dir(workdir, OVERLOAD),
        run_id=f"{service}.{variant}",
        progress=False,
    )
    outcome = run(request)
    case = outcome.cases[0] if outcome.cases else None
    document = case.document if case is not None else None
    problems = []
    if case is None or case.status != COMPLETE or document is None:
        reason = case.error if case is not None else "no case was run"
        problems.append(f"no result: {reason}")
        document = {}
    errors = document.get("errors", {})
    by_status: dict[str, int] = errors.get("by_status", {})
    if bad := sorted(set(by_status) - {"503", "0"}):
        problems.append(f"failures with status {bad}")
    latency = document.get("latency_ms", {})
    rps = document.get("throughput", {}).get("rps")
    messages = tally((e["message"], e["occurrences"]) for e in errors.get("by_message", []))
    # A server's own limit (uvicorn --limit-concurrency) answers a plain 503 without the contract's detail.
    bare = sum(n for m, n in messages.items() if m.startswith("HTTP 503:") and not m.startswith(UNAVAILABLE))
    notes = (
        f"503: {by_status.get('503', 0)} ({bare} the server's own, without a detail), "
        f"transport: {by_status.get('0', 0)}, "
        f"of {document.get('requests', {}).get('total', 0)} requests at {rps} req/s; latency ms "
        f"p50 {latency.get('p50')}, p99 {latency.get('p99')}, max {latency.get('max')}; "
        f"{users} users, pool {POOL_SIZE}; result {case.path if case else None}"
    )
    return FaultResult(
        fault=OVERLOAD,
        stack=service,
        strategy=variant,
        expected=expected,
        errors=int(document.get("requests", {}).get("failures", 0)),
        error_messages=messages,
        recovery_s=None,
        data_lost=None,
        leftovers=0,
        passed=not problems,
        notes="; ".join([*problems, notes]),
    )
