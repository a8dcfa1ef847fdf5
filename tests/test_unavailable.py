"""503 instead of 500s or hangs when the database cannot give a connection, on every stack."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from bench.common.ports import free_port
from bench.database.migrate import migrate_up
from bench.database.server import Database, embedded_database
from bench.services.stack import StackOptions, start_service
from tests.conftest import ServiceLauncher, application_name
from tests.contract.targets import data_layer_targets, database_targets

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

LAYERS = data_layer_targets()
# DB_POOL_MAX_WAITING is not wired for SQLAlchemy's pool (its settings refuse it), so the queue
# test keeps to the drivers' pools.
QUEUED = [t for t in database_targets() if t[1] != "per-request"]
POOLED = [*QUEUED, *LAYERS]
PER_REQUEST = [t for t in database_targets() if t[1] == "per-request"]
# A refused connection reaches a request wherever a connection is opened for it: per request, or
# a pool opening its first connection (SQLAlchemy's pools open none before a request asks).
REFUSED = [*PER_REQUEST, *LAYERS]
EVERY_LAYER = [*database_targets(), *LAYERS]
MARGIN_S = 1.5


def ids(targets: list[tuple[str, str]]) -> list[str]:
    return [f"{s}:{v}" for s, v in targets]


def assert_unavailable(response: httpx.Response, cause: str | None = None) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    detail = response.json()["detail"]
    assert detail.startswith("database unavailable: ")
    if cause is not None:
        assert detail == f"database unavailable: {cause}"


@contextmanager
def locked_tasks(url: str) -> Iterator[None]:
    """Hold an exclusive lock so the app's queries block while holding their connection."""
    with psycopg.connect(url) as conn:
        conn.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


def wait_for_lock_waiters(url: str, app: str, count: int) -> None:
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND wait_event_type = 'Lock'",
                (app,),
            ).fetchone()
            if row and row[0] >= count:
                return
            time.sleep(0.02)
    raise AssertionError(f"{count} queries never blocked on the lock")


def in_background(url: str, results: list[int]) -> threading.Thread:
    def run() -> None:
        results.append(httpx.get(url, timeout=30).status_code)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def with_app_name(database: Database, name: str) -> str:
    return f"{database.url}?application_name={name}"


@pytest.mark.parametrize(("service", "variant"), POOLED, ids=ids(POOLED))
def test_pool_timeout_is_503_within_the_timeout(
    launch: ServiceLauncher, database: Database, service: str, variant: str
) -> None:
    name = application_name(service, f"{variant}-timeout")
    env = {"DATABASE_URL": with_app_name(database, name), "DB_POOL_MAX": "1", "DB_POOL_TIMEOUT": "0.5"}
    with launch(service, variant, workers=1, env=env) as running:
        url = f"{running.url}/tasks/"
        assert httpx.get(url).status_code == 200
        results: list[int] = []
        with locked_tasks(database.url):
            holder = in_background(url, results)
            wait_for_lock_waiters(database.url, name, 1)
            started = time.monotonic()
            response = httpx.get(url, timeout=30)
            elapsed = time.monotonic() - started
        holder.join()
    assert_unavailable(response, "pool timeout")
    assert elapsed < 0.5 + MARGIN_S, f"503 came after {elapsed:.2f}s"
    assert results == [200], "the request holding the connection completes once the lock is gone"


@pytest.mark.parametrize(("service", "variant"), QUEUED, ids=ids(QUEUED))
def test_full_pool_queue_is_503_at_once(
    launch: ServiceLauncher, database: Database, service: str, variant: str
) -> None:
    name = application_name(service, f"{variant}-queue")
    env = {
        "DATABASE_URL": with_app_name(database, name),
        "DB_POOL_MAX": "1",
        "DB_POOL_TIMEOUT": "10",
        "DB_POOL_MAX_WAITING": "1",
    }
    with launch(service, variant, workers=1, env=env) as running:
        url = f"{running.url}/tasks/"
        assert httpx.get(url).status_code == 200
        results: list[int] = []
        with locked_tasks(database.url):
            holder = in_background(url, results)
            wait_for_lock_waiters(database.url, name, 1)
            waiter = in_background(url, results)
            time.sleep(0.3)  # let the second request join the queue; no observable signal for it
            started = time.monotonic()
            response = httpx.get(url, timeout=30)
            elapsed = time.monotonic() - started
        holder.join()
        waiter.join()
    assert_unavailable(response, "pool queue full")
    assert elapsed < MARGIN_S
    assert sorted(results) == [200, 200]


@pytest.mark.parametrize(("service", "variant"), REFUSED, ids=ids(REFUSED))
def test_too_many_clients_is_503_naming_the_cause(
    launch: ServiceLauncher, database: Database, service: str, variant: str
) -> None:
    with launch(service, variant) as running:
        hogs: list[psycopg.Connection] = []
        try:
            for _ in range(200):
                try:
                    hogs.append(psycopg.connect(database.url, autocommit=True))
                except psycopg.OperationalError as exc:
                    refusal = str(exc)
                    break
            else:
                pytest.fail("max_connections never reached")
            assert "too many clients" in refusal
            response = httpx.get(f"{running.url}/tasks/", timeout=30)
            create = httpx.post(f"{running.url}/tasks/", json={"title": "refused"}, timeout=30)
        finally:
            for conn in hogs:
                conn.close()
        assert_unavailable(response, "too many clients already")
        assert_unavailable(create, "too many clients already")
        assert httpx.get(f"{running.url}/tasks/", timeout=30).status_code == 200


@pytest.mark.parametrize(("service", "variant"), EVERY_LAYER, ids=ids(EVERY_LAYER))
def test_unreachable_database_is_503_not_a_hang(launch: ServiceLauncher, service: str, variant: str) -> None:
    dead = f"postgresql://app:secret@127.0.0.1:{free_port()}/tasks"
    env = {"DATABASE_URL": dead, "DB_POOL_TIMEOUT": "1", "DB_CONNECT_TIMEOUT": "1"}
    with launch(service, variant, env=env) as running:
        assert httpx.get(f"{running.url}/ping/").status_code == 200
        started = time.monotonic()
        response = httpx.get(f"{running.url}/tasks/", timeout=30)
        elapsed = time.monotonic() - started
    assert_unavailable(response)
    assert elapsed < 1 + MARGIN_S


@pytest.mark.parametrize(("service", "variant"), EVERY_LAYER, ids=ids(EVERY_LAYER))
def test_service_recovers_after_postgres_restart(
    service: str, variant: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with embedded_database() as db:
        migrate_up(db.url)
        assert db.cluster is not None
        options = StackOptions(service=service, variant=variant, seed=0)
        with start_service(options, db, tmp_path_factory.mktemp("restart")) as running:
            client = httpx.Client(base_url=running.url, timeout=10)
            assert client.post("/tasks/", json={"title": "before restart"}).status_code == 201
            db.cluster.restart()
            restarted = time.monotonic()
            statuses: list[int] = []
            while time.monotonic() - restarted < 15:
                status = client.get("/tasks/").status_code
                statuses.append(status)
                if statuses[-5:] == [200] * 5:
                    break
                assert status in (200, 503), f"only 503s may show the outage, got {status}"
            client.close()
        assert statuses[-5:] == [200] * 5, f"never recovered: {statuses[-10:]}"
        assert statuses.count(503) <= 10, "the outage must stay short once PostgreSQL is back"
