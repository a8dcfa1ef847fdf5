"""Result files: versioned JSON, written atomically, never a half-written or unmarked partial run."""

import contextlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common.errors import BenchError

SCHEMA_VERSION = 1
COMPLETE = "complete"
INCOMPLETE = "incomplete"
FAILED = "failed"
RAW_DIR = "raw"
_NOT_RESULTS = {RAW_DIR, "logs"}
# @ and = spell a side's own settings (default@workers=2): valid in file names everywhere.
_SAFE = re.compile(r"^[A-Za-z0-9._+@=-]+$")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid()}"


def _safe(part: str, what: str) -> str:
    if not _SAFE.match(part):
        raise BenchError(f"{what} {part!r} cannot be used in a result path")
    return part


def case_path(run_dir: Path, service: str, variant: str, scenario: str, trial: int, trials: int) -> Path:
    """results/<run-id>/<service>/<variant>/<scenario>.json, or <scenario>.<trial>.json with repeats;
    the variant is the side's name, with its settings when it sets any (bench.common.sides)."""
    name = _safe(scenario, "scenario") + (f".{trial}" if trials > 1 else "") + ".json"
    return run_dir / _safe(service, "service") / _safe(variant, "variant") / name


def raw_dir(case: Path) -> Path:
    """Where Locust's own files for one case go: beside the result, never mistaken for one."""
    return case.parent / RAW_DIR / case.stem


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside the target, fsync, then rename over it: a reader (or a
    crash) sees the old file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


def write_json(path: Path, document: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(document, indent=2, sort_keys=False, allow_nan=False) + "\n")


def read_result(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot read result {path}: {exc}") from None
    if document.get("schema_version") != SCHEMA_VERSION:
        raise BenchError(
            f"{path}: schema version {document.get('schema_version')!r}, expected {SCHEMA_VERSION}"
        )
    return document


def find_results(root: Path) -> list[Path]:
    """Every case result under a run directory (or a single file), in a stable order."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise BenchError(f"no results at {root}")
    return sorted(
        p
        for p in root.rglob("*.json")
        if p.name not in ("run.json", "rounds.json", "open-loop.json")
        and not p.name.startswith(".")
        and not _NOT_RESULTS & set(p.relative_to(root).parts[:-1])
    )
