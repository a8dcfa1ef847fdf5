"""What a request costs the database, counted on the wire (docs/per-request-costs.md).

A small TCP relay sits between a real service and the real PostgreSQL and counts the round
trips the service starts: each simple Query ('Q') and each extended-protocol Sync ('S') is one
exchange the client waits for. The counts are exact, so they are asserted exactly; the
write-up's rung and asyncpg's reset are counted too, so the counter can be seen to fail.
"""

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from tests.conftest import ServiceLauncher

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

REQUESTS = 40
# Startup requests untyped messages (no type byte): SSLRequest and GSSENCRequest are answered
# with one byte, then the StartupMessage follows.
_NEGOTIATION_CODES = {80877103, 80877104}
_ROUND_TRIP_MESSAGES = {ord("Q"), ord("S")}


def _hang_up(sock: socket.socket) -> None:
    """Passes an end of stream on at once. close() alone sends nothing while the other relay
    thread still blocks in recv() on the same socket: a client (asyncpg) that waits for the server
    to close after its Terminate would wait out its timeout, ten seconds per service stop."""
    with suppress(OSError):  # already gone
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class RoundTripCounter:
    """Relays every connection to PostgreSQL and counts the round trips clients start."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._count = 0
        self._lock = threading.Lock()
        self._stopping = False
        self._sockets: list[socket.socket] = []

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def start(self) -> None:
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._stopping = True
        self.listener.close()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            threading.Thread(target=self._client_to_server, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _hang_up(sink)

    def _client_to_server(self, client: socket.socket, server: socket.socket) -> None:
        buffer = b""
        typed = False
        try:
            while data := client.recv(65536):
                # Counted before it is passed on: once PostgreSQL can answer, the count is in, so a
                # test that reads it after its response never misses the last round trip.
                buffer += data
                while True:
                    if not typed:
                        if len(buffer) < 8:
                            break
                        length, code = struct.unpack("!ii", buffer[:8])
                        if len(buffer) < length:
                            break
                        buffer = buffer[length:]
                        typed = code not in _NEGOTIATION_CODES
                        continue
                    if len(buffer) < 5:
                        break
                    kind, length = buffer[0], struct.unpack("!i", buffer[1:5])[0]
                    if len(buffer) < 1 + length:
                        break
                    buffer = buffer[1 + length :]
                    if kind in _ROUND_TRIP_MESSAGES:
                        with self._lock:
                            self._count += 1
                server.sendall(data)
        except OSError:
            pass
        finally:
            _hang_up(server)


@contextmanager
def counted(url: str) -> Iterator[tuple[RoundTripCounter, str]]:
    parts = urlsplit(url)
    counter = RoundTripCounter((parts.hostname or "127.0.0.1", parts.port or 5432))
    counter.start()
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{counter.port}"
    try:
        # sslmode=disable: the relay reads the protocol in the clear.
        yield counter, urlunsplit(parts._replace(netloc=netloc, query="sslmode=disable"))
    finally:
        counter.stop()


def round_trips(counter: RoundTripCounter, client: httpx.Client, method: str, path: str) -> int:
    """Round trips of REQUESTS sequential requests, after a warm-up (prepared statements)."""

    def send() -> None:
        response = client.request(method, path, json={"title": "counted"} if method == "POST" else None)
        assert response.status_code in (200, 201), response.text

    for _ in range(10):
        send()
    before = counter.count
    for _ in range(REQUESTS):
        send()
    return counter.count - before


# (service, variant, round trips per request). The default, tuned and `def`-endpoint (sync) stacks
# pay one, the statement itself, as go-gin does, and so do the SQLAlchemy data layers (AUTOCOMMIT:
# no BEGIN/COMMIT/ROLLBACK; no pre-ping); the write-up's check on every checkout and asyncpg's
# reset on every release each add one.
CASES = [
    ("go-gin", "default", 1),
    ("fastapi-uvicorn", "default", 1),
    ("fastapi-uvicorn", "tuned", 1),
    ("fastapi-granian", "tuned", 1),
    ("fastapi-uvicorn", "bare", 1),
    ("fastapi-uvicorn", "sqlalchemy-core", 1),
    ("fastapi-uvicorn", "sqlalchemy-orm", 1),
    ("fastapi-uvicorn", "sqlalchemy-session", 1),
    ("fastapi-uvicorn", "sync", 1),
    ("fastapi-uvicorn", "writeup", 2),
    ("fastapi-uvicorn", "asyncpg+pool-reset", 2),
]


@pytest.mark.parametrize(("service", "variant", "per_request"), CASES, ids=[f"{s}:{v}" for s, v, _ in CASES])
def test_round_trips_per_request(
    launch: ServiceLauncher, service: str, variant: str, per_request: int
) -> None:
    with counted(launch.database.url) as (counter, url):
        # One connection, so a request never meets a connection the pool opened mid-count.
        env = {"DATABASE_URL": url, "DB_POOL_MAX": "1", "DB_POOL_MIN": "1"}
        with (
            launch(service, variant, env=env) as running,
            httpx.Client(base_url=running.url, timeout=30) as client,
        ):
            assert round_trips(counter, client, "GET", "/tasks/") == per_request * REQUESTS
            assert round_trips(counter, client, "POST", "/tasks/") == per_request * REQUESTS
            assert round_trips(counter, client, "GET", "/ping/") == 0


def _backend_pids(url: str, name: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchall()
    return [row[0] for row in rows]


# SQLAlchemy's pools follow their driver's rule: the Core and ORM layers (asyncpg) see the
# connection closed, the Session layer (psycopg) pings it after DB_POOL_CHECK_IDLE.
@pytest.mark.parametrize("variant", ["default", "tuned", "sqlalchemy-core", "sqlalchemy-session"])
def test_a_connection_killed_while_idle_is_replaced(launch: ServiceLauncher, variant: str) -> None:
    """The check is skipped only for connections in steady use: one that sat idle past the
    threshold is checked (psycopg_pool) or seen closed (asyncpg) before a request gets it."""
    name = f"idle-kill-{variant}-{os.getpid()}"
    env = {"DATABASE_URL": f"{launch.database.url}?application_name={name}", "DB_POOL_MAX": "1"}
    with launch("fastapi-uvicorn", variant, env=env) as running, httpx.Client(base_url=running.url) as client:
        assert client.get("/tasks/").status_code == 200
        (pid,) = _backend_pids(launch.database.url, name)
        with psycopg.connect(launch.database.url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(1.5)  # past DB_POOL_CHECK_IDLE (1 s)
        response = client.get("/tasks/")
        assert response.status_code == 200, response.text
        assert _backend_pids(launch.database.url, name) not in ([], [pid])


def _thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # the thread ended
        seconds[int(task)] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def _off_main_thread_share(pid: int, url: str) -> float:
    """The share of the server's CPU spent outside its main (event loop) thread under load."""

    def burst(requests: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(requests):
                assert client.get("/tasks/").status_code == 200

    with ThreadPoolExecutor(max_workers=8) as pool:
        # The warm-up grows the pool to 8 connections: opening one resolves its host in the
        # loop's executor, a thread, which is start-up work and not the request path.
        list(pool.map(burst, [20] * 8))
        before = _thread_cpu_s(pid)
        list(pool.map(burst, [150] * 8))
        after = _thread_cpu_s(pid)
    used = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    total = sum(used.values())
    assert total > 0.5, f"too little load to judge: {total:.2f} CPU s"
    return (total - used.get(pid, 0.0)) / total


def test_no_thread_pool_hop_on_the_request_path(launch: ServiceLauncher) -> None:
    """Async dependencies keep the whole request on the event loop thread; the write-up's
    plain `def` dependencies send every request through FastAPI's worker threads."""
    with launch("fastapi-uvicorn", "default") as running:
        default_share = _off_main_thread_share(running.process.pid, running.url)
    with launch("fastapi-uvicorn", "writeup") as running:
        writeup_share = _off_main_thread_share(running.process.pid, running.url)
    print(f"CPU off the event loop thread: default {default_share:.1%}, writeup {writeup_share:.1%}")
    assert default_share < 0.01, f"default: {default_share:.1%} of CPU off the event loop thread"
    assert writeup_share > 0.01, f"writeup: only {writeup_share:.1%} of CPU in worker threads"
