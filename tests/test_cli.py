"""The CLI as users meet it: serve works, and bad input is one clear line with nothing left behind."""

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from bench.common.ports import free_port, port_is_free
from bench.database.binaries import MISSING_MESSAGE, _newest_debian_bindir
from tests.conftest import CLI, cli

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow


def pg_run_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("fastapi-load-pg-*"))


def assert_one_clear_line(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fastapi-load: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in proc.stderr


@contextmanager
def occupied_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_list_names_every_service() -> None:
    proc = cli("list")
    assert proc.returncode == 0
    for name in ("fastapi-uvicorn", "fastapi-granian", "fastapi-gunicorn"):
        assert name in proc.stdout


def test_unknown_service_lists_the_known_ones() -> None:
    proc = cli("serve", "flask")
    assert_one_clear_line(proc, "unknown service 'flask'; known services: ")
    assert "fastapi-uvicorn" in proc.stderr


def test_unknown_variant_lists_the_known_ones() -> None:
    proc = cli("serve", "fastapi-uvicorn", "--variant", "turbo")
    assert_one_clear_line(proc, "unknown variant 'turbo'")
    assert "per-request" in proc.stderr


def test_wrong_database_url_is_one_line_and_leaves_nothing() -> None:
    before = pg_run_dirs()
    proc = cli(
        "serve",
        "taskapi",
        "--port",
        str(free_port()),
        env={"DATABASE_URL": f"postgresql://app:nope@127.0.0.1:{free_port()}/tasks"},
    )
    assert_one_clear_line(proc, "cannot connect to DATABASE_URL")
    assert not pg_run_dirs() - before, "no cluster directory is left"


def test_taken_port_is_one_line_and_leaves_nothing() -> None:
    before = pg_run_dirs()
    with occupied_port() as port:
        proc = cli("serve", "taskapi", "--port", str(port))
    assert_one_clear_line(proc, f"port {port} on 127.0.0.1 is already in use")
    # Stale directories of killed runs may be swept meanwhile; none may be added.
    assert not pg_run_dirs() - before, "the embedded cluster must be deleted"
    # A postmaster whose data directory is gone was orphaned (other runs may be going on).
    orphans = [
        p
        for p in psutil.process_iter(["cmdline"])
        for arg in p.info["cmdline"] or []
        if "fastapi-load-pg-" in arg and not Path(arg).exists()
    ]
    assert not orphans, "no PostgreSQL may survive"


def test_missing_postgres_binaries_is_one_line(tmp_path: Path) -> None:
    proc = cli("serve", "taskapi", "--port", str(free_port()), env={"PG_BIN": str(tmp_path)})
    assert_one_clear_line(proc, f"PG_BIN={tmp_path} does not hold initdb")


def test_no_binaries_anywhere_says_what_to_install(tmp_path: Path) -> None:
    assert _newest_debian_bindir(tmp_path) is None
    assert "install PostgreSQL" in MISSING_MESSAGE
    assert "PG_BIN" in MISSING_MESSAGE


def test_serve_answers_then_stops_everything_on_ctrl_c() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "taskapi", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
    )
    try:
        deadline = time.monotonic() + 60
        page = None
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/tasks/", params={"limit": 100}).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert page is not None, "serve never answered"
        assert len(page["items"]) == 100
        tree = psutil.Process(proc.pid).children(recursive=True)
        assert tree, "serve runs the database and the service as children"
        # This run's own cluster directory (other runs may create theirs meanwhile).
        ours = {Path(arg).parent for p in tree for arg in p.cmdline() if "fastapi-load-pg-" in arg}
        assert ours, "the embedded cluster runs from a fastapi-load-pg-* directory"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err
    _gone, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive, f"left running: {alive}"
    assert not any(d.exists() for d in ours), "the cluster directory is deleted"
    assert port_is_free(port), "nothing listens on the port any more"
