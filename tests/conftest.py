"""Session-wide real PostgreSQL (embedded unless DATABASE_URL is set) and service launchers."""

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from bench.database.server import Database
from bench.services.stack import RunningService, StackOptions, prepared_database, start_service

SEED_TASKS = 120


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--contract-url",
        default=None,
        help="judge an already running implementation at this base URL instead of starting ours",
    )


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    with prepared_database(max_connections=100, seed=SEED_TASKS) as db:
        yield db


@pytest.fixture(scope="session")
def service_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


class ServiceLauncher:
    """Starts services on the session database; tests use it as a context manager factory."""

    def __init__(self, database: Database, logs: Path) -> None:
        self.database = database
        self.logs = logs

    def __call__(
        self,
        service: str,
        variant: str = "default",
        *,
        workers: int | None = None,
        env: dict[str, str] | None = None,
    ) -> AbstractContextManager[RunningService]:
        env = dict(env or {})
        pool_max = int(env.pop("DB_POOL_MAX")) if "DB_POOL_MAX" in env else None
        options = StackOptions(
            service=service, variant=variant, workers=workers, pool_max=pool_max, extra_env=env
        )
        return start_service(options, self.database, self.logs)


@pytest.fixture(scope="session")
def launch(database: Database, service_logs: Path) -> ServiceLauncher:
    return ServiceLauncher(database, service_logs)


def application_name(service: str, variant: str) -> str:
    return f"contract-{service}-{variant}-{os.getpid()}"


def user_shell_environment() -> dict[str, str]:
    """The environment a user's `make` starts from: not this test run's `uv run` virtualenv (whose
    python3 has no uv or pip), no make of ours, no DATABASE_URL."""
    venv = os.environ.get("VIRTUAL_ENV")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "VIRTUAL_ENV")
    }
    if venv:
        env["PATH"] = os.pathsep.join(
            p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(venv)
        )
    return env
