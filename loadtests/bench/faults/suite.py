"""`robustness`: every fault scenario against every stack, a PASS/FAIL table, and robustness.json.

The scenarios live in faults_postgres (database restart and crash), faults_service (exhausted
pool, SIGTERM, overload) and faults_harness (the harness interrupted). Each returns a FaultResult
saying what was expected and what happened. A scenario that breaks down (a service that does not
start, say) is a FAIL with the reason in its notes, and the matrix goes on; Ctrl-C stops it.
"""

import contextlib
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common.errors import BenchError
from bench.common.paths import RESULTS_DIR
from bench.common.results import COMPLETE, INCOMPLETE, SCHEMA_VERSION, write_json
from bench.database.server import Database
from bench.faults.common import FaultResult, own_database
from bench.faults.harness import HARNESS_INTERRUPTED, STAGES, harness_interrupted
from bench.faults.harness import STACK as HARNESS_STACK
from bench.faults.postgres import (
    POSTGRES_KILLED,
    POSTGRES_RESTART,
    postgres_killed_during_create,
    postgres_restart,
)
from bench.faults.service import (
    OVERLOAD,
    POOL_EXHAUSTED,
    SIGTERM_IN_FLIGHT,
    overload,
    pool_exhausted,
    sigterm_in_flight,
)
from bench.run import environment
from bench.services import manifest as manifests

__all__ = ["FAULTS", "FaultCase", "FaultResult", "plan", "render_table", "run_faults"]

RESULT_FILE = "robustness.json"
PER_REQUEST = "per-request"
TUNED = "tuned"
# The data layers of make bench-orm: each owns its pool (SQLAlchemy's), so each meets the faults
# a pool meets, like tuned.
DATA_LAYERS = ("sqlalchemy-core", "sqlalchemy-orm", "sqlalchemy-session")
# Variants that hold connections on a code path of their own: `def` endpoints over psycopg's
# synchronous pool, in anyio's worker threads. With as many threads as connections (sync-matched)
# no thread waits in the pool, so an exhausted pool gives no 503: requests queue for a thread in
# anyio's limiter, which has no timeout, and are served once the database moves. That is what the
# variant is (what users who match the two get), so its pool-exhausted case expects it.
SYNC_VARIANTS = ("sync", "sync-matched")
QUEUEING_VARIANTS = ("sync-matched",)
# Past each stack's knee: the concurrency-limiting variants beside the defaults.
OVERLOAD_VARIANTS = {
    "fastapi-uvicorn": ("default", "limit-concurrency"),
    "fastapi-granian": ("default", "backpressure"),
}


class _Context:
    """What the cases of one matrix share: where they write, and one database for those that
    neither restart nor kill it (opened on first use)."""

    def __init__(self, workdir: Path, stack: contextlib.ExitStack) -> None:
        self.workdir = workdir
        self._stack = stack
        self._database: Database | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = self._stack.enter_context(own_database())
        return self._database


@dataclass(frozen=True)
class FaultCase:
    fault: str
    stack: str
    strategy: str  # a variant of the stack; for the harness, "<stage> <signal>"
    run: Callable[["FaultCase", _Context], FaultResult]

    def __call__(self, context: _Context) -> FaultResult:
        return self.run(self, context)


def _restart(case: FaultCase, context: _Context) -> FaultResult:
    return postgres_restart(case.stack, case.strategy, context.workdir)


def _killed(case: FaultCase, context: _Context) -> FaultResult:
    return postgres_killed_during_create(case.stack, case.strategy, context.workdir)


def _pool(case: FaultCase, context: _Context) -> FaultResult:
    queues = case.strategy in QUEUEING_VARIANTS
    return pool_exhausted(case.stack, case.strategy, context.database, context.workdir, queues=queues)


def _sigterm(case: FaultCase, context: _Context) -> FaultResult:
    return sigterm_in_flight(case.stack, case.strategy, context.database, context.workdir)


def _interrupted(case: FaultCase, context: _Context) -> FaultResult:
    stage, name = case.strategy.split()
    return harness_interrupted(stage, signal.Signals[name], context.workdir)


def _overload(case: FaultCase, context: _Context) -> FaultResult:
    return overload(case.stack, case.strategy, context.workdir)


def _strategies(manifest: manifests.Manifest, extra: tuple[str, ...] = ()) -> list[str]:
    """Every database strategy a stack has, its tuned variant (its own pool settings), its SQLAlchemy
    data layers, and those of `extra` it has."""
    own = [v for v in (TUNED, *DATA_LAYERS, *extra) if v in manifest.variants]
    return [*manifest.database_variants, *own]


def _restart_cases(stacks: list[manifests.Manifest]) -> list[FaultCase]:
    """Every stack with every database strategy it has, and its server settings (more processes,
    threads, another worker class: each must ride out a restart with every one of its processes)."""
    return [
        FaultCase(POSTGRES_RESTART, m.name, v, _restart)
        for m in stacks
        for v in _strategies(m, (*SYNC_VARIANTS, *manifests.SERVER_SETTINGS.get(m.name, ())))
    ]


def _killed_cases(stacks: list[manifests.Manifest]) -> list[FaultCase]:
    return [FaultCase(POSTGRES_KILLED, m.name, "pool", _killed) for m in stacks]


