"""Settings of the tasks API, read from the environment (names shared with go-gin)."""

from typing import Literal

from pydantic import Field, PostgresDsn, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Strategy = Literal["pool", "per-request"]
Driver = Literal["psycopg", "asyncpg"]
# How dependencies run: "async" on the event loop, "threadpool" as plain `def` functions that
# FastAPI hands to its thread pool on every request (the write-up's style, kept for the ladder).
Dependencies = Literal["async", "threadpool"]
# How a response body is made: "serialize" dumps the page once to JSON; "revalidate" returns the
# model and lets FastAPI dump, validate against response_model and serialize it again.
ResponseMode = Literal["serialize", "revalidate"]
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
    # FastAPI's native OpenTelemetry hook asks the global providers on every request whether
    # anyone is listening; off skips that question (nothing is ever exported here either way).
    app_telemetry: bool = True
    db_layer: DataLayer = "driver"
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
        return self

    @property
    def dsn(self) -> str:
        return str(self.database_url)
