"""A migration runner compatible with golang-migrate's files and its schema_migrations table.

golang-migrate keeps one row (version, dirty). We apply each migration and its version
bump in one transaction (PostgreSQL DDL is transactional), so a failure leaves the
previous version clean instead of a dirty flag to force by hand.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
import psycopg.errors

from bench.common.errors import BenchError
from bench.common.paths import MIGRATIONS_DIR

_FILE = re.compile(r"^(\d+)_(\w+)\.(up|down)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Path
    down: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, dict[str, Path]] = {}
    names: dict[int, str] = {}
    for path in directory.iterdir():
        match = _FILE.match(path.name)
        if match is None:
            continue
        version = int(match.group(1))
        found.setdefault(version, {})[match.group(3)] = path
        names[version] = match.group(2)
    migrations = []
    for version in sorted(found):
        files = found[version]
        if set(files) != {"up", "down"}:
            raise BenchError(f"migration {version} in {directory} needs both .up.sql and .down.sql")
        migrations.append(Migration(version, names[version], files["up"], files["down"]))
    return migrations


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
    )


def current_version(conn: psycopg.Connection) -> int | None:
    _ensure_table(conn)
    row = conn.execute("SELECT version, dirty FROM schema_migrations LIMIT 1").fetchone()
    if row is None:
        return None
    version, dirty = row
    if dirty:
        raise BenchError(f"database is dirty at migration {version}: repair it by hand first")
    return int(version)


def _set_version(conn: psycopg.Connection, version: int | None) -> None:
    conn.execute("DELETE FROM schema_migrations")
    if version is not None:
        conn.execute("INSERT INTO schema_migrations (version, dirty) VALUES (%s, false)", (version,))


def _lock(conn: psycopg.Connection) -> None:
    # Two runners on one database (say, parallel test workers) must not interleave.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('fastapi-load-migrations'))")


def _apply(conn: psycopg.Connection, migration: Migration, version: int | None) -> None:
    try:
        conn.execute(migration.up.read_text())
    except (psycopg.errors.DuplicateTable, psycopg.errors.DuplicateObject) as exc:
        # The transaction rolls back: the database is left exactly as it was found.
        found = exc.diag.message_primary or str(exc).strip()
        recorded = "no migration version" if version is None else f"version {version}"
        raise BenchError(
            f"migration {migration.up.name} cannot run: {found}, yet schema_migrations records "
            f"{recorded}, so these tables were not made by these migrations; point DATABASE_URL "
            "at an empty database (or drop the tables), or, if the schema matches migrations/, "
            f"record it with golang-migrate: migrate -path migrations -database URL force {migration.version}"
        ) from None


def migrate_up(url: str, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations in order; returns the versions applied (empty when current)."""
    applied = []
    with psycopg.connect(url) as conn:
        for migration in discover(directory):
            with conn.transaction():
                _lock(conn)
                version = current_version(conn)
                if version is not None and migration.version <= version:
                    continue
                _apply(conn, migration, version)
                _set_version(conn, migration.version)
            applied.append(migration.version)
    return applied


def migrate_down(url: str, steps: int = 1, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Roll back the newest `steps` applied migrations; returns the versions rolled back."""
    migrations = discover(directory)
    rolled_back = []
    with psycopg.connect(url) as conn:
        for _ in range(steps):
            with conn.transaction():
                _lock(conn)
                version = current_version(conn)
                if version is None:
                    break
                index = next((i for i, m in enumerate(migrations) if m.version == version), None)
                if index is None:
                    raise BenchError(f"database is at migration {version}, which has no files here")
                conn.execute(migrations[index].down.read_text())
                _set_version(conn, migrations[index - 1].version if index > 0 else None)
            rolled_back.append(version)
    return rolled_back
