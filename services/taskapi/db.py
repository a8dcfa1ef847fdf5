"""Connection strategies (pool or per request, psycopg or asyncpg) behind one interface.

Each strategy hands out a TaskRepository inside an async context and turns every
"the database cannot give us a connection" failure into DatabaseUnavailableError,
whose cause is one of the strings in docs/api.md ("too many clients already", ...).
"""

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, Protocol

import asyncpg
import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from taskapi.repository import AsyncpgRepository, PsycopgRepository, TaskRepository
from taskapi.settings import Settings

TOO_MANY_CLIENTS = "too many clients already"
POOL_TIMEOUT = "pool timeout"
POOL_QUEUE_FULL = "pool queue full"
CONNECTION_FAILED = "connection failed"
_SQLSTATE_TOO_MANY_CONNECTIONS = "53300"
# Connection exceptions (08), operator intervention such as a restart (57), and
# insufficient resources (53): the database, not the request, is at fault.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


class DatabaseUnavailableError(Exception):
    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class Database(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def repository(self) -> AbstractAsyncContextManager[TaskRepository]: ...


def _cause_from_message(sqlstate: str | None, message: str) -> str:
    # libpq reports a refused connection as text only, without a SQLSTATE.
    if sqlstate == _SQLSTATE_TOO_MANY_CONNECTIONS or "too many clients" in message:
        return TOO_MANY_CLIENTS
    return CONNECTION_FAILED


@contextmanager
def _psycopg_errors() -> Iterator[None]:
    try:
        yield
    except TooManyRequests as exc:
        raise DatabaseUnavailableError(POOL_QUEUE_FULL) from exc
    except PoolTimeout as exc:
        raise DatabaseUnavailableError(POOL_TIMEOUT) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(_cause_from_message(exc.sqlstate, str(exc))) from exc
    except (OSError, TimeoutError) as exc:
        raise DatabaseUnavailableError(CONNECTION_FAILED) from exc


@contextmanager
def asyncpg_errors() -> Iterator[None]:
    try:
        yield
    except asyncpg.PostgresError as exc:
        sqlstate = getattr(exc, "sqlstate", None) or ""
        if not sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES):
            raise
        raise DatabaseUnavailableError(_cause_from_message(sqlstate, str(exc))) from exc
    # InternalClientError ("cannot switch to state N; another operation is in progress") is how
    # asyncpg's protocol fails a query or a pool reset on a connection the server is terminating
    # (a fast shutdown mid-request); the pool discards that connection on release.
    except (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
        raise DatabaseUnavailableError(CONNECTION_FAILED) from exc


class _WaitingLimit:
    """Bounds how many requests may queue for a connection (0 = unbounded)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._waiting = 0

    @contextmanager
    def waiting(self) -> Iterator[None]:
        if self._limit and self._waiting >= self._limit:
            raise DatabaseUnavailableError(POOL_QUEUE_FULL)
        self._waiting += 1
        try:
            yield
        finally:
            self._waiting -= 1


class IdleCheck:
    """psycopg_pool's checkout check, run only when it can find something: on a connection that
    sat idle past `idle_s`, or on any connection last used before some connection failed (a
    restart breaks them all at once). A connection in steady use pays no round trip for it,
    as with pgxpool. idle_s=0 checks every checkout."""

    def __init__(self, idle_s: float) -> None:
        self._idle_s = idle_s
        self._last_used: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = weakref.WeakKeyDictionary()
        self._failed_at = float("-inf")

    def used(self, conn: AsyncConnection[Any]) -> None:
        self._last_used[conn] = time.monotonic()

    async def opened(self, conn: AsyncConnection[Any]) -> None:
        """psycopg_pool's configure hook: a new connection counts as used when it is opened."""
        self.used(conn)

    def failed(self) -> None:
        self._failed_at = time.monotonic()

    async def __call__(self, conn: AsyncConnection[Any]) -> None:
        last_used = self._last_used.get(conn)
        if last_used is None or last_used <= self._failed_at or time.monotonic() - last_used > self._idle_s:
            await AsyncConnectionPool.check_connection(conn)


class PsycopgPerRequest:
    """The write-up's first version: connect, run one statement, disconnect."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @asynccontextmanager
    async def repository(self) -> AsyncIterator[TaskRepository]:
        timeout = self._settings.db_connect_timeout
        with _psycopg_errors():
            # libpq rounds connect_timeout to whole seconds (minimum 2), so the
            # asyncio deadline is what enforces DB_CONNECT_TIMEOUT exactly.
            conn = await asyncio.wait_for(
                AsyncConnection.connect(
                    self._settings.dsn, autocommit=True, connect_timeout=max(2, round(timeout))
                ),
                timeout,
            )
            async with conn:
                yield PsycopgRepository(conn)


class PsycopgPool:
    """psycopg_pool, opened and closed with the app; checks a connection on checkout when it
    may have gone stale (see IdleCheck), so the pool rides out a PostgreSQL restart."""

    def __init__(self, settings: Settings) -> None:
        self._check = IdleCheck(settings.db_pool_check_idle) if settings.db_pool_check else None
        self._pool = AsyncConnectionPool(
            settings.dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout=settings.db_pool_timeout,
            max_waiting=settings.db_pool_max_waiting,
            kwargs={
                "autocommit": True,
                "connect_timeout": max(2, round(settings.db_connect_timeout)),
            },
            check=self._check,
            configure=self._check.opened if self._check is not None else None,
            open=False,
            name="taskapi",
        )

    async def open(self) -> None:
        # wait=False: the service starts even while PostgreSQL is down; requests get 503s
        # until it is back, instead of the process failing to boot.
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def repository(self) -> AsyncIterator[TaskRepository]:
        with _psycopg_errors():
            try:
                async with self._pool.connection() as conn:
                    try:
                        yield PsycopgRepository(conn)
                    finally:
                        if self._check is not None:
                            self._check.used(conn)
            except (PoolTimeout, TooManyRequests):
                raise  # the pool was busy; no connection failed
            except psycopg.OperationalError:
                if self._check is not None:
                    self._check.failed()
                raise


class AsyncpgPerRequest:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @asynccontextmanager
    async def repository(self) -> AsyncIterator[TaskRepository]:
        with asyncpg_errors():
            try:
                conn = await asyncpg.connect(self._settings.dsn, timeout=self._settings.db_connect_timeout)
            except TimeoutError as exc:
                raise DatabaseUnavailableError(CONNECTION_FAILED) from exc
            try:
                yield AsyncpgRepository(conn)
            finally:
                await conn.close()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A reset that sends nothing: the app sets no session state, and asyncpg still rolls back
    an open transaction before calling it."""


class AsyncpgPool:
    """asyncpg's own pool; acquire is bounded by DB_POOL_TIMEOUT like psycopg_pool's. Its
    release-time reset query (a round trip per request) runs only with DB_POOL_RESET=1."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: asyncpg.Pool | None = None
        self._queue = _WaitingLimit(settings.db_pool_max_waiting)

    async def open(self) -> None:
        s = self._settings
        reset = None if s.db_pool_reset else _keep_session
        self._pool = asyncpg.create_pool(
            s.dsn,
            min_size=min(s.db_pool_min, s.db_pool_max),
            max_size=s.db_pool_max,
            timeout=s.db_connect_timeout,
            reset=reset,
        )
        # Like psycopg_pool's wait=False: failing to pre-open connections must not stop
        # the service from starting; acquire reconnects later.
        try:
            await self._pool
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            await self._pool.close()
            self._pool = asyncpg.create_pool(
                s.dsn, min_size=0, max_size=s.db_pool_max, timeout=s.db_connect_timeout, reset=reset
            )
            await self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @asynccontextmanager
    async def repository(self) -> AsyncIterator[TaskRepository]:
        if self._pool is None:
            raise RuntimeError("database not opened")
        with asyncpg_errors():
            with self._queue.waiting():
                try:
                    conn = await self._pool.acquire(timeout=self._settings.db_pool_timeout)
                except TimeoutError as exc:
                    raise DatabaseUnavailableError(POOL_TIMEOUT) from exc
            try:
                yield AsyncpgRepository(conn)
            finally:
                await self._pool.release(conn)


def create_database(settings: Settings) -> Database:
    strategies: dict[tuple[str, str], type[Database]] = {
        ("psycopg", "per-request"): PsycopgPerRequest,
        ("psycopg", "pool"): PsycopgPool,
        ("asyncpg", "per-request"): AsyncpgPerRequest,
        ("asyncpg", "pool"): AsyncpgPool,
    }
    return strategies[(settings.db_driver, settings.db_strategy)](settings)  # type: ignore[call-arg]
