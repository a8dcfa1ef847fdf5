"""The database stage: DATABASE_URL when given, else a throwaway PostgreSQL cluster.

The embedded cluster lives in a fresh directory, listens on a free 127.0.0.1 port
with a random password, and is stopped and deleted on exit, Ctrl-C included. Its postmaster runs
in a `postgres` cgroup where the machine allows one (bench.load.cgroups): every backend, short-lived
or not, and the background processes (checkpointer, walwriter, autovacuum) are counted in it.
"""

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.common.errors import BenchError
from bench.common.lifetime import die_with_parent, track
from bench.common.ports import LOOPBACK, free_port
from bench.database.binaries import find_bindir, server_version
from bench.database.privileges import RunAs, database_user, hand_over
from bench.load import cgroups

STOCK_MAX_CONNECTIONS = 100
_RUN_PREFIX = "fastapi-load-pg-"
_READY_TIMEOUT_S = 30.0
_STOP_GRACE_S = 15.0
_DB_USER = "app"
_DB_NAME = "tasks"
# Settings recorded with every result, so two runs on different configs never pass as equal.
REPORTED_SETTINGS = (
    "server_version",
    "max_connections",
    "shared_buffers",
    "fsync",
    "synchronous_commit",
    "work_mem",
    "password_encryption",
)


@dataclass
class Database:
    url: str
    embedded: bool
    server_pid: int | None = None
    data_dir: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    cluster: "EmbeddedCluster | None" = None


def database_settings(url: str) -> dict[str, str]:
    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
            (list(REPORTED_SETTINGS),),
        ).fetchall()
    return {name: value for name, value in rows}


