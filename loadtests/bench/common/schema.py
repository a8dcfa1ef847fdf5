"""The typed records a run writes and every reader reads: the rounds (capacity), the open-loop points,
and each Locust case.

One module, used by the writers in bench.run and the readers in bench.analysis, so a renamed field
breaks the type checker rather than a report a week later. Each record carries its schema version;
a reader refuses a version it does not know instead of guessing.
"""

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bench.common.errors import BenchError
from bench.common.results import write_text_atomic

RECORD_VERSION: Literal[1] = 1
ROUNDS_FILE = "rounds.json"
OPEN_LOOP_FILE = "open-loop.json"

Status = Literal["complete", "incomplete", "failed"]
# together: every side up for the whole run, each on its own port; alone: each window starts its side
# and stops it after (sides that would otherwise share PostgreSQL's connections, as the pooling sides).
SidesUp = Literal["together", "alone"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Record):
    """One side measured once in one round: wrk at the scenario's connection count."""

    round: int
    position: int  # where in the round's shuffled order it ran (0 first)
    side: str  # SERVICE:NAME
    scenario: str
    started_at: float
    seconds: float
    requests: int  # answers received, right or wrong
    errors: int  # answers outside the contract, and socket errors
    socket_errors: int = 0  # of those, requests never answered (refused, reset, timed out)
    rps: float  # answers within the contract per second: what the side really served
    service_cpu_ms_per_request: float | None
    postgres_cpu_ms_per_request: float | None
    generator_cpu_percent: float | None  # wrk's, 100 = one core
    generator_bound: bool  # wrk itself used nearly all its core
    p50_ms: float | None = None
    p99_ms: float | None = None
    error: str | None = None  # the window failed (wrk exited badly): no numbers
    # Where the CPU figures came from: "cgroup" (exact: every process of the service's and of
    # PostgreSQL's cgroup, short-lived backends and background processes included), "proc" (/proc's
    # per-process times plus reaped children's, bench.load.sampling); None in records written before
    # either, when the process trees were listed once a second and short-lived processes were missed.
    cpu_source: Literal["cgroup", "proc"] | None = None
    service_peak_rss_mb: float | None = None  # the service's process tree, its largest sample in the window

    @property
    def usable(self) -> bool:
        """A window that measured something (its rate counts only answers within the contract, so a
        side answering 503s fast is not credited for them)."""
        return self.error is None and self.requests > 0

    @property
    def error_share(self) -> float:
        """Errors among the requests sent: answers outside the contract and requests never answered."""
        sent = self.requests + self.socket_errors
        return self.errors / sent if sent else 0.0


class Rounds(_Record):
    """The capacity measurement of a run: every side once per round, in a seeded random order."""

    version: Literal[1] = RECORD_VERSION
    run_id: str
    status: Status
    generator: str  # wrk and its version
    sides_up: SidesUp
    seed: int
    rounds: int
    window_s: int
    warmup_s: int
    connections: int
    sides: list[str]
    scenarios: list[str]
    orders: dict[str, list[list[str]]]  # scenario -> the side order of every round
    windows: list[Window]
    # Adaptive rounds: the verdicts were looked at this many times (each look takes a share of the
    # run's error budget) and the run stopped at `stopped_after` rounds (None: ran every round).
    looks: int = 1
    stopped_after: int | None = None


class LatencyMs(_Record):
    p50: float
    p90: float
    p99: float
    p99_9: float
    max: float


# common: the same rate for every side; curve: fractions of one side's own capacity; floor: the
# generator against the cheapest endpoint (older runs only); recovery: light load right after a side's
# heaviest point.
PointKind = Literal["common", "curve", "floor", "recovery"]
# What latency_ms is measured from. intended: each request's place in the schedule (start + seq/rate),
# so time waiting for a free worker counts, and requests without a correct answer count at the timeout
# (bench.load.intended); pickup: when a vegeta worker picked the request up, over correct answers only
# (runs before the schedule was read: their tail near capacity misses the pacer's waits).
LatencyFrom = Literal["intended", "pickup"]
# Why a point was marked generator-limited. rate: vegeta fell behind with workers free; cpu: it used
# nearly all its cores; lateness: its own lateness in sending is at least half the point's p99 (the
# full rate was sent, so the p99 still bounds the side's from above); attack: vegeta failed.
LimitKind = Literal["rate", "cpu", "lateness", "attack"]


