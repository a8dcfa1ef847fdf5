"""The evidence behind the README: each experiment's newest run, kept compact under docs/evidence/.

results/ is git-ignored (runs are large: raw generator output, server logs). What a reader needs to
check a claim is small: each part's run.json (settings, versions, machine), rounds.json (every
window), open-loop.json (every point), the Locust cases and report.md. `make readme` copies those of
each experiment's newest run here, written without indentation, and drops the experiment's older
evidence, so a fresh clone holds every run the README cites and the folder stays small.
"""

import json
import re
import shutil
from pathlib import Path

from bench.common.errors import BenchError
from bench.common.paths import REPO_ROOT, RESULTS_DIR
from bench.common.results import RAW_DIR, write_text_atomic

EVIDENCE_DIR = REPO_ROOT / "docs" / "evidence"
KEPT_FILES = ("report.md",)
_SKIPPED_DIRS = {RAW_DIR, "logs"}
_RUN_NAME = re.compile(r"^(?P<experiment>[a-z0-9-]+?)-(?P<stamp>\d{8}-\d{6})$")
# Committed evidence must stay small: a run larger than this is a sign something big slipped in.
MAX_RUN_BYTES = 1_000_000


def experiment_of(run: Path) -> str | None:
    found = _RUN_NAME.match(run.name)
    return found["experiment"] if found else None


def runs_of(name: str, *roots: Path) -> list[Path]:
    """Every finished run of an experiment under the roots, oldest first (their names sort by time)."""
    found = [
        path
        for root in roots
        if root.is_dir()
        for path in root.glob(f"{name}-*")
        if path.is_dir() and experiment_of(path) == name and (path / "report.md").exists()
    ]
    return sorted(found, key=lambda p: p.name)


def newest_run(name: str, results_dir: Path = RESULTS_DIR, evidence_dir: Path = EVIDENCE_DIR) -> Path | None:
    runs = runs_of(name, results_dir, evidence_dir)
    return runs[-1] if runs else None


def _compact(source: Path, target: Path) -> None:
    if source.suffix == ".json":
        try:
            data = json.loads(source.read_text())
        except ValueError as exc:
            raise BenchError(f"{source}: not JSON ({exc}); the run cannot be kept as evidence") from None
        write_text_atomic(target, json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n")
    else:
        write_text_atomic(target, source.read_text())


def keep(run: Path, evidence_dir: Path = EVIDENCE_DIR) -> Path:
    """Copy a run's evidence under `evidence_dir`/<run name> and remove the experiment's older evidence;
    returns the evidence directory. A run already there is left as it is."""
    if run.parent.resolve() == evidence_dir.resolve():
        return run
    name = experiment_of(run)
    if name is None:
        raise BenchError(f"{run.name} is not an experiment's run (<experiment>-<YYYYmmdd-HHMMSS>)")
    target = evidence_dir / run.name
    staging = evidence_dir / f".{run.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for path in sorted(run.rglob("*")):
            relative = path.relative_to(run)
            if path.is_dir() or _SKIPPED_DIRS & set(relative.parts[:-1]):
                continue
            if path.suffix == ".json" or path.name in KEPT_FILES:
                _compact(path, staging / relative)
        size = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        if size > MAX_RUN_BYTES:
            raise BenchError(f"{run.name}'s evidence is {size:,} bytes, over {MAX_RUN_BYTES:,}: not kept")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for older in runs_of(name, evidence_dir):
        if older.name < run.name:
            shutil.rmtree(older)
    return target
