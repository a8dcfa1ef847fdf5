"""Connection strategies (pool or per request, psycopg or asyncpg) behind one interface.

Each strategy hands out a TaskRepository inside an async context and turns every
"the database cannot give us a connection" failure into DatabaseUnavailableError,
whose cause is one of the strings in docs/api.md ("too many clients already", ...).
"""

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, Protocol

import asyncpg
import psycopg
from psycopg import AsyncConnection, Connection
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout, TooManyRequests

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


_Translation = Callable[[BaseException], "DatabaseUnavailableError | None"]


def psycopg_unavailable(exc: BaseException) -> DatabaseUnavailableError | None:
    """The 503 a psycopg failure stands for, or None when it is not the database's fault."""
    # The pool's own errors first: both are OperationalErrors too.
    if isinstance(exc, TooManyRequests):
        return DatabaseUnavailableError(POOL_QUEUE_FULL)
    if isinstance(exc, PoolTimeout):
        return DatabaseUnavailableError(POOL_TIMEOUT)
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailableError(_cause_from_message(exc.sqlstate, str(exc)))
    if isinstance(exc, OSError | TimeoutError):
        return DatabaseUnavailableError(CONNECTION_FAILED)
    return None


def _asyncpg_unavailable(exc: BaseException) -> DatabaseUnavailableError | None:
    """The 503 an asyncpg failure stands for, or None when it is not the database's fault."""
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        if sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES):
            return DatabaseUnavailableError(_cause_from_message(sqlstate, str(exc)))
        return None
    # InternalClientError ("cannot switch to state N; another operation is in progress") is how
    # asyncpg's protocol fails a query or a pool reset on a connection the server is terminating
    # (a fast shutdown mid-request); the pool discards that connection on release.
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError | OSError):
        return DatabaseUnavailableError(CONNECTION_FAILED)
    return None


def translated(exc: BaseException, unavailable: _Translation) -> None:
    """Raise the 503 `exc` stands for, chained to it; return when it stands for none."""
    error = unavailable(exc)
    if error is not None:
        raise error from exc


@contextmanager
def _psycopg_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        translated(exc, psycopg_unavailable)
        raise


@contextmanager
def asyncpg_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        translated(exc, _asyncpg_unavailable)
        raise


class _WaitingLimit:
    """Bounds how many requests may queue for a connection (0 = unbounded)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._waiting = 0

    def enter(self) -> None:
        if self._limit and self._waiting >= self._limit:
            raise DatabaseUnavailableError(POOL_QUEUE_FULL)
        self._waiting += 1

    def leave(self) -> None:
        self._waiting -= 1


class IdleCheck:
    """psycopg_pool's checkout check, run only when it can find something: on a connection that
    sat idle past `idle_s`, or on any connection last used before some connection failed (a
    restart breaks them all at once). A connection in steady use pays no round trip for it,
    as with pgxpool. idle_s=0 checks every checkout. One rule for both pools: the async pool
    takes the instance itself as its check, the synchronous one `check_sync` (its worker
    threads share the dictionary; each update is one item assignment, atomic under the GIL)."""

    def __init__(self, idle_s: float) -> None:
        self._idle_s = idle_s
        self._last_used: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._failed_at = float("-inf")

    def used(self, conn: object) -> None:
        self._last_used[conn] = time.monotonic()

    async def opened(self, conn: AsyncConnection[Any]) -> None:
        """psycopg_pool's configure hook: a new connection counts as used when it is opened."""
        self.used(conn)

    def opened_sync(self, conn: Connection[Any]) -> None:
        self.used(conn)

    def failed(self) -> None:
        self._failed_at = time.monotonic()

    def failed_by(self, exc: BaseException) -> None:
        """A busy pool is not a failed connection; anything else the driver raised may be."""
        if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, PoolTimeout | TooManyRequests):
            self.failed()

    def due(self, conn: object) -> bool:
        last_used = self._last_used.get(conn)
        return (
            last_used is None or last_used <= self._failed_at or time.monotonic() - last_used > self._idle_s
        )

    async def __call__(self, conn: AsyncConnection[Any]) -> None:
        if self.due(conn):
            await AsyncConnectionPool.check_connection(conn)

    def check_sync(self, conn: Connection[Any]) -> None:
        if self.due(conn):
            ConnectionPool.check_connection(conn)


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

    def repository(self) -> AbstractAsyncContextManager[TaskRepository]:
        return _PsycopgCheckout(self._pool, self._check)


class _PsycopgCheckout:
    """One pooled connection for one `async with`, written as a class: the generator-based
    context managers it replaces cost a generator and two nested `with`s on every request
    (docs/profiles/)."""

    __slots__ = ("_check", "_conn", "_pool")

    def __init__(self, pool: AsyncConnectionPool[Any], check: IdleCheck | None) -> None:
        self._pool = pool
        self._check = check
        self._conn: AsyncConnection[Any] | None = None

    async def __aenter__(self) -> TaskRepository:
        try:
            self._conn = await self._pool.getconn()
        except Exception as exc:
            self._failed(exc)
            translated(exc, psycopg_unavailable)
            raise
        return PsycopgRepository(self._conn)

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        conn = self._conn
        assert conn is not None
        if self._check is not None:
            self._check.used(conn)
        try:
            # putconn sees a broken connection (a restart, a kill) and replaces it.
            await self._pool.putconn(conn)
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

    def repository(self) -> AbstractAsyncContextManager[TaskRepository]:
        if self._pool is None:
            raise RuntimeError("database not opened")
        return _AsyncpgCheckout(self._pool, self._queue, self._settings.db_pool_timeout)


class _AsyncpgCheckout:
    """One pooled asyncpg connection for one `async with`, a class for the reason given at
    _PsycopgCheckout."""

    __slots__ = ("_conn", "_pool", "_queue", "_timeout")

    def __init__(self, pool: asyncpg.Pool, queue: _WaitingLimit, timeout: float) -> None:
        self._pool = pool
        self._queue = queue
        self._timeout = timeout
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> TaskRepository:
        self._queue.enter()
        try:
            self._conn = await self._pool.acquire(timeout=self._timeout)
        except TimeoutError as exc:
            raise DatabaseUnavailableError(POOL_TIMEOUT) from exc
        except Exception as exc:
            translated(exc, _asyncpg_unavailable)
            raise
        finally:
            self._queue.leave()
        return AsyncpgRepository(self._conn)

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            await self._pool.release(self._conn)
        except Exception as release_exc:
            translated(release_exc, _asyncpg_unavailable)
            raise
        if exc is not None:
            translated(exc, _asyncpg_unavailable)


def create_database(settings: Settings) -> Database:
    strategies: dict[tuple[str, str], type[Database]] = {
        ("psycopg", "per-request"): PsycopgPerRequest,
        ("psycopg", "pool"): PsycopgPool,
        ("asyncpg", "per-request"): AsyncpgPerRequest,
        ("asyncpg", "pool"): AsyncpgPool,
    }
    return strategies[(settings.db_driver, settings.db_strategy)](settings)  # type: ignore[call-arg]
