"""psycopg's synchronous ConnectionPool for the `def` endpoints (APP_ENDPOINTS=sync).

The FastAPI project template's way: plain `def` routes that FastAPI runs on anyio's thread
pool, each blocking its worker thread on a synchronous driver. The pool, its idle check and its
error translation are the async PsycopgPool's (taskapi.db), so a request gets the same 503 and
cause when PostgreSQL is gone or the pool is exhausted.
"""

from typing import Any

import anyio.to_thread
from psycopg import Connection
from psycopg_pool import ConnectionPool

from taskapi.db import IdleCheck, psycopg_unavailable, translated
from taskapi.repository import SyncPsycopgRepository
from taskapi.settings import Settings


class SyncPsycopgPool:
    """Opened and closed with the app, like the async strategies; checked out from a thread."""

    def __init__(self, settings: Settings) -> None:
        self._check = IdleCheck(settings.db_pool_check_idle) if settings.db_pool_check else None
        self._pool: ConnectionPool[Connection[Any]] = ConnectionPool(
            settings.dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout=settings.db_pool_timeout,
            max_waiting=settings.db_pool_max_waiting,
            kwargs={
                "autocommit": True,
                "connect_timeout": max(2, round(settings.db_connect_timeout)),
            },
            check=self._check.check_sync if self._check is not None else None,
            configure=self._check.opened_sync if self._check is not None else None,
            open=False,
            name="taskapi-sync",
        )

    async def open(self) -> None:
        # wait=False returns at once (the pool fills in its own threads), so the event loop is
        # not blocked, and the service starts while PostgreSQL is down, as the async pools do.
        self._pool.open(wait=False)

    async def close(self) -> None:
        # close() joins the pool's threads: off the event loop.
        await anyio.to_thread.run_sync(self._pool.close)

    def repository(self) -> "SyncCheckout":
        return SyncCheckout(self._pool, self._check)


class SyncCheckout:
    """One pooled connection for one `with`, in the worker thread that runs the endpoint."""

    __slots__ = ("_check", "_conn", "_pool")

    def __init__(self, pool: ConnectionPool[Connection[Any]], check: IdleCheck | None) -> None:
        self._pool = pool
        self._check = check
        self._conn: Connection[Any] | None = None

    def __enter__(self) -> SyncPsycopgRepository:
        try:
            self._conn = self._pool.getconn()
        except Exception as exc:
            self._failed(exc)
            translated(exc, psycopg_unavailable)
            raise
        return SyncPsycopgRepository(self._conn)

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        conn = self._conn
        assert conn is not None
        if self._check is not None:
            self._check.used(conn)
        try:
            # putconn sees a broken connection (a restart, a kill) and replaces it.
            self._pool.putconn(conn)
        except Exception as put_exc:
            self._failed(put_exc)
            translated(put_exc, psycopg_unavailable)
            raise
        if exc is not None:
            self._failed(exc)
            translated(exc, psycopg_unavailable)

    def _failed(self, exc: BaseException) -> None:
        if self._check is not None:
            self._check.failed_by(exc)
