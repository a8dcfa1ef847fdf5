"""The data layer DB_LAYER names, and the routes that call it: the raw drivers (db.py) under the
shared routes (`async def`, or `def` endpoints over psycopg's synchronous pool, sync_db.py),
SQLAlchemy's async Core or ORM (sa_async.py) under the same routes, or its
synchronous Session (sa_session.py) under the template's `def` routes (session_routes.py).

SQLAlchemy is imported only when chosen, so the other variants start and run as before.
"""

from typing import Protocol

from fastapi import APIRouter

from taskapi.db import create_database
from taskapi.routes import create_router
from taskapi.settings import Settings


class Layer(Protocol):
    """What the app's lifespan needs of any layer (db.Database, sa_session.SessionDatabase); the
    routes built beside it know the rest."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


def create_layer(settings: Settings) -> tuple[Layer, APIRouter]:
    """The database the app opens and closes, and the routes it serves."""
    if settings.db_layer == "sqlalchemy-session":
        from taskapi.sa_session import SessionDatabase
        from taskapi.session_routes import create_session_router

        return SessionDatabase(settings), create_session_router()
    router = create_router(settings.app_dependencies, settings.app_response, settings.app_endpoints)
    if settings.app_endpoints == "sync":
        from taskapi.sync_db import SyncPsycopgPool

        return SyncPsycopgPool(settings), router
    if settings.db_layer == "sqlalchemy-core":
        from taskapi.sa_async import SqlAlchemyCore

        return SqlAlchemyCore(settings), router
    if settings.db_layer == "sqlalchemy-orm":
        from taskapi.sa_async import SqlAlchemyOrm

        return SqlAlchemyOrm(settings), router
    return create_database(settings), router
