"""What a result must carry to be reproduced: code version, machine, toolchain, packages."""

import importlib.metadata
import os
import platform
import shutil
import subprocess
from functools import cache
from typing import Any

from bench.common.paths import REPO_ROOT

PACKAGES = (
    "fastapi", "starlette", "pydantic", "pydantic-core", "uvicorn", "uvloop", "httptools", "granian",
    "gunicorn", "uvicorn-worker", "psycopg", "psycopg-binary", "psycopg-pool", "asyncpg", "sqlalchemy",
    "orjson", "msgspec", "locust", "gevent", "psutil",
)  # fmt: skip


def _output(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=REPO_ROOT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@cache
def go_module_versions() -> dict[str, str]:
    """gin and pgx as go.mod pins them (what the binary was built with)."""
    versions: dict[str, str] = {}
    go_mod = REPO_ROOT / "go-gin" / "go.mod"
    if go_mod.is_file():
        for line in go_mod.read_text().splitlines():
            parts = line.strip().split()
            if len(parts) >= 2 and parts[0] in ("github.com/gin-gonic/gin", "github.com/jackc/pgx/v5"):
                versions[parts[0]] = parts[1]
    return versions


@cache
def collect() -> dict[str, Any]:
    status = _output(["git", "status", "--porcelain"])
    return {
        "git_commit": _output(["git", "rev-parse", "HEAD"]),
        "git_dirty": bool(status) if status is not None else None,
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "go": _output(["go", "version"]),
        "packages": package_versions(),
        "go_modules": go_module_versions(),
    }


def tool_versions() -> dict[str, str]:
    """The load generators found on this machine, as each reports its version."""
    # Imported here: bench.load imports this module's neighbours, and the tools are only looked up
    # when a run record is written.
    from bench.load.vegeta import find_vegeta
    from bench.load.wrk import find_wrk

    found = {}
    for tool in (find_wrk(), find_vegeta()):
        if tool is not None:
            found[tool.name] = tool.version
    return found
