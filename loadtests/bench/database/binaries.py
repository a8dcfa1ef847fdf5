"""Finding PostgreSQL's server binaries (initdb, postgres) on this machine."""

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from bench.common.errors import BenchError

MISSING_MESSAGE = (
    "PostgreSQL server binaries (initdb, postgres) not found: install PostgreSQL's server "
    "package (Debian: apt-get install postgresql), set PG_BIN to its bin directory, use "
    "Python <= 3.12 (the pgserver wheel bundles them), or set DATABASE_URL to a running server"
)


def _has_server(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in ("initdb", "postgres", "pg_ctl"))


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip())


DEBIAN_ROOT = Path("/usr/lib/postgresql")


def _newest_debian_bindir(root: Path = DEBIAN_ROOT) -> Path | None:
    if not root.is_dir():
        return None
    versions = [p for p in root.iterdir() if re.fullmatch(r"\d+(\.\d+)?", p.name)]
    for version in sorted(versions, key=lambda p: float(p.name), reverse=True):
        if _has_server(version / "bin"):
            return version / "bin"
    return None


def _pgserver_bindir() -> Path | None:
    # Located, not imported: importing pgserver has side effects we do not want.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def find_bindir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    explicit = env.get("PG_BIN")
    if explicit:
        if _has_server(Path(explicit)):
            return Path(explicit)
        raise BenchError(f"PG_BIN={explicit} does not hold initdb, postgres and pg_ctl")
    for finder in (_pg_config_bindir, _newest_debian_bindir, _pgserver_bindir):
        candidate = finder()
        if candidate is not None and _has_server(candidate):
            return candidate
    raise BenchError(MISSING_MESSAGE)


def server_version(bindir: Path) -> str:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10)
    return out.stdout.strip()
