"""Go's own tests (httptest against NewRouter, stores on the real database), run inside make test."""

import os
import shutil
import subprocess

import pytest

from bench.common.paths import REPO_ROOT
from bench.database.server import Database

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow


def test_go_unit_and_database_tests_pass(database: Database) -> None:
    go = shutil.which("go")
    assert go is not None, "the Go toolchain is needed for the gin service: install Go and put it on PATH"
    env = {**os.environ, "DATABASE_URL": database.url}
    proc = subprocess.run(
        [go, "test", "-count=1", "-v", "./..."],
        cwd=REPO_ROOT / "go-gin",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "--- PASS" in proc.stdout
    assert "--- SKIP" not in proc.stdout, "with a database every Go test must run"
