"""DATABASE_URL pointing at a database someone else prepared: golang-migrate's own work is accepted
as is; a `tasks` table no migration recorded is one clear line, and the database is left untouched."""

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from bench.common.paths import MIGRATIONS_DIR, REPO_ROOT
from bench.database.server import Database
from tests.conftest import cli
from tests.test_cli import assert_one_clear_line

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

# The same golang-migrate the project's file names follow, built by the Go toolchain from the
# module proxy (with its PostgreSQL driver, which needs the build tag).
GOLANG_MIGRATE = "github.com/golang-migrate/migrate/v4/cmd/migrate@v4.20.1"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def scratch_database(cluster: Database) -> Iterator[str]:
    name = f"scratch_{secrets.token_hex(4)}"
    admin = _with_database(cluster.url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield _with_database(cluster.url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


def test_a_tasks_table_no_migration_made_is_one_line_and_untouched(database: Database) -> None:
    with scratch_database(database) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE tasks (id int, note text)")
            conn.execute("INSERT INTO tasks VALUES (1, 'theirs')")
        proc = cli("serve", "taskapi", "--port", "0", env={"DATABASE_URL": url})
        assert_one_clear_line(proc, 'relation "tasks" already exists')
        assert "schema_migrations records no migration version" in proc.stderr
        assert "force 1" in proc.stderr
        assert tables(url) == ["tasks"], "nothing is created when the migration is refused"
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT id, note FROM tasks").fetchall() == [(1, "theirs")]


def test_a_database_golang_migrate_migrated_is_accepted_as_is(database: Database) -> None:
    with scratch_database(database) as url:
        migrate = subprocess.run(
            ["go", "run", "-tags", "postgres", GOLANG_MIGRATE,
             "-path", str(MIGRATIONS_DIR), "-database", f"{url}?sslmode=disable", "up"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stderr
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT version, dirty FROM schema_migrations").fetchall() == [(1, False)]
        proc = cli("migrate", "up", env={"DATABASE_URL": url})
        assert proc.returncode == 0, proc.stderr
        assert "nothing (up to date)" in proc.stdout
        assert tables(url) == ["schema_migrations", "tasks"]
