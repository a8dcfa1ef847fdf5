"""Database + migrations + seed + one service from its manifest: what serve, verify and run share."""

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common.ports import LOOPBACK, free_port
from bench.database.migrate import migrate_up
from bench.database.seed import DEFAULT_TASKS, seed_tasks
from bench.database.server import STOCK_MAX_CONNECTIONS, Database, open_database
from bench.services import manifest as manifests
from bench.services.build import build
from bench.services.pool_sizing import pool_max_per_process, shared_budget
from bench.services.process import ServiceProcess


@dataclass(frozen=True)
class StackOptions:
    service: str
    variant: str = manifests.DEFAULT_VARIANT
    port: int | None = None
    workers: int | None = None
    pool_max: int | None = None
    max_connections: int = STOCK_MAX_CONNECTIONS
    seed: int = DEFAULT_TASKS
    cpus: frozenset[int] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str | None = None  # the run's name for this side (its log file); None: the variant
    # Sides up at once on one PostgreSQL: each gets an equal share of its connections, so one side's
    # idle pool never refuses another side's connections (recorded: DB_POOL_MAX in every result).
    sharing: int = 1


@dataclass
class RunningService:
    manifest: manifests.Manifest
    launch: manifests.Launch
    process: ServiceProcess
    database: Database
    env: dict[str, str]
    url: str


def service_environment(
    launch: manifests.Launch, database_url: str, max_connections: int, pool_max: int | None
) -> dict[str, str]:
    env = dict(launch.env)
    env["DATABASE_URL"] = database_url
    env["DB_POOL_MAX"] = str(pool_max_per_process(max_connections, launch.workers, pool_max))
    env.setdefault("DB_POOL_MIN", "1")
    return env


@contextlib.contextmanager
def prepared_database(max_connections: int, seed: int) -> Iterator[Database]:
    with open_database(max_connections) as database:
        migrate_up(database.url)
        seed_tasks(database.url, seed)
        yield database


@contextlib.contextmanager
def start_service(options: StackOptions, database: Database, log_dir: Path) -> Iterator[RunningService]:
    manifest = manifests.find(options.service)
    port = options.port if options.port is not None else free_port()
    cpus = len(options.cpus) if options.cpus else (os.cpu_count() or 1)
    launch = manifests.launch(manifest, options.variant, LOOPBACK, port, options.workers, cpus)
    build(manifest)
    max_connections = int(database.info.get("settings", {}).get("max_connections", options.max_connections))
    max_connections = shared_budget(max_connections, options.sharing)
    env = service_environment(launch, database.url, max_connections, options.pool_max)
    env.update(options.extra_env)
    log_path = log_dir / f"{manifest.name}.{options.name or launch.variant}.log"
    process = ServiceProcess(
        launch, env, LOOPBACK, port, log_path, set(options.cpus) if options.cpus else None
    )
    with process:
        yield RunningService(
            manifest=manifest,
            launch=launch,
            process=process,
            database=database,
            env=env,
            url=f"http://{LOOPBACK}:{port}",
        )
