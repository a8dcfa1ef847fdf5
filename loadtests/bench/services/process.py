"""Running one service from its manifest: own process group, readiness, clean shutdown.

Readiness is polling the health path until a deadline, and checking that the socket
answering on the port belongs to the process tree we started, so a stranger already
listening there is never mistaken for our server. Shutdown is SIGTERM to the server,
its grace period, then SIGKILL of the whole group and of any descendant that left it.

The server starts in a cgroup of its own where the machine allows one (bench.load.cgroups), so its
CPU, its workers' and that of any process it forks is counted exactly; the cgroup goes with it.
"""

import contextlib
import http.client
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import psutil

from bench.common.errors import BenchError
from bench.common.lifetime import die_with_parent, track
from bench.common.ports import port_is_free
from bench.load import cgroups
from bench.services.manifest import Launch

_POLL_INTERVAL_S = 0.05
# All a server needs from the caller's environment; everything else it gets is explicit.
_BASE_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")


def clean_environment(extra: dict[str, str]) -> dict[str, str]:
    """Only what a service needs: nothing leaks in from the caller's shell (OTEL_*, GRANIAN_*, ...)."""
    env = {key: os.environ[key] for key in _BASE_ENV_KEYS if key in os.environ}
    env.update(extra)
    return env


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return " | ".join(text[-lines:]) if text else "(no output)"


def _get_status(host: str, port: int, path: str, timeout: float) -> int | None:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class ServiceProcess:
    """A service started from a Launch; use as a context manager."""

    def __init__(
        self,
        launch: Launch,
        env: dict[str, str],
        host: str,
        port: int,
        log_path: Path,
        cpus: set[int] | None = None,
    ) -> None:
        self.launch = launch
        self.env = clean_environment(env)
        self.host = host
        self.port = port
        self.log_path = log_path
        self.cpus = cpus
        self.process: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None
        self.startup_seconds: float | None = None
        self._known: dict[int, psutil.Process] = {}
        self.cpu_group: cgroups.CpuGroup | None = None

    def __enter__(self) -> "ServiceProcess":
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if not port_is_free(self.port, self.host):
            raise BenchError(
                f"port {self.port} on {self.host} is already in use by another process; "
                "choose another port (or omit it for a free one)"
            )
        cpus = self.cpus

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(
                    self.launch.argv,
                    cwd=self.launch.cwd,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    # SIGTERM, not SIGKILL: a server stops its own workers on TERM (granian's
                    # and gunicorn's would otherwise outlive a killed master, holding the port).
                    preexec_fn=die_with_parent(signal.SIGTERM, then=pin),
                )
            except OSError as exc:
                raise BenchError(f"cannot start {self.launch.service}: {exc}") from None
            track(self.process.pid)
        self.cpu_group = cgroups.account(f"{self.launch.service}.{self.launch.variant}", self.process.pid)
        self._started_at = time.monotonic()

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("service not started")
        return self.process.pid

    def tree(self) -> list[psutil.Process]:
        """The server and every descendant, remembered so stop() can find strays."""
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        for proc in procs:
            self._known.setdefault(proc.pid, proc)
        return procs

    def _owns_listener(self) -> bool:
        pids = {p.pid for p in self.tree()}
        for proc in list(self._known.values()):
            if proc.pid not in pids:
                continue
            try:
                conns = proc.net_connections(kind="tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            for conn in conns:
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == self.port:
                    return True
        return False

    def wait_ready(self) -> float:
        assert self.process is not None
        deadline = self._started_at + self.launch.startup_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise BenchError(
                    f"{self.launch.service} exited with code {code} during startup: "
                    f"{_log_tail(self.log_path)}"
                )
            status = _get_status(self.host, self.port, self.launch.health_path, timeout=1.0)
            if status == 200 and self._owns_listener():
                self.startup_seconds = time.monotonic() - self._started_at
                return self.startup_seconds
            time.sleep(_POLL_INTERVAL_S)
        raise BenchError(
            f"{self.launch.service} did not answer {self.launch.health_path} with 200 within "
            f"{self.launch.startup_timeout:.0f}s: {_log_tail(self.log_path)}"
        )

    def stop(self) -> int | None:
        proc = self.process
        if proc is None:
            return self.exit_code
        self.tree()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.launch.grace_seconds)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        # Descendants that outlived their parent or left its group; psutil checks the
        # create time, so a recycled pid is never killed by mistake.
        for stray in self._known.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                if stray.is_running():
                    stray.kill()
        self.exit_code = proc.wait(timeout=self.launch.grace_seconds)
        psutil.wait_procs(list(self._known.values()), timeout=5)
        self.process = None
        if self.cpu_group is not None:
            self.cpu_group.close()
            self.cpu_group = None
        return self.exit_code

    def survivors(self) -> list[psutil.Process]:
        return [p for p in self._known.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
