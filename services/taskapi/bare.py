"""`taskapi.bare:app`: the leanest FastAPI app a careful engineer would write for the same
contract, the top of the ladder (docs/per-request-costs.md).

It keeps what the contract needs, input validated by FastAPI and pydantic, the same error
bodies, the 64 KiB body limit, HMAC cursors, and drops the shared app's structure: no
dependencies, no repository or strategy layer, no response models built per row. asyncpg's
pool without its release-time reset, one statement per request, plain dicts written to JSON
by pydantic-core (four times faster than the stdlib encoder on a page, and already installed
with FastAPI). What the shared app costs over this is what its structure costs.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Query, Response, status
from pydantic_core import to_json

from taskapi.body_limit import BodyLimitMiddleware
from taskapi.cursor import decode_cursor, encode_cursor
from taskapi.db import POOL_TIMEOUT, DatabaseUnavailableError, asyncpg_errors
from taskapi.errors import allowed_methods_by_path, install_error_handlers
from taskapi.models import Ping, Task, TaskIn, TaskPage, format_timestamp
from taskapi.repository import CREATE_SQL, LIST_SQL
from taskapi.settings import Settings

_JSON = "application/json"
_PONG = b'{"ping":"pong"}'
_MAX_BODY_BYTES = 64 * 1024


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing to reset: no session state is ever set (asyncpg still rolls back a transaction)."""


def _task(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "done": row["done"],
        "created_at": format_timestamp(row["created_at"]),
    }


def create_app(settings: Settings | None = None) -> FastAPI:
    resolved = settings if settings is not None else Settings()  # type: ignore[call-arg]
    cursor_key = resolved.cursor_key.encode()
    pools: list[asyncpg.Pool] = []  # the lifespan's one pool, where the endpoints find it

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            resolved.dsn,
            min_size=min(resolved.db_pool_min, resolved.db_pool_max),
            max_size=resolved.db_pool_max,
            timeout=resolved.db_connect_timeout,
            reset=_no_reset,
        )
        pools.append(pool)
        try:
            yield
        finally:
            pools.clear()
            await pool.close()

    async def query(sql: str, *args: Any) -> list[asyncpg.Record]:
        with asyncpg_errors():
            try:
                async with pools[0].acquire(timeout=resolved.db_pool_timeout) as conn:
                    rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
                    return rows
            except TimeoutError as exc:
                raise DatabaseUnavailableError(POOL_TIMEOUT) from exc

    app = FastAPI(
        title="fastapi-load tasks API (bare)",
        lifespan=lifespan,
        redirect_slashes=False,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=_MAX_BODY_BYTES)
    install_error_handlers(app)

    @app.get("/ping/", response_model=Ping)
    async def ping() -> Response:
        return Response(_PONG, media_type=_JSON)

    @app.get("/tasks/", response_model=TaskPage)
    async def list_tasks(
        limit: Annotated[int, Query(ge=1, le=100)] = 25, after: Annotated[str | None, Query()] = None
    ) -> Response:
        after_id = 0 if after is None else decode_cursor(after, cursor_key)
        rows = await query(LIST_SQL, after_id, limit)
        page = {
            "items": [_task(row) for row in rows],
            "next": encode_cursor(rows[-1]["id"], cursor_key) if len(rows) == limit else None,
        }
        return Response(to_json(page), media_type=_JSON)

    @app.post("/tasks/", response_model=Task, status_code=status.HTTP_201_CREATED)
    async def create_task(task: TaskIn) -> Response:
        rows = await query(CREATE_SQL, task.title, task.description)
        return Response(to_json(_task(rows[0])), status_code=status.HTTP_201_CREATED, media_type=_JSON)

    app.state.allowed_methods = allowed_methods_by_path(app.routes)
    return app


app = create_app()
