"""DB_LAYER: which data layer and routes the app builds, what it refuses, and how SQLAlchemy's
failures become the 503 causes of docs/api.md. In process, no database: the layers' behaviour
against a real PostgreSQL is in the contract, 503, restart and wire-count tests."""

import asyncio
import inspect
from typing import Any

import asyncpg
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import PostgresDsn, ValidationError
from sqlalchemy import exc

from taskapi.app import create_app
from taskapi.db import AsyncpgPool
from taskapi.layers import create_layer
from taskapi.openapi import openapi_document
from taskapi.sa_async import SqlAlchemyCore, SqlAlchemyOrm
from taskapi.sa_engine import sqlalchemy_unavailable
from taskapi.sa_session import SessionDatabase
from taskapi.settings import Settings

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

URL = PostgresDsn("postgresql://layers@localhost:5432/layers")
LAYERS = {
    "sqlalchemy-core": ("asyncpg", SqlAlchemyCore),
    "sqlalchemy-orm": ("asyncpg", SqlAlchemyOrm),
    "sqlalchemy-session": ("psycopg", SessionDatabase),
}


def settings(**values: Any) -> Settings:
    return Settings(database_url=URL, **values)


def opened(app: FastAPI) -> object:
    """The database the lifespan opens: opening makes an engine, never a connection."""

    async def enter() -> object:
        async with app.router.lifespan_context(app):
            return app.state.database

    return asyncio.run(enter())


def task_endpoints(app: FastAPI) -> list[Any]:
    return [r.endpoint for r in app.routes if isinstance(r, APIRoute) and r.path == "/tasks/"]


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_builds_its_own_database(layer: str) -> None:
    driver, kind = LAYERS[layer]
    database = opened(create_app(settings(db_layer=layer, db_driver=driver)))
    assert type(database) is kind


def test_the_driver_layer_is_unchanged() -> None:
    # Not opened: the drivers' pools would start connecting.
    database, _ = create_layer(settings(db_driver="asyncpg"))
    assert type(database) is AsyncpgPool


def test_only_the_session_layer_runs_def_routes_in_the_thread_pool() -> None:
    for layer, (driver, _) in LAYERS.items():
        endpoints = task_endpoints(create_app(settings(db_layer=layer, db_driver=driver)))
        assert len(endpoints) == 2
        coroutines = [inspect.iscoroutinefunction(e) for e in endpoints]
        assert coroutines == [layer != "sqlalchemy-session"] * 2, layer


def test_the_session_layer_serves_the_same_openapi_document() -> None:
    session = create_app(settings(db_layer="sqlalchemy-session", db_driver="psycopg")).openapi()
    assert session == openapi_document()


@pytest.mark.parametrize(
    "values",
    [
        {"db_layer": "sqlalchemy-core"},  # psycopg, the default driver
        {"db_layer": "sqlalchemy-orm", "db_driver": "psycopg"},
        {"db_layer": "sqlalchemy-session", "db_driver": "asyncpg"},
        {"db_layer": "sqlalchemy-core", "db_driver": "asyncpg", "db_strategy": "per-request"},
        {"db_layer": "sqlalchemy-core", "db_driver": "asyncpg", "db_pool_max_waiting": 5},
        {"db_layer": "sqlalchemy-session", "app_response": "revalidate"},
        {"db_layer": "sqlalchemy-session", "app_dependencies": "threadpool"},
    ],
)
def test_a_combination_the_app_would_not_run_is_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="DB_"):
        settings(**values)


def _adapted(driver_error: Exception) -> Exception:
    """asyncpg's error as SQLAlchemy's asyncpg adapter hands it on: as the __cause__ of its own."""
    adapter = Exception(str(driver_error))
    adapter.__cause__ = driver_error
    return adapter


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached"), "pool timeout"),
        (exc.OperationalError("SELECT", {}, psycopg.OperationalError("sorry, too many clients already")),
         "too many clients already"),
        (exc.OperationalError("SELECT", {}, psycopg.OperationalError("connection refused")),
         "connection failed"),
        (exc.DBAPIError("SELECT", {}, _adapted(asyncpg.exceptions.TooManyConnectionsError("sorry"))),
         "too many clients already"),
        (exc.DBAPIError("SELECT", {}, _adapted(asyncpg.exceptions.AdminShutdownError("terminating"))),
         "connection failed"),
        (ConnectionRefusedError(111, "Connect call failed"), "connection failed"),
        (exc.DBAPIError("SELECT", {}, Exception("gone"), connection_invalidated=True), "connection failed"),
    ],
)  # fmt: skip
def test_database_failures_become_their_503_cause(error: Exception, cause: str) -> None:
    unavailable = sqlalchemy_unavailable(error)
    assert unavailable is not None
    assert unavailable.cause == cause


@pytest.mark.parametrize(
    "error",
    [
        exc.IntegrityError("INSERT", {}, psycopg.errors.CheckViolation("title too long")),
        exc.DBAPIError("SELECT", {}, _adapted(asyncpg.exceptions.UndefinedTableError("no tasks"))),
        ValueError("a bug"),
    ],
)
def test_other_failures_stay_errors(error: Exception) -> None:
    assert sqlalchemy_unavailable(error) is None