def check_reachable(url: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot connect to DATABASE_URL: {reason}") from None


@contextlib.contextmanager
def external_database(url: str) -> Iterator[Database]:
    check_reachable(url)
    yield Database(url=url, embedded=False, info={"settings": database_settings(url)})


def _sweep_stale_runs(root: Path) -> None:
    """Delete cluster directories left by a run that was killed outright."""
    for run_dir in root.glob(f"{_RUN_PREFIX}*"):
        owner = run_dir / "owner.pid"
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(run_dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_checked(cmd: list[str], run_as: RunAs, what: str) -> None:
    # Its own process group: initdb starts `postgres --boot/--single` children, and an interrupt
    # must stop all of them before the directory they write into is deleted.
    proc = subprocess.Popen(
        cmd,
        user=run_as.user,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    track(proc.pid)
    try:
        out, err = proc.communicate(timeout=120)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode != 0:
        tail = (err or out).strip().splitlines()[-1:] or ["(no output)"]
        raise BenchError(f"{what} failed: {tail[0]}")


def _last_log_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "no log written"
    for line in reversed(lines):
        if "FATAL" in line or "ERROR" in line or "could not" in line:
            return line.strip()
    return lines[-1].strip() if lines else "no log written"


class EmbeddedCluster:
    """One throwaway cluster; use as a context manager."""

    def __init__(self, max_connections: int = STOCK_MAX_CONNECTIONS) -> None:
        self.max_connections = max_connections
        self.bindir = find_bindir()
        self.run_as = database_user()
        self.password = secrets.token_urlsafe(18)
        self.run_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        # One cgroup for the cluster's life: a restart's new postmaster joins the same one.
        self.cpu_group: cgroups.CpuGroup | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{_DB_USER}:{self.password}@{LOOPBACK}:{self.port}/{_DB_NAME}"

    def __enter__(self) -> "EmbeddedCluster":
        root = Path(tempfile.gettempdir())
        _sweep_stale_runs(root)
        self.run_dir = Path(tempfile.mkdtemp(prefix=_RUN_PREFIX, dir=root))
        try:
            (self.run_dir / "owner.pid").write_text(str(os.getpid()))
            self._initdb()
            self._start()
            self._create_database()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        if self.cpu_group is not None:
            self.cpu_group.close()
            self.cpu_group = None
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None

    def _initdb(self) -> None:
        assert self.run_dir is not None
        hand_over(self.run_dir, self.run_as)
        pwfile = self.run_dir / "pw"
        pwfile.write_text(self.password)
        hand_over(pwfile, self.run_as)
        _run_checked(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.run_dir / "data"),
                "-U",
                _DB_USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            self.run_as,
            "initdb",
        )
        pwfile.unlink()

    def _spawn(self, log: Path) -> None:
        assert self.run_dir is not None
        with open(log, "ab") as out:
            hand_over(log, self.run_as)
            self.process = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.run_dir / "data"),
                    "-p",
                    str(self.port),
                    "-c",
                    f"listen_addresses={LOOPBACK}",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    f"max_connections={self.max_connections}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                user=self.run_as.user,
                # Its own session: a terminal's Ctrl-C reaches us, and we stop it in order.
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGQUIT),
            )
            track(self.process.pid)
        self._account(self.process.pid)

    def _account(self, pid: int) -> None:
        """The postmaster into the cluster's cgroup, right after it started (it runs as another
        user, so it cannot join from preexec_fn); any process it forked meanwhile moves with it."""
        if self.cpu_group is None:
            self.cpu_group = cgroups.account("postgres", pid)
            return
        try:
            self.cpu_group.adopt(pid)
        except OSError:
            self.cpu_group.close()
            self.cpu_group = None

    def _start(self) -> None:
        assert self.run_dir is not None
        log = self.run_dir / "postgres.log"
        for _attempt in range(5):
            self.port = free_port()
            self._spawn(log)
            if self._wait_ready(log):
                return
        raise BenchError(f"embedded PostgreSQL did not start: {_last_log_error(log)}")

    def _wait_ready(self, log: Path) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        admin = f"postgresql://{_DB_USER}:{self.password}@{LOOPBACK}:{self.port}/postgres"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "could not bind" in _last_log_error(log) or "in use" in _last_log_error(log):
                    return False  # lost a race for the port: try another one
                raise BenchError(f"embedded PostgreSQL exited: {_last_log_error(log)}")
            try:
                with psycopg.connect(admin, connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        self.stop()
        raise BenchError(f"embedded PostgreSQL not ready after {_READY_TIMEOUT_S:.0f}s")

    def _create_database(self) -> None:
        admin = f"postgresql://{_DB_USER}:{self.password}@{LOOPBACK}:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {_DB_NAME}")

    def restart(self, sig: signal.Signals = signal.SIGINT) -> None:
        """Stop (fast shutdown by default, SIGKILL for a crash) and start again on the same port.

        Call it from the main thread: the parent-death signal follows the thread that started
        the server, so a server started from a worker thread dies when that thread ends.
        """
        self._signal_and_wait(sig)
        assert self.run_dir is not None
        log = self.run_dir / "postgres.log"
        self._spawn(log)
        if not self._wait_ready(log):
            raise BenchError("embedded PostgreSQL did not come back on its port")

    def _signal_and_wait(self, sig: signal.Signals) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        # SIGINT is PostgreSQL's fast shutdown: roll back open transactions, checkpoint, exit.
        # SIGKILL of the postmaster alone is a crash: its backends linger until they notice.
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=_STOP_GRACE_S)

    def stop(self) -> None:
        self._signal_and_wait(signal.SIGINT)
        self.process = None


@contextlib.contextmanager
def embedded_database(max_connections: int = STOCK_MAX_CONNECTIONS) -> Iterator[Database]:
    with EmbeddedCluster(max_connections) as cluster:
        assert cluster.process is not None
        info = {
            "binaries": str(cluster.bindir),
            "version": server_version(cluster.bindir),
            "auth": "scram-sha-256",
            "run_as": cluster.run_as.user or "(current user)",
            "settings": database_settings(cluster.url),
        }
        yield Database(
            url=cluster.url,
            embedded=True,
            server_pid=cluster.process.pid,
            data_dir=cluster.run_dir,
            info=info,
            cluster=cluster,
        )


def open_database(
    max_connections: int = STOCK_MAX_CONNECTIONS, environ: dict[str, str] | None = None
) -> contextlib.AbstractContextManager[Database]:
    """DATABASE_URL if set, else an embedded cluster."""
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL")
    if url:
        return external_database(url)
    return embedded_database(max_connections)
