"""Finding result documents under run directories and keying each case by run, service and variant."""

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common.errors import BenchError
from bench.common.results import RAW_DIR, find_results, read_result
from bench.common.schema import OPEN_LOOP_FILE, ROUNDS_FILE, OpenLoop, Rounds, read_record
from bench.common.sides import side_name

NOT_RESULTS = {RAW_DIR, "logs"}  # as find_results: Locust's own files and server logs


@dataclass(frozen=True)
class SideKey:
    run_id: str
    service: str
    variant: str  # the side's name: the variant, with the side's own settings (default@workers=2)
    copy: int = 0  # the same file given twice (a run against itself) makes a second, identical side

    @property
    def id(self) -> str:
        return f"{self.run_id}/{self.service}/{self.variant}" + (f"#{self.copy + 1}" if self.copy else "")


@dataclass
class Loaded:
    """Documents found under the given paths, sorted into what they are."""

    sources: list[Path]
    cases: list[tuple[SideKey, Path, dict[str, Any]]] = field(default_factory=list)
    # Cases that run.json records without a result file (a service whose stack never started).
    unwritten: list[tuple[SideKey, dict[str, Any]]] = field(default_factory=list)
    # The typed records of each run directory found: capacity rounds and open-loop points.
    rounds: list[tuple[Path, Rounds]] = field(default_factory=list)
    open_loop: list[tuple[Path, OpenLoop]] = field(default_factory=list)


def _run_dirs(documents: list[tuple[Path, dict[str, Any]]]) -> dict[Path, str]:
    """Each run directory's id, as the results that record one give it."""
    known: dict[Path, str] = {}
    for path, document in documents:
        run_id, parents = document.get("run_id"), path.resolve().parents
        if isinstance(run_id, str) and run_id and len(parents) > 2:
            known.setdefault(parents[2], run_id)
    return known


def _run_id(path: Path, document: dict[str, Any], known: dict[Path, str]) -> str:
    run_id = document.get("run_id")
    if isinstance(run_id, str) and run_id:
        return run_id
    # Interrupted documents carry no run id: their run directory (<run>/<service>/<variant>/<file>) does,
    # through a sibling that records it, else by its name.
    parents = path.resolve().parents
    return known.get(parents[2], parents[2].name) if len(parents) > 2 else "?"


def _documents(paths: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Every bench document under the paths; anything else (Locust's own JSON, stray files) is skipped."""
    found: list[tuple[Path, dict[str, Any]]] = []
    for root in paths:
        for path in find_results(root):
            try:
                raw = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise BenchError(f"cannot read result {path}: {exc}") from None
            if isinstance(raw, dict) and "schema_version" in raw:
                found.append((path, raw))
    versions = {repr(doc["schema_version"]) for _, doc in found}
    if len(versions) > 1:
        raise BenchError(
            f"mixed schema versions ({', '.join(sorted(versions))}) in {', '.join(map(str, paths))}: "
            "results written by different versions of the harness cannot be compared"
        )
    # read_result is the one place that says which schema version this code understands.
    return [(path, read_result(path)) for path, _ in found]


def _load(paths: list[Path]) -> Loaded:
    loaded = Loaded(sources=list(paths))
    seen: dict[Path, int] = {}
    documents = _documents(paths)
    run_dirs = _run_dirs(documents)
    for path, document in documents:
        resolved = path.resolve()
        copy = seen.get(resolved, 0)
        seen[resolved] = copy + 1
        key = SideKey(
            _run_id(path, document, run_dirs),
            _service(path, document),
            side_name(document),
            copy,
        )
        loaded.cases.append((key, path, document))
    loaded.cases.sort(key=_run_position)
    for root in paths:
        _add_unwritten(loaded, root)
        _add_records(loaded, root)
    return loaded


def _add_records(loaded: Loaded, root: Path) -> None:
    """rounds.json and open-loop.json of every run directory under `root`."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob(ROUNDS_FILE)):
        if not NOT_RESULTS & set(path.relative_to(root).parts[:-1]):
            loaded.rounds.append((path.parent, read_record(path, Rounds)))
    for path in sorted(root.rglob(OPEN_LOOP_FILE)):
        if not NOT_RESULTS & set(path.relative_to(root).parts[:-1]):
            loaded.open_loop.append((path.parent, read_record(path, OpenLoop)))


@functools.cache
def _side_order(run_dir: Path) -> tuple[str, ...]:
    """SERVICE:VARIANT in the order the run lists them (run.json), so a ladder reads rung by rung."""
    try:
        sides = json.loads((run_dir / "run.json").read_text())["sides"]
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    return tuple(sides)


def _run_position(case: tuple[SideKey, Path, dict[str, Any]]) -> int:
    _, path, document = case
    order = _side_order(path.resolve().parents[2])
    side = f"{document.get('service')}:{side_name(document)}"
    return order.index(side) if side in order else len(order)


def _service(path: Path, document: dict[str, Any]) -> str:
    # Every result names its service; the place (<run>/<service>/<variant>/<file>) is the fallback.
    service = document.get("service")
    if isinstance(service, str):
        return service
    return path.resolve().parent.parent.name


def _add_unwritten(loaded: Loaded, root: Path) -> None:
    """Cases run.json records without a file: a service whose stack never started fails that way."""
    record_path = root / "run.json"
    if not root.is_dir() or not record_path.is_file():
        return
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot read {record_path}: {exc}") from None
    for case in record.get("cases", []):
        if case.get("path") is None:
            key = SideKey(str(record.get("run_id", root.name)), str(case.get("service")),
                          str(case.get("variant")))  # fmt: skip
            loaded.unwritten.append((key, case))


def load_paths(paths: list[Path]) -> Loaded:
    """Every document under the paths, sorted into load cases, unwritten cases and the runs' records."""
    if not paths:
        raise BenchError("nothing to compare: give one or more run directories or result files")
    return _load(paths)
