"""SQLAlchemy 2 on its async engine over asyncpg: Core statements, or the ORM with an AsyncSession
per request. Each hands out a TaskRepository like the strategies of db.py, so routes stay shared."""

from contextlib import AbstractAsyncContextManager

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from taskapi.repository import TaskRepository, TaskRow
from taskapi.sa_engine import create_asyncpg_engine, raise_unavailable
from taskapi.sa_models import ORM_LIST, Task, task_row, tasks
from taskapi.settings import Settings

# Built once, as sa_models.ORM_LIST: the same statements as repository.py's.
_COLUMNS = (tasks.c.id, tasks.c.title, tasks.c.description, tasks.c.done, tasks.c.created_at)
_CORE_LIST = (
    select(*_COLUMNS).where(tasks.c.id > bindparam("after_id")).order_by(tasks.c.id).limit(bindparam("limit"))
)
_CORE_CREATE = insert(tasks).returning(*_COLUMNS)


class CoreRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def list_after(self, after_id: int, limit: int) -> list[TaskRow]:
        result = await self._conn.execute(_CORE_LIST, {"after_id": after_id, "limit": limit})
        return [TaskRow(*row) for row in result]

    async def create(self, title: str, description: str) -> TaskRow:
        result = await self._conn.execute(_CORE_CREATE, {"title": title, "description": description})
        return TaskRow(*result.one())


class OrmRepository:
    """Mapped Task objects in and out."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list_after(self, after_id: int, limit: int) -> list[TaskRow]:
        found = await self._session.scalars(ORM_LIST, {"after_id": after_id, "limit": limit})
        return [task_row(task) for task in found]

    async def create(self, title: str, description: str) -> TaskRow:
        task = Task(title=title, description=description)
        self._session.add(task)
        # The flush's INSERT ... RETURNING fills id, done and created_at (eager_defaults); the
        # commit sends nothing on an AUTOCOMMIT connection, and expire_on_commit=False keeps
        # the attributes instead of reloading them with a SELECT.
        await self._session.commit()
        return task_row(task)


class _CoreCheckout:
    """One pooled connection for one `async with`, failures turned into 503s; a class for the
    reason given at db._PsycopgCheckout."""

    __slots__ = ("_conn", "_engine")

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> TaskRepository:
        conn = self._engine.connect()
        try:
            await conn.start()
        except Exception as exc:
            raise_unavailable(exc)
            raise
        self._conn = conn
        return CoreRepository(conn)

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        assert self._conn is not None
        try:
            await self._conn.close()
        except Exception as close_exc:
            raise_unavailable(close_exc)
            raise
        if exc is not None:
            raise_unavailable(exc)


class _SessionScope:
    """An AsyncSession for one `async with`; it takes a connection at its first statement."""

    __slots__ = ("_session",)

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def __aenter__(self) -> TaskRepository:
        return OrmRepository(self._session)

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            await self._session.close()
        except Exception as close_exc:
            raise_unavailable(close_exc)
            raise
        if exc is not None:
            raise_unavailable(exc)


class _AsyncEngineDatabase:
    """The engine is made when the app opens (after a server's fork), disposed when it closes."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: AsyncEngine | None = None

    async def open(self) -> None:
        # Like the drivers' pools with wait=False: no connection is made until a request wants
        # one, so the service starts while PostgreSQL is down and answers 503 until it is back.
        self._engine = create_asyncpg_engine(self._settings)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("database not opened")
        return self._engine


class SqlAlchemyCore(_AsyncEngineDatabase):
    def repository(self) -> AbstractAsyncContextManager[TaskRepository]:
        return _CoreCheckout(self.engine)


class SqlAlchemyOrm(_AsyncEngineDatabase):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    async def open(self) -> None:
        await super().open()
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def repository(self) -> AbstractAsyncContextManager[TaskRepository]:
        if self._sessions is None:
            raise RuntimeError("database not opened")
        return _SessionScope(self._sessions())