def _pool_cases(stacks: list[manifests.Manifest]) -> list[FaultCase]:
    """Every pooled strategy (psycopg_pool, asyncpg's pool, pgxpool)."""
    pooled = [(m.name, v) for m in stacks for v in _strategies(m, SYNC_VARIANTS) if v != PER_REQUEST]
    return [FaultCase(POOL_EXHAUSTED, name, v, _pool) for name, v in pooled]


def _sigterm_cases(stacks: list[manifests.Manifest]) -> list[FaultCase]:
    return [FaultCase(SIGTERM_IN_FLIGHT, m.name, "pool", _sigterm) for m in stacks]


def _harness_cases(stacks: list[manifests.Manifest]) -> list[FaultCase]:
    if HARNESS_STACK not in {m.name for m in stacks}:
        return []
    return [
        FaultCase(HARNESS_INTERRUPTED, HARNESS_STACK, f"{stage} {sig.name}", _interrupted)
        for sig in (signal.SIGINT, signal.SIGTERM)
        for stage in STAGES
    ]


def _overload_cases(stacks: list[manifests.Manifest]) -> list[FaultCase]:
    return [
        FaultCase(OVERLOAD, m.name, v, _overload)
        for m in stacks
        for v in OVERLOAD_VARIANTS.get(m.name, (manifests.DEFAULT_VARIANT,))
    ]


# In the order they run: the cheap, decisive ones first.
FAULTS: dict[str, Callable[[list[manifests.Manifest]], list[FaultCase]]] = {
    POSTGRES_RESTART: _restart_cases,
    POSTGRES_KILLED: _killed_cases,
    POOL_EXHAUSTED: _pool_cases,
    SIGTERM_IN_FLIGHT: _sigterm_cases,
    HARNESS_INTERRUPTED: _harness_cases,
    OVERLOAD: _overload_cases,
}


def plan(selection: list[str] | None, stacks: list[str] | None) -> list[FaultCase]:
    """Every case of the selected faults on the selected stacks; unknown names are an error."""
    faults = selection or list(FAULTS)
    if unknown := [f for f in faults if f not in FAULTS]:
        raise BenchError(f"unknown fault {unknown[0]!r}; known faults: {', '.join(FAULTS)}")
    chosen = [manifests.find(name) for name in stacks] if stacks else manifests.services()
    chosen = list({m.name: m for m in chosen}.values())
    return [case for fault in FAULTS if fault in faults for case in FAULTS[fault](chosen)]


def _crashed(case: FaultCase, exc: Exception) -> FaultResult:
    return FaultResult(
        fault=case.fault,
        stack=case.stack,
        strategy=case.strategy,
        expected="the scenario runs to its end",
        errors=0,
        error_messages={},
        recovery_s=None,
        data_lost=None,
        leftovers=0,
        passed=False,
        notes=f"scenario broke down: {type(exc).__name__}: {exc}",
    )


def _document(run_id: str, status: str, started: float, results: list[FaultResult]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "robustness",
        "run_id": run_id,
        "status": status,
        "started_at": started,
        "ended_at": time.time(),
        "passed": sum(r.passed for r in results),
        "failed": sum(not r.passed for r in results),
        "environment": environment.collect(),
        "faults": [asdict(r) for r in results],
    }


def run_faults(
    selection: list[str] | None,
    stacks: list[str] | None,
    *,
    results_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
) -> list[FaultResult]:
    """Run the selected faults (all when None) on the selected stacks (all when None).

    Writes results_dir/robustness-<timestamp>/robustness.json after every case (status
    incomplete until the last one), with each case's Locust files and server logs beside it.
    """
    cases = plan(selection, stacks)
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    run_id = "robustness-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    run_dir = results_dir / run_id
    path = run_dir / RESULT_FILE
    started = time.time()
    results: list[FaultResult] = []
    with contextlib.ExitStack() as stack:
        context = _Context(run_dir, stack)
        for number, case in enumerate(cases, start=1):
            say(f"[{number}/{len(cases)}] {case.fault} {case.stack} {case.strategy}")
            try:
                result = case(context)
            except Exception as exc:  # recorded as a FAIL with its reason, never a pass
                result = _crashed(case, exc)
            results.append(result)
            say(f"  {'PASS' if result.passed else 'FAIL'}: {result.notes}")
            write_json(path, _document(run_id, INCOMPLETE, started, results))
    write_json(path, _document(run_id, COMPLETE, started, results))
    say(f"results: {path}")
    return results


def _recovery(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _errors(result: FaultResult) -> str:
    if not result.errors:
        return "0"
    top = next(iter(result.error_messages), "")
    return f"{result.errors} ({top[:60]})" if top else str(result.errors)


_HEADER = ("fault", "stack", "strategy", "expected", "errors (top message)", "recovery", "data lost",
           "leftovers", "result")  # fmt: skip


def render_table(results: list[FaultResult]) -> str:
    """One row per case; the notes of every FAIL follow the table."""
    rows: list[tuple[str, ...]] = [_HEADER]
    for r in results:
        rows.append((
            r.fault, r.stack, r.strategy, r.expected, _errors(r), _recovery(r.recovery_s),
            "-" if r.data_lost is None else str(r.data_lost), str(r.leftovers),
            "PASS" if r.passed else "FAIL",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    failed = [r for r in results if not r.passed]
    if failed:
        lines.append("")
        lines.extend(f"FAIL {r.fault} {r.stack} {r.strategy}: {r.notes}" for r in failed)
    lines.append("")
    lines.append(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return "\n".join(lines)
