"""SQLAlchemy engines configured to pay what the raw drivers pay, and their failures as 503s.

What each choice saves (docs/per-request-costs.md, counted by tests/test_per_request_costs.py):
- AUTOCOMMIT isolation: no BEGIN before and no COMMIT or ROLLBACK after a statement, as with
  the drivers' autocommit connections; each statement is one round trip. The pool's rollback
  on return then finds no transaction and sends nothing.
- no pool_pre_ping (a query on every checkout): instead the drivers' own rules, a connection
  the server closed is seen closed (asyncpg) or one idle past DB_POOL_CHECK_IDLE is pinged
  (psycopg); and SQLAlchemy's own reaction to a failed connection, which marks every pooled
  connection opened before it stale, so a restart is ridden out without a check per request.
- connections made by the driver's own connect(DATABASE_URL), so the URL's parameters
  (application_name, sslmode) mean what they mean to the raw strategies.
"""

import time
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import psycopg
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from taskapi.db import (
    CONNECTION_FAILED,
    POOL_TIMEOUT,
    DatabaseUnavailableError,
    _asyncpg_unavailable,
    psycopg_unavailable,
)
from taskapi.settings import Settings

_USED_AT = "fastapi_load_used_at"
# How far down a chain of wrapped exceptions the driver's own error is looked for.
_CHAIN_DEPTH = 4


def _pool_options(settings: Settings) -> dict[str, Any]:
    return {
        "isolation_level": "AUTOCOMMIT",
        "pool_size": settings.db_pool_max,
        "max_overflow": 0,
        "pool_timeout": settings.db_pool_timeout,
        "pool_pre_ping": False,
    }


def create_asyncpg_engine(settings: Settings) -> AsyncEngine:
    dsn, timeout = settings.dsn, settings.db_connect_timeout

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, timeout=timeout)

    engine = create_async_engine("postgresql+asyncpg://", async_creator=connect, **_pool_options(settings))
    if settings.db_pool_check:
        event.listen(engine.sync_engine, "checkout", _closed_check)
    return engine


def create_psycopg_engine(settings: Settings) -> Engine:
    dsn, timeout = settings.dsn, max(2, round(settings.db_connect_timeout))

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=timeout)

    engine = create_engine("postgresql+psycopg://", creator=connect, **_pool_options(settings))
    if settings.db_pool_check:
        _IdlePing(engine.dialect, settings.db_pool_check_idle).listen(engine)
    return engine


def _closed_check(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
    """asyncpg.Pool's rule: a connection whose socket the server closed is replaced before use,
    at no round trip (asyncpg reads the socket and knows)."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        # A closed connection usually means a restart: every older connection is stale too.
        raise exc.InvalidatePoolError("closed by the server")


class _IdlePing:
    """psycopg_pool's rule (db.IdleCheck): ping a connection on checkout only when it sat idle
    past `idle_s`; 0 pings on every checkout. "Used before another connection failed" is
    SQLAlchemy's own: a disconnect invalidates every connection opened before it."""

    def __init__(self, dialect: Dialect, idle_s: float) -> None:
        self._dialect = dialect
        self._idle_s = idle_s

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "connect", self._used)
        event.listen(engine, "checkin", self._used)
        event.listen(engine, "checkout", self._checkout)

    def _used(self, dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_USED_AT] = time.monotonic()

    def _checkout(
        self, dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        used_at = record.info.get(_USED_AT, float("-inf"))
        if time.monotonic() - used_at <= self._idle_s:
            return
        try:
            self._dialect.do_ping(dbapi_connection)
        except psycopg.Error as failed:
            raise exc.InvalidatePoolError("ping failed") from failed


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, then what it wraps: SQLAlchemy's DBAPIError holds the driver's error (or, for
    asyncpg, an adapter whose __cause__ is asyncpg's) in .orig."""
    seen: BaseException | None = error
    for _ in range(_CHAIN_DEPTH):
        if seen is None:
            return
        yield seen
        seen = seen.orig if isinstance(seen, exc.DBAPIError) else seen.__cause__


_DRIVER_TRANSLATIONS: tuple[Callable[[BaseException], DatabaseUnavailableError | None], ...] = (
    _asyncpg_unavailable,
    psycopg_unavailable,
)


def sqlalchemy_unavailable(error: BaseException) -> DatabaseUnavailableError | None:
    """The 503 a failure under SQLAlchemy stands for (the causes of docs/api.md), or None."""
    if isinstance(error, exc.TimeoutError):  # QueuePool: no connection within pool_timeout
        return DatabaseUnavailableError(POOL_TIMEOUT)
    for link in _chain(error):
        for translate in _DRIVER_TRANSLATIONS:
            if (unavailable := translate(link)) is not None:
                return unavailable
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return DatabaseUnavailableError(CONNECTION_FAILED)
    return None


def raise_unavailable(error: BaseException) -> None:
    """Raise the 503 `error` stands for, chained to it; return when it stands for none."""
    unavailable = sqlalchemy_unavailable(error)
    if unavailable is not None:
        raise unavailable from error
