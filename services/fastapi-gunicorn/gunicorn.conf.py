"""gunicorn settings for the FastAPI app: what differs from gunicorn's defaults, and why."""

from uvicorn_worker import UvicornWorker


class TunedUvicornWorker(UvicornWorker):
    # The package's default "auto" picks these when installed; naming them makes the
    # choice explicit and fails loudly if they are missing, as on uvicorn and granian.
    CONFIG_KWARGS = {"loop": "uvloop", "http": "httptools"}  # noqa: RUF012


worker_class = TunedUvicornWorker
# Each worker opens its own pool after the fork (the app's lifespan), so no
# connection is shared between processes; the harness sizes DB_POOL_MAX so that
# workers x pool stays under PostgreSQL's max_connections.
preload_app = False
accesslog = None
loglevel = "warning"
graceful_timeout = 8
timeout = 30
keepalive = 5
