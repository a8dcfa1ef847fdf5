"""The FastAPI template's data layer: a synchronous SQLAlchemy ORM Session per request on psycopg.

Its calls block, so only `def` routes use it (session_routes.py), in FastAPI's thread pool.
"""

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from taskapi.repository import TaskRow
from taskapi.sa_engine import create_psycopg_engine, raise_unavailable
from taskapi.sa_models import ORM_LIST, Task, task_row
from taskapi.settings import Settings


class SessionRepository:
    """The two statements through a Session; a failure of the database becomes its 503 where it
    happens, so the route's exception handler sees it whatever the dependency does on exit."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def list_after(self, after_id: int, limit: int) -> list[TaskRow]:
        try:
            found = self._session.scalars(ORM_LIST, {"after_id": after_id, "limit": limit})
            return [task_row(task) for task in found]
        except Exception as exc:
            raise_unavailable(exc)
            raise

    def create(self, title: str, description: str) -> TaskRow:
        task = Task(title=title, description=description)
        try:
            self._session.add(task)
            # One round trip, as in sa_async.OrmRepository: RETURNING fills the defaults, the
            # commit sends nothing (AUTOCOMMIT), nothing is expired. The template's
            # session.refresh(task) after commit would be a SELECT more.
            self._session.commit()
        except Exception as exc:
            raise_unavailable(exc)
            raise
        return task_row(task)


class SessionDatabase:
    """The engine is made when the app opens (after a server's fork), disposed when it closes;
    a Session takes a connection at its first statement, not before."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    async def open(self) -> None:
        self._engine = create_psycopg_engine(self._settings)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    async def close(self) -> None:
        if self._engine is not None:
            # Closes the idle pooled sockets: no round trip to wait for, so not worth a thread.
            self._engine.dispose()

    def session(self) -> Session:
        if self._sessions is None:
            raise RuntimeError("database not opened")
        return self._sessions()
