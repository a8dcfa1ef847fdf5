"""Every service starts fast, finishes in-flight requests on SIGTERM, exits 0 and leaves nothing."""

import signal
import threading
import time

import httpx
import psutil
import psycopg
import pytest

from bench.common.ports import port_is_free
from bench.database.server import Database
from bench.services.manifest import SERVER_SETTINGS as SERVER_FLAGS
from bench.services.manifest import services
from bench.services.stack import RunningService
from tests.conftest import ServiceLauncher
from tests.test_unavailable import locked_tasks, wait_for_lock_waiters

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

STARTUP_LIMIT_S = 10.0
# The server settings of the servers comparison: other processes and threads to stop cleanly.
SERVER_SETTINGS = [(service, flag) for service, flags in SERVER_FLAGS.items() for flag in flags]
LIFECYCLE = [(m.name, "pool") for m in services()] + [(s, f"pool+{v}") for s, v in SERVER_SETTINGS]


@pytest.mark.parametrize(("service", "variant"), LIFECYCLE, ids=[f"{s}:{v}" for s, v in LIFECYCLE])
def test_sigterm_answers_in_flight_requests_and_exits_cleanly(
    launch: ServiceLauncher, database: Database, service: str, variant: str
) -> None:
    name = f"lifecycle-{service}-{variant}"
    env = {"DATABASE_URL": f"{database.url}?application_name={name}"}
    results: list[int] = []
    with launch(service, variant, env=env) as running:
        process = running.process
        assert process.startup_seconds is not None
        assert process.startup_seconds < STARTUP_LIMIT_S
        tree = process.tree()
        popen = process.process
        assert popen is not None
        with locked_tasks(database.url):
            in_flight = threading.Thread(
                target=lambda: results.append(httpx.get(f"{running.url}/tasks/", timeout=30).status_code)
            )
            in_flight.start()
            wait_for_lock_waiters(database.url, name, 1)
            popen.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the server is now draining, with our request still blocked in the database
        in_flight.join(timeout=30)
        started = time.monotonic()
        code = popen.wait(timeout=running.launch.grace_seconds)
        assert time.monotonic() - started < running.launch.grace_seconds
    assert results == [200], "the in-flight request is answered, not dropped"
    # uvicorn re-raises the signal it caught once its graceful shutdown is done, so it ends
    # "killed by SIGTERM"; with the in-flight request answered above, that is still a clean stop.
    assert code in (0, -signal.SIGTERM), f"{service} exited with {code} after SIGTERM"
    _, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive, f"left behind: {alive}"
    assert port_is_free(int(running.url.rsplit(":", 1)[1])), "nothing listens on the port any more"
    with psycopg.connect(database.url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    assert row is not None
    assert row[0] == 0, "its connections are closed"


def _worker_threads(running: RunningService) -> int:
    return max(p.num_threads() for p in running.process.tree())


SETTING_IDS = [f"{s}:{v}" for s, v in SERVER_SETTINGS]


@pytest.mark.parametrize(("service", "variant"), SERVER_SETTINGS, ids=SETTING_IDS)
def test_server_settings_run_what_they_say(launch: ServiceLauncher, service: str, variant: str) -> None:
    """Each variant changes what serves the requests, seen from outside: another worker class
    answers, more processes or more threads run. A flag the server ignored would fail here."""
    with launch(service, variant) as running:
        server = httpx.get(f"{running.url}/ping/").headers.get("server", "")
        processes = len(running.process.tree())
        threads = _worker_threads(running)
    with launch(service, "default") as default:
        default_server = httpx.get(f"{default.url}/ping/").headers.get("server", "")
        default_processes = len(default.process.tree())
        default_threads = _worker_threads(default)
    if variant == "asgi-worker":
        assert (default_server, server) == ("uvicorn", "gunicorn/asgi")
        assert processes == default_processes
    elif variant == "workers":
        assert running.launch.workers == 2
        assert processes >= default_processes + 1, f"{processes} processes, default {default_processes}"
    else:
        assert processes == default_processes
        assert threads > default_threads, f"{threads} threads in a worker, default {default_threads}"
