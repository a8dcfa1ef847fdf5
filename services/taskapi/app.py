"""The app factory: one FastAPI app for every Python server."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from taskapi.body_limit import BodyLimitMiddleware
from taskapi.burn import install_burn
from taskapi.errors import allowed_methods_by_path, install_error_handlers
from taskapi.layers import create_layer
from taskapi.middleware import install_middleware
from taskapi.settings import Settings

MAX_BODY_BYTES = 64 * 1024
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings | None = None) -> FastAPI:
    resolved = settings if settings is not None else Settings()  # type: ignore[call-arg]
    database, router = create_layer(resolved)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # anyio's default limiter bounds the threads that run `def` endpoints (and any other
        # run_in_threadpool); it belongs to the running event loop, so it is set here, not at import.
        limiter = to_thread.current_default_thread_limiter()
        if resolved.app_threads == "pool-max":
            limiter.total_tokens = resolved.db_pool_max
        app.state.thread_tokens = limiter.total_tokens
        await database.open()
        app.state.database = database
        app.state.cursor_key = resolved.cursor_key.encode()
        try:
            yield
        finally:
            await database.close()

    # No trailing-slash redirects: /ping and /ping/ are different paths in every
    # implementation, so a benchmark never measures a redirect by accident.
    # The router's routes go onto the app itself: include_router keeps the router as a branch
    # matched lazily on every request (_IncludedRouter in docs/profiles/default-ping.txt), a
    # second routing pass for an app that has one router and no prefix.
    app = FastAPI(
        title="fastapi-load tasks API",
        lifespan=lifespan,
        redirect_slashes=False,
        routes=router.routes,
        telemetry=None if resolved.app_telemetry else _NO_TELEMETRY,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    app.state.response_counts = install_middleware(app, resolved.app_middleware)
    install_burn(app, resolved.app_burn_iterations)
    install_error_handlers(app)
    app.state.allowed_methods = allowed_methods_by_path(app.routes)
    return app
