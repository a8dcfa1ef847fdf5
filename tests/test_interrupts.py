"""Killed as a supervisor kills (TERM to the group, KILL a second later), the harness leaves nothing.

`make serve` runs make -> uv run -> fastapi-load, all in one process group: a TERM to the group
reaches the harness twice (directly, and forwarded by uv), and the KILL lands while it is still
stopping what it started. Whatever it had started (the service, its workers, PostgreSQL) must be
gone shortly after, and the port free.
"""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pytest

from bench.common.paths import REPO_ROOT
from bench.common.ports import free_port, port_is_free
from bench.services.manifest import services
from tests.conftest import user_shell_environment

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 120
GONE_TIMEOUT_S = 15


@contextmanager
def make_serve(service: str, port: int) -> Iterator[subprocess.Popen[str]]:
    env = user_shell_environment()
    proc = subprocess.Popen(
        ["make", "-s", "serve", f"SERVICE={service}", f"PORT={port}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def wait_until_serving(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "Ctrl-C to stop" in line:
            return line
    raise AssertionError(f"make serve never became ready: {''.join(seen[-5:])}")


def started_processes(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def describe(processes: list[psutil.Process]) -> str:
    out = []
    for p in processes:
        try:
            out.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return "; ".join(out)


def assert_nothing_left(processes: list[psutil.Process], port: int) -> None:
    _, alive = psutil.wait_procs(processes, timeout=GONE_TIMEOUT_S)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:  # do not leave them to the next test either
        p.kill()
    assert not alive, f"outlived the harness: {describe(alive)}"
    assert port_is_free(port), f"something still listens on {port}"


@pytest.mark.parametrize("service", [m.name for m in services()])
def test_term_then_kill_of_the_group_leaves_nothing(service: str) -> None:
    port = free_port()
    with make_serve(service, port) as proc:
        wait_until_serving(proc)
        processes = started_processes(proc)
        assert any(p.name() == "postgres" for p in processes), describe(processes)
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(1)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert_nothing_left(processes, port)


def test_kill_alone_leaves_nothing() -> None:
    """No Python code runs after SIGKILL: only the kernel's parent-death signal can clean up."""
    port = free_port()
    with make_serve("fastapi-uvicorn", port) as proc:
        wait_until_serving(proc)
        processes = started_processes(proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert_nothing_left(processes, port)


def test_term_alone_stops_everything_and_says_so() -> None:
    port = free_port()
    with make_serve("fastapi-uvicorn", port) as proc:
        wait_until_serving(proc)
        processes = started_processes(proc)
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert "interrupted; everything started was stopped" in output
    assert "Traceback" not in output
    assert_nothing_left(processes, port)


def test_an_in_process_error_spares_what_the_caller_started(tmp_path: Path) -> None:
    # A test session runs main() in-process while its own database runs; main's clean-up after an
    # error must stop only what main started (it once killed the session's PostgreSQL).
    from bench.cli import main
    from bench.common import lifetime

    theirs = subprocess.Popen(["sleep", "60"])
    try:
        lifetime.track(theirs.pid)
        assert main(["run", "no-such-service", "--results-dir", str(tmp_path)]) == 2
        assert theirs.poll() is None, "main() killed a process its caller had started"
    finally:
        theirs.kill()
        theirs.wait()
