"""Session-wide real PostgreSQL (embedded unless DATABASE_URL is set) and service launchers."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from bench.common.results import COMPLETE
from bench.common.sides import Side
from bench.database.server import Database
from bench.run.runner import RunOutcome, RunRequest, run
from bench.services.stack import RunningService, StackOptions, prepared_database, start_service

SEED_TASKS = 120
# The load profile of the harness's real runs. No warm-up: a warm-up is one more Locust process per
# case (four seconds here) and no assertion reads what it does; test_durations and the fault suite's
# warm-up stage still run one.
SHORT_LOAD: dict[str, Any] = {
    "users": 10,
    "spawn_rate": 10.0,
    "duration_s": 3,
    "warmup_s": 0,
    "seed": 200,
    "progress": False,
}
QUICK: dict[str, Any] = {
    **SHORT_LOAD,
    # The Locust pass alone: the rounds and the calibration have their own tests (test_rounds.py).
    "rounds": 0,
    "calibrate": False,
}
# Capacity rounds as short as they go: six one-second windows per side (the fewest for a 95% interval),
# no warm-up per window, one open-loop rate.
ROUNDS: dict[str, Any] = {
    **QUICK,
    "rounds": 6,
    "window_s": 1,
    "window_warmup_s": 0,
    "open_loop": (0.5,),
    "open_loop_s": 1,
    "order_seed": 11,
}
FULL_RUN_SIDES = (Side("fastapi-uvicorn"), Side("go-gin"))
# Two sides in rotation, two trials each: what the rotation, repeat and variant tests all read.
ROTATION_SIDES = (Side("fastapi-uvicorn", "default"), Side("fastapi-uvicorn", "no-pool-check"))
RotationRun = tuple[RunRequest, RunOutcome]


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


CLI = [sys.executable, "-m", "bench"]


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """The fastapi-load CLI as a user runs it: a real process, without this session's DATABASE_URL."""
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=full_env, check=False
    )


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


# Real runs that several tests read. Each costs a database, services and Locust processes, so it is
# made once per session; the tests copy a run before changing any file of it.


@pytest.fixture(scope="session")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    """uvicorn and gin on ping and list through every stage: rounds, open-loop points, the Locust pass."""
    outcome = run(
        RunRequest(sides=FULL_RUN_SIDES, scenarios=["ping", "list"], run_id="full",
                   results_dir=tmp_path_factory.mktemp("full"), **ROUNDS)
    )  # fmt: skip
    assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    return outcome


@pytest.fixture(scope="session")
def rotation_run(tmp_path_factory: pytest.TempPathFactory) -> RotationRun:
    """ROTATION_SIDES with two trials on ping: the request and what it made. QUICK's 3 s, not less:
    with 2 s a busy machine leaves Locust fewer than two seconds of full load to judge."""
    request = RunRequest(
        scenarios=["ping"], sides=ROTATION_SIDES, repeat=2, order_seed=3,
        results_dir=tmp_path_factory.mktemp("rotation"), **QUICK,
    )  # fmt: skip
    return request, run(request)


# Fixtures that start real parts: a test that uses one is a slow test and must say so.
_STARTS_REAL_PARTS = {"database", "launch", "service_logs", "full_run", "rotation_run"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = _STARTS_REAL_PARTS & set(getattr(item, "fixturenames", ()))
        if used and item.get_closest_marker("slow") is None:
            raise pytest.UsageError(
                f"{item.nodeid} starts real parts ({', '.join(sorted(used))}) without the slow marker: "
                "mark it (pytestmark = pytest.mark.slow) so `make test-fast` stays fast"
            )
