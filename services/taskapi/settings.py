"""Settings of the tasks API, read from the environment (names shared with go-gin)."""

from typing import Literal

from pydantic import Field, PostgresDsn, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Strategy = Literal["pool", "per-request"]
Driver = Literal["psycopg", "asyncpg"]
# How dependencies run: "async" on the event loop, "threadpool" as plain `def` functions that
# FastAPI hands to its thread pool on every request (the write-up's style, kept for the ladder).
Dependencies = Literal["async", "threadpool"]
# Which code talks to PostgreSQL (make bench-orm): "driver" is repository.py's raw driver calls;
# the others go through SQLAlchemy 2 (docs/per-request-costs.md): Core on its async engine, the ORM
# with an AsyncSession per request (both over asyncpg), or the FastAPI template's way, `def` routes
# over a synchronous ORM Session on psycopg, run in FastAPI's thread pool.
DataLayer = Literal["driver", "sqlalchemy-core", "sqlalchemy-orm", "sqlalchemy-session"]
# The driver each SQLAlchemy layer runs on: the one issue 20 measures, and the only one wired.
_LAYER_DRIVER: dict[DataLayer, Driver] = {
    "sqlalchemy-core": "asyncpg",
    "sqlalchemy-orm": "asyncpg",
    "sqlalchemy-session": "psycopg",
}
# How a response body is made (taskapi/writers.py says exactly what each one does): "serialize"
# dumps the rows once through a TypeAdapter into a Response, sidestepping FastAPI's own path;
# "idiomatic" returns the data and lets FastAPI validate and serialise it on its fast path;
# "revalidate" builds a model per row first; "orjson-response" returns the data with
# response_class=ORJSONResponse; "orjson" and "msgspec" encode into a Response themselves.
ResponseMode = Literal["serialize", "idiomatic", "revalidate", "orjson-response", "orjson", "msgspec"]
# Middleware around the app, all doing the same work (a request id, a Server-Timing header, a count
# of responses by status): none, or 1 or 3 layers of pure ASGI or of @app.middleware("http").
MiddlewareMode = Literal["none", "asgi-1", "asgi-3", "http-1", "http-3"]
# "async": `async def` endpoints over the async drivers; "sync": plain `def` endpoints over
# psycopg's synchronous ConnectionPool, run by FastAPI on anyio's thread pool.
Endpoints = Literal["async", "sync"]
# Worker threads anyio may run at once: "anyio" leaves its default (40); "pool-max" sets it to
# DB_POOL_MAX, so a `def` endpoint never waits inside the pool for a connection.
ThreadTokens = Literal["anyio", "pool-max"]


class Settings(BaseSettings):
    """Built by the app factory, never at import, so tests and servers each get their own."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: PostgresDsn
    db_strategy: Strategy = "pool"
    db_driver: Driver = "psycopg"
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    db_pool_max_waiting: int = Field(default=0, ge=0)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_pool_check: bool = True
    # psycopg_pool: check a connection on checkout only when it sat idle longer than this many
    # seconds, or when a connection failed since it was last used (pgxpool's rule, 1 s).
    # 0 checks on every checkout, one extra round trip per request.
    db_pool_check_idle: float = Field(default=1.0, ge=0)
    # asyncpg: run its reset query (RESET ALL, UNLISTEN, ...) on every release, a round trip per
    # request. The app changes no session state, so off; an open transaction is rolled back either way.
    db_pool_reset: bool = False
    app_dependencies: Dependencies = "async"
    app_response: ResponseMode = "serialize"
    app_middleware: MiddlewareMode = "none"
    app_endpoints: Endpoints = "async"
    app_threads: ThreadTokens = "anyio"
    # FastAPI's native OpenTelemetry hook asks the global providers on every request whether
    # anyone is listening; off skips that question (nothing is ever exported here either way).
    app_telemetry: bool = True
    db_layer: DataLayer = "driver"
    # The calibration control (taskapi/burn.py): this many rounds of pure-Python work on every
    # request; 0, everywhere but the `burn-10` variant, adds nothing at all.
    app_burn_iterations: int = Field(default=0, ge=0)
    cursor_key: str = Field(default="fastapi-load-cursor-v1", min_length=1)

    @model_validator(mode="after")
    def _layer_fits(self) -> "Settings":
        """A combination the app would not really run is an error at start, never a silent
        fallback that records one thing and measures another."""
        if self.db_layer == "driver":
            return self
        driver = _LAYER_DRIVER[self.db_layer]
        if self.db_driver != driver or self.db_strategy != "pool":
            raise ValueError(f"DB_LAYER={self.db_layer} runs on DB_DRIVER={driver}, DB_STRATEGY=pool")
        if self.db_pool_max_waiting:
            raise ValueError("DB_POOL_MAX_WAITING is not wired for SQLAlchemy's pool")
        if self.db_layer == "sqlalchemy-session" and (
            self.app_dependencies != "async" or self.app_response != "serialize"
        ):
            raise ValueError(
                "DB_LAYER=sqlalchemy-session has its own routes: APP_DEPENDENCIES, APP_RESPONSE stay default"
            )
        if self.app_endpoints == "sync":
            raise ValueError("APP_ENDPOINTS=sync runs over the raw psycopg pool, not a SQLAlchemy layer")
        return self

    @model_validator(mode="after")
    def _sync_needs_psycopg_pool(self) -> "Settings":
        if self.app_endpoints == "sync" and (self.db_driver, self.db_strategy) != ("psycopg", "pool"):
            raise ValueError(
                "APP_ENDPOINTS=sync runs over psycopg's ConnectionPool: DB_DRIVER=psycopg, DB_STRATEGY=pool"
            )
        return self

    @property
    def dsn(self) -> str:
        return str(self.database_url)