class OpenLoopPoint(_Record):
    """One side at one offered rate, sent on a fixed schedule."""

    side: str
    scenario: str
    kind: PointKind
    fraction: float  # of the reference capacity (the slowest side's for common points, its own for curves)
    offered_rps: float
    sent_rps: float  # the rate the generator really kept
    # successful answers per scheduled second, those arriving by the schedule's end plus a drain of a
    # tenth of its length (older runs: over the span to the last answer)
    goodput_rps: float
    requests: int  # sent
    successes: int
    errors: dict[str, int]  # kind ("status 503", "refused", "timeout", ...) -> count
    latency_ms: LatencyMs | None  # see latency_from; None when none succeeded
    generator_cpu_percent: float | None
    generator_limited: bool
    limit_reasons: list[str]
    started_at: float
    seconds: int
    # recovery points: seconds until every quarter second was answered in full at the side's normal
    # latency (None: not within the point)
    recovered_after_s: float | None = None
    latency_from: LatencyFrom = "pickup"
    repeat: int = 0  # common points: which repeat of the rate (each repeat shuffles the sides afresh)
    service_latency_ms: LatencyMs | None = None  # vegeta's own, from pickup, over correct answers
    scheduled: int | None = None  # requests the schedule asked for
    # scheduled but never sent: every vegeta worker was still waiting on an answer when the attack
    # ended (a shortfall with workers free, scheduled - requests - unsent, is vegeta's own lateness at
    # its cut-off, a request or two)
    unsent: int = 0
    late: int = 0  # correct answers after the drain (in latency_ms, not in goodput_rps)
    peak_in_flight: int | None = None  # requests awaiting an answer at once, at most
    own_lag_ms: float | None = None  # p99 of vegeta's own lateness in sending, while it had free workers
    limits: list[LimitKind] = []  # the kinds behind limit_reasons (older runs: empty)

    @property
    def failed(self) -> int:
        """Scheduled requests without a correct answer: error answers, timeouts and those never sent."""
        return sum(self.errors.values()) + self.unsent


class OpenLoop(_Record):
    version: Literal[1] = RECORD_VERSION
    run_id: str
    status: Status
    generator: str
    seconds: int
    reference_rps: dict[str, float]  # scenario -> the capacity the common rates are fractions of
    points: list[OpenLoopPoint]
    repeats: int = 1  # measurements of each common rate per side
    timeout_s: float | None = None  # the latency a failed request counts at in latency_ms (intended)


class _Case(BaseModel):
    # A Locust case carries more than any reader needs (its series, endpoints, workers, the server's
    # environment): the fields below are what the readers use, typed; the rest travels along.
    model_config = ConfigDict(extra="allow", frozen=True)


class CaseThroughput(_Case):
    rps: float
    window_s: float


class CaseLatency(_Case):
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    p99_9: float | None
    max: float | None


class CaseRequests(_Case):
    total: int
    failures: int


class ErrorCount(_Case):
    message: str
    occurrences: int


class CaseErrors(_Case):
    by_status: dict[str, int]
    by_message: list[ErrorCount]


class CaseResources(_Case):
    service_cpu_ms_per_request: float | None = None
    postgres_cpu_ms_per_request: float | None = None
    service_peak_rss_mb: float | None = None
    service_processes: int | None = None


class LocustCase(_Case):
    """One complete Locust case: <run>/<service>/<side>/<scenario>[.<trial>].json."""

    schema_version: Literal[1]
    status: Literal["complete"]
    run_id: str
    service: str
    variant: str
    side: str
    scenario: str
    trial: int
    trials: int
    throughput: CaseThroughput
    latency_ms: CaseLatency
    requests: CaseRequests
    errors: CaseErrors
    resources: CaseResources
    generator_bound: bool
    generator_bound_reasons: list[str]
    environment: dict[str, Any]
    database: dict[str, Any]
    load: dict[str, Any]
    server: dict[str, Any]


def parse_case(document: dict[str, Any], where: Path | str) -> LocustCase:
    """A complete case as the readers see it; the writer calls this too, so it never writes one the
    readers cannot read."""
    try:
        return LocustCase.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise BenchError(f"{where} is not a complete Locust case ({field}: {first['msg']})") from None


_R = TypeVar("_R", Rounds, OpenLoop)


def write_record(path: Path, record: BaseModel) -> None:
    write_text_atomic(path, record.model_dump_json(indent=1) + "\n")


def read_record(path: Path, kind: type[_R]) -> _R:
    """A record as it was written; a wrong version or shape is one clear error, never a guess."""
    try:
        return kind.model_validate_json(path.read_text())
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BenchError(f"{path} is not a {kind.__name__} record ({where}: {first['msg']})") from None


def read_optional(path: Path, kind: type[_R]) -> _R | None:
    return read_record(path, kind) if path.exists() else None


class _Facts(BaseModel):
    # run.json carries the whole request besides these facts; the readers take only what they use.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Environment(_Facts):
    """The machine and the versions a run measured on (bench.run.environment collects it)."""

    git_commit: str | None = None
    git_dirty: bool | None = None
    cpu_model: str = "unknown CPU"
    cpu_count: int | None = None
    kernel: str | None = None
    python: str | None = None
    go: str | None = None
    packages: dict[str, str | None] = {}
    go_modules: dict[str, str] = {}


class CpuSets(_Facts):
    mode: str | None = None
    server: list[int] | None = None
    generator: list[int] | None = None


class RunFacts(_Facts):
    """What run.json says about where and with what a run measured."""

    run_id: str
    status: str
    environment: Environment | None = None  # None in runs recorded before it was kept here
    database: dict[str, Any] | None = None
    tools: dict[str, str] = {}
    cpu_sets: CpuSets = CpuSets()

    @property
    def database_version(self) -> str | None:
        version = (self.database or {}).get("version")
        # `postgres --version` says "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
        return str(version).removeprefix("postgres (PostgreSQL) ") if version else None


def read_run_facts(run_dir: Path) -> RunFacts | None:
    path = run_dir / "run.json"
    if not path.is_file():
        return None
    try:
        return RunFacts.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise BenchError(f"{path}: not a run record this version reads: {exc.errors()[0]['msg']}") from None
