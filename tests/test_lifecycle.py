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
from bench.services.manifest import services
from tests.conftest import ServiceLauncher
from tests.test_unavailable import locked_tasks, wait_for_lock_waiters

STARTUP_LIMIT_S = 10.0


@pytest.mark.parametrize("service", [m.name for m in services()])
def test_sigterm_answers_in_flight_requests_and_exits_cleanly(
    launch: ServiceLauncher, database: Database, service: str
) -> None:
    name = f"lifecycle-{service}"
    env = {"DATABASE_URL": f"{database.url}?application_name={name}"}
    results: list[int] = []
    with launch(service, "pool", env=env) as running:
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
