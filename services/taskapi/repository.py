"""The two SQL statements of the API, one implementation per driver; no FastAPI here."""

from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from psycopg import AsyncConnection, Connection
from psycopg.rows import RowMaker

from taskapi.models import Timestamp

# The same two statements as go-gin/store.go, with the same $n placeholders.
LIST_SQL = "SELECT id, title, description, done, created_at FROM tasks WHERE id > $1 ORDER BY id LIMIT $2"
CREATE_SQL = (
    "INSERT INTO tasks (title, description) VALUES ($1, $2) "
    "RETURNING id, title, description, done, created_at"
)


def _psycopg_placeholders(sql: str) -> str:
    return sql.replace("$1", "%s").replace("$2", "%s")


_PSYCOPG_LIST = _psycopg_placeholders(LIST_SQL)
_PSYCOPG_CREATE = _psycopg_placeholders(CREATE_SQL)


@dataclass(slots=True)
class TaskRow:
    """A row as the driver returns it; `Timestamp` lets a TypeAdapter write it as the API's Task.

    Not frozen: a frozen dataclass sets each field through object.__setattr__, five times the
    cost of a plain __init__, paid for every row of every page (docs/profiles/)."""

    id: int
    title: str
    description: str
    done: bool
    created_at: Timestamp


def _task_rows(_: Any) -> RowMaker[TaskRow]:
    """A psycopg row factory that builds TaskRow from the columns in order: class_row passes
    them by keyword, a dict per row. The SELECT lists the columns in TaskRow's order."""
    return _task_row


def _task_row(values: Any) -> TaskRow:
    return TaskRow(*values)


class TaskRepository(Protocol):
    async def list_after(self, after_id: int, limit: int) -> list[TaskRow]: ...

    async def create(self, title: str, description: str) -> TaskRow: ...


class PsycopgRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def list_after(self, after_id: int, limit: int) -> list[TaskRow]:
        async with self._conn.cursor(row_factory=_task_rows) as cur:
            await cur.execute(_PSYCOPG_LIST, (after_id, limit))
            return await cur.fetchall()

    async def create(self, title: str, description: str) -> TaskRow:
        async with self._conn.cursor(row_factory=_task_rows) as cur:
            await cur.execute(_PSYCOPG_CREATE, (title, description))
            row = await cur.fetchone()
        if row is None:  # INSERT ... RETURNING always yields a row
            raise RuntimeError("INSERT returned no row")
        return row


class SyncPsycopgRepository:
    """PsycopgRepository's statements on a synchronous connection, for the `def` endpoints."""

    def __init__(self, conn: Connection[Any]) -> None:
        self._conn = conn

    def list_after(self, after_id: int, limit: int) -> list[TaskRow]:
        with self._conn.cursor(row_factory=_task_rows) as cur:
            cur.execute(_PSYCOPG_LIST, (after_id, limit))
            return cur.fetchall()

    def create(self, title: str, description: str) -> TaskRow:
        with self._conn.cursor(row_factory=_task_rows) as cur:
            cur.execute(_PSYCOPG_CREATE, (title, description))
            row = cur.fetchone()
        if row is None:  # INSERT ... RETURNING always yields a row
            raise RuntimeError("INSERT returned no row")
        return row


class AsyncpgRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def list_after(self, after_id: int, limit: int) -> list[TaskRow]:
        rows = await self._conn.fetch(LIST_SQL, after_id, limit)
        return [TaskRow(*row) for row in rows]

    async def create(self, title: str, description: str) -> TaskRow:
        row = await self._conn.fetchrow(CREATE_SQL, title, description)
        if row is None:
            raise RuntimeError("INSERT returned no row")
        return TaskRow(*row)
