"""What every fault scenario shares: the result type, client-side error wording, table locks, databases."""

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import httpx
import psutil
import psycopg

from bench.common.errors import BenchError
from bench.database.migrate import migrate_up
from bench.database.seed import seed_tasks
from bench.database.server import Database, embedded_database

# The prefix every outage answer must carry (docs/api.md, "503 causes").
UNAVAILABLE = "HTTP 503: database unavailable: "
TRANSPORT = "HTTP 0: "
# Slack for scheduling on a loaded two-core machine when comparing a latency with its bound.
MARGIN_S = 1.5
SEED = 200

T = TypeVar("T")


@dataclass(frozen=True)
class FaultResult:
    """One fault against one stack: what was expected, what happened, and the verdict."""

    fault: str
    stack: str
    strategy: str
    expected: str
    errors: int  # failed requests (or, for the harness, failures it printed)
    error_messages: dict[str, int]  # message as Locust words it ("HTTP 503: ...") -> occurrences
    recovery_s: float | None  # fault until the last failure; None where the fault has no recovery
    data_lost: int | None  # acknowledged writes missing afterwards; None where nothing was written
    leftovers: int  # processes or temporary directories that outlived the fault
    passed: bool
    notes: str


def outage_message(message: str) -> bool:
    """An error a client may see while the database is away: a 503 naming the cause, or no answer."""
    return message.startswith(UNAVAILABLE) or message.startswith(TRANSPORT)


def response_message(response: httpx.Response) -> str:
    """A non-success answer worded as the locustfile words it: `HTTP <status>: <detail>`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"HTTP {response.status_code}: {detail if isinstance(detail, str) else 'unexpected status'}"


def transport_message(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        reason = "timed out"
    elif isinstance(exc, httpx.ConnectError):
        reason = "connection refused"
    else:
        reason = "connection closed"
    return f"{TRANSPORT}{reason}"


def tally(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    """(message, occurrences) pairs summed per message, the most frequent first."""
    counts: dict[str, int] = {}
    for message, occurrences in pairs:
        counts[message] = counts.get(message, 0) + occurrences
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@contextlib.contextmanager
def own_database(max_connections: int = 100, seed: int = SEED) -> Iterator[Database]:
    """A private embedded cluster, migrated and seeded: restarts and kills disturb nobody else."""
    with embedded_database(max_connections) as database:
        migrate_up(database.url)
        seed_tasks(database.url, seed)
        yield database


def with_application_name(url: str, name: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}application_name={name}"


@contextlib.contextmanager
def locked_tasks(url: str) -> Iterator[None]:
    """An exclusive lock on the table: the service's queries block while holding their connection."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        conn.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def wait_for_lock_waiters(url: str, application: str, wanted: int, timeout_s: float = 10.0) -> None:
    """Until `wanted` of the service's sessions are blocked on the lock, so its connections are all busy."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND wait_event_type = 'Lock'",
                (application,),
            ).fetchone()
            if row is not None and row[0] >= wanted:
                return
            time.sleep(0.02)
    raise BenchError(f"{wanted} queries of {application} never blocked on the table lock")


def sessions_of(url: str, application: str) -> int:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchone()
    return int(row[0]) if row else 0


def tree_pids(root: int) -> set[int]:
    try:
        process = psutil.Process(root)
        return {process.pid, *(child.pid for child in process.children(recursive=True))}
    except psutil.NoSuchProcess:
        return set()


def living(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Those of `processes` still running (zombies excluded) after waiting up to `timeout_s`."""
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    survivors = []
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.status() != psutil.STATUS_ZOMBIE:
                survivors.append(process)
    return survivors


class Background(Generic[T]):
    """A function on a thread whose result, or exception, the caller collects with `result()`."""

    def __init__(self, target: Callable[[], T], name: str) -> None:
        self._target = target
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self._value = self._target()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def start(self) -> "Background[T]":
        self._thread.start()
        return self

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout_s: float) -> T:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise BenchError(f"{self._thread.name} did not finish within {timeout_s:.0f}s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set whenever no error was raised


def case_dir(workdir: Path, *parts: str) -> Path:
    path = workdir.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
