"""Reading what one headless Locust run left behind (JSON summary, CSV history and failures, log) into types.

Locust run with `--json-file P --csv P --csv-full-history --logfile P.log` writes:
- `P.json`: one object per (method, name) with counts, exact min/max/total response times, and the
  `response_times` histogram ({bucketed ms: count}, about two significant digits). Written once, at exit.
- `P_stats_history.csv`: a row per endpoint and one `Aggregated` row every second, with cumulative totals,
  the current user count, and Locust's sliding 10-second requests/s and percentiles.
- `P_failures.csv`: failures grouped by (method, name, error text); `P_exceptions.csv`: exceptions raised
  in user code (a broken locustfile), with their tracebacks.
- `P_stats.csv` repeats the JSON's numbers without the histogram, so it is not read here.
The CSV files are rewritten on a one-second timer; the suite's locustfile waits one tick after the users
stop so their last state is final.
"""

import ast
import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common.errors import BenchError

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p999": 0.999}
# Locust's generator-saturation warnings: the one it logs while running and its two end-of-run echoes.
CPU_WARNINGS = ("CPU usage above", "CPU usage was too high", "CPU usage threshold was exceeded")
AGGREGATED = "Aggregated"
OTHER_STATUS = "other"

_STATUS_PREFIX = re.compile(r"HTTP (\d{1,3}):")
# Locust writes an exception's repr; a plain-string failure arrives as CatchResponseError('message').
_WRAPPED_MESSAGE = re.compile(r"[A-Za-z_][\w.]*\((?P<literal>'.*'|\".*\")\)", re.DOTALL)
_HISTORY_COLUMNS = (
    "Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", "50%", "95%", "99%",
    "Total Request Count", "Total Failure Count",
)  # fmt: skip
_FAILURE_COLUMNS = ("Method", "Name", "Error", "Occurrences")
_EXCEPTION_COLUMNS = ("Count", "Message", "Traceback")


@dataclass(frozen=True)
class EndpointStats:
    """One statistics row; times in milliseconds, None when no request of the row was timed."""

    method: str
    name: str
    requests: int
    failures: int
    mean: float | None  # exact: Locust sums every response time
    p50: float | None  # percentiles: from the bucketed histogram, as Locust computes them
    p90: float | None
    p95: float | None
    p99: float | None
    p999: float | None
    max: float | None  # exact


@dataclass(frozen=True)
class ErrorGroup:
    method: str
    name: str
    message: str
    occurrences: int


@dataclass(frozen=True)
class UserException:
    count: int
    message: str
    traceback: str


@dataclass(frozen=True)
class SeriesPoint:
    """One `Aggregated` row of the per-second history."""

    timestamp: int  # unix seconds, truncated by Locust
    user_count: int
    rps: float  # Locust's sliding ~10 s average, for plotting; throughput comes from the totals
    failures_per_s: float
    p50: float | None  # Locust's percentiles over the last ~10 s, ms
    p95: float | None
    p99: float | None
    total_requests: int  # cumulative since the stats were reset
    total_failures: int


@dataclass(frozen=True)
class LocustSummary:
    started_at: float  # unix time the measured stats start (after --reset-stats)
    ended_at: float  # unix time of the last request
    total_requests: int
    total_failures: int
    endpoints: tuple[EndpointStats, ...]
    aggregate: EndpointStats
    errors: tuple[ErrorGroup, ...]
    errors_by_status: dict[str, int]  # "503": occurrences; "0" transport errors; "other" unprefixed
    exceptions: tuple[UserException, ...]
    series: tuple[SeriesPoint, ...]  # only rows written after the stats were reset
    cpu_warning: bool


@dataclass(frozen=True)
class _Entry:
    """One JSON statistics object, checked."""

    method: str
    name: str
    requests: int
    timed: int  # requests with a response time (Locust's num_requests - num_none_requests)
    failures: int
    total_ms: float
    min_ms: float | None
    max_ms: float
    histogram: dict[float, int]
    start_time: float
    last_request: float | None


def percentile(histogram: Mapping[float, int], fraction: float) -> float | None:
    """The response time `fraction` of the samples finished within, by Locust's rule.

    Locust allows int(n * fraction) samples to lie strictly below the answer and returns the largest
    bucket that satisfies it; walking the buckets upwards, that is the last one reached before more
    than that many samples have been passed. None for an empty histogram.
    """
    allowed_below = int(sum(histogram.values()) * fraction)
    answer = None
    below = 0
    for bucket in sorted(histogram):
        if below > allowed_below:
            break
        answer = bucket
        below += histogram[bucket]
    return answer


def _clamp(value: float | None, low: float | None, high: float) -> float | None:
    # Buckets keep two significant digits while min and max are exact; Locust clamps its median
    # the same way so that a percentile never reads above the true max (or below the true min).
    if value is None:
        return None
    if low is not None:
        value = max(value, low)
    return round(min(value, high), 3)  # rounded as max is, so a clamped percentile compares equal to it


def _merge(method: str, name: str, entries: list[_Entry]) -> EndpointStats:
    histogram: dict[float, int] = {}
    for entry in entries:
        for bucket, count in entry.histogram.items():
            histogram[bucket] = histogram.get(bucket, 0) + count
    timed = sum(e.timed for e in entries)
    mins = [e.min_ms for e in entries if e.min_ms is not None]
    low = min(mins) if mins else None
    high = max(e.max_ms for e in entries)
    figures = {key: _clamp(percentile(histogram, q), low, high) for key, q in PERCENTILES.items()}
    return EndpointStats(
        method=method,
        name=name,
        requests=sum(e.requests for e in entries),
        failures=sum(e.failures for e in entries),
        mean=round(sum(e.total_ms for e in entries) / timed, 3) if timed else None,
        max=round(high, 3) if timed else None,
        **figures,
    )


def _read_text(path: Path) -> str:
    try:
        # newline="": the csv module handles line ends itself, including those inside quoted tracebacks.
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise BenchError(f"Locust left no {path}: did it start, and was it given this prefix?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"cannot read Locust output {path}: {exc}") from None


def _number(value: Any, path: Path, where: str, *, integer: bool = False, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (integer and isinstance(value, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise BenchError(f"{path}: {where} is {value!r}, not a non-negative number")
    return value


def _entry(raw: Any, path: Path, index: int) -> _Entry:
    if not isinstance(raw, dict):
        raise BenchError(f"{path}: entry {index} is not an object")
    where = f"entry {index} ({raw.get('method')} {raw.get('name')})"
    method, name = raw.get("method"), raw.get("name")
    if not isinstance(method, str) or not isinstance(name, str):
        raise BenchError(f"{path}: {where} has no method or name")
    histogram_raw = raw.get("response_times")
    if not isinstance(histogram_raw, dict):
        raise BenchError(f"{path}: {where} has no response_times histogram")
    histogram: dict[float, int] = {}
    for bucket, count in histogram_raw.items():
        try:
            key = float(bucket)
        except ValueError:
            raise BenchError(f"{path}: {where} has a histogram bucket {bucket!r}") from None
        if _number(count, path, f"{where} bucket {bucket}", integer=True):
            histogram[key] = histogram.get(key, 0) + count
    requests = _number(raw.get("num_requests"), path, f"{where} num_requests", integer=True)
    timed = requests - _number(
        raw.get("num_none_requests", 0), path, f"{where} num_none_requests", integer=True
    )
    if sum(histogram.values()) != timed:
        raise BenchError(f"{path}: {where} histogram holds {sum(histogram.values())} samples, not {timed}")
    return _Entry(
        method=method,
        name=name,
        requests=requests,
        timed=timed,
        failures=_number(raw.get("num_failures"), path, f"{where} num_failures", integer=True),
        total_ms=_number(raw.get("total_response_time"), path, f"{where} total_response_time"),
        min_ms=_number(raw.get("min_response_time"), path, f"{where} min_response_time", optional=True),
        max_ms=_number(raw.get("max_response_time"), path, f"{where} max_response_time"),
        histogram=histogram,
        start_time=_number(raw.get("start_time"), path, f"{where} start_time"),
        last_request=_number(
            raw.get("last_request_timestamp"), path, f"{where} last_request_timestamp", optional=True
        ),
    )


def _read_entries(path: Path) -> list[_Entry]:
    try:
        document = json.loads(_read_text(path))
    except ValueError as exc:
        raise BenchError(f"{path} is truncated or not JSON ({exc})") from None
    if not isinstance(document, list):
        raise BenchError(f"{path}: expected a list of statistics entries")
    if not document:
        raise BenchError(f"{path}: Locust recorded no requests at all")
    return [_entry(raw, path, index) for index, raw in enumerate(document)]


def _read_csv(path: Path, columns: Iterable[str]) -> list[dict[str, str]]:
    text = _read_text(path)
    # Locust writes the header before the first request; no header, or a last line without its
    # line break, means the file was cut off (the process killed mid-write, a full disk).
    if not text or not text.endswith("\n"):
        raise BenchError(f"{path} is empty or truncated")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise BenchError(f"{path}: missing columns {', '.join(missing)}")
    rows = []
    for line, row in enumerate(reader, start=2):
        if None in row or None in row.values():
            raise BenchError(f"{path}: line {line} has the wrong number of fields")
        rows.append(row)
    return rows


def _int(row: Mapping[str, str], column: str, path: Path) -> int:
    try:
        return int(row[column])
    except ValueError:
        raise BenchError(f"{path}: {column} is {row[column]!r}, not an integer") from None


def _float(row: Mapping[str, str], column: str, path: Path) -> float:
    try:
        return float(row[column])
    except ValueError:
        raise BenchError(f"{path}: {column} is {row[column]!r}, not a number") from None


def _read_series(path: Path, started_at: float) -> tuple[SeriesPoint, ...]:
    points = []
    for row in _read_csv(path, _HISTORY_COLUMNS):
        if row["Name"] != AGGREGATED or row["Type"]:
            continue
        timestamp = _int(row, "Timestamp", path)
        # A row stamped in the reset's own second may predate the reset: keep only rows stamped after it.
        if timestamp <= started_at:
            continue
        points.append(
            SeriesPoint(
                timestamp=timestamp,
                user_count=_int(row, "User Count", path),
                rps=_float(row, "Requests/s", path),
                failures_per_s=_float(row, "Failures/s", path),
                p50=None if row["50%"] == "N/A" else _float(row, "50%", path),
                p95=None if row["95%"] == "N/A" else _float(row, "95%", path),
                p99=None if row["99%"] == "N/A" else _float(row, "99%", path),
                total_requests=_int(row, "Total Request Count", path),
                total_failures=_int(row, "Total Failure Count", path),
            )
        )
    return tuple(points)


def failure_message(error: str) -> str:
    """The message a failure was raised with, without Locust's `SomeError('...')` wrapping."""
    wrapped = _WRAPPED_MESSAGE.fullmatch(error.strip())
    if wrapped is None:
        return error
    try:
        message = ast.literal_eval(wrapped["literal"])
    except (ValueError, SyntaxError):
        return error
    return message if isinstance(message, str) else error


def status_of(message: str) -> str:
    """The status a message starts with: `HTTP 503: ...` gives "503", a transport error "0", else "other"."""
    prefix = _STATUS_PREFIX.match(message)
    return str(int(prefix[1])) if prefix else OTHER_STATUS


def _read_errors(path: Path) -> tuple[ErrorGroup, ...]:
    return tuple(
        ErrorGroup(row["Method"], row["Name"], failure_message(row["Error"]), _int(row, "Occurrences", path))
        for row in _read_csv(path, _FAILURE_COLUMNS)
    )


def _read_exceptions(path: Path) -> tuple[UserException, ...]:
    return tuple(
        UserException(_int(row, "Count", path), row["Message"], row["Traceback"])
        for row in _read_csv(path, _EXCEPTION_COLUMNS)
    )


def has_cpu_warning(text: str) -> bool:
    return any(marker in text for marker in CPU_WARNINGS)


def parse_locust_output(prefix: Path, log_text: str | None = None) -> LocustSummary:
    """Everything one run wrote under `prefix`; `log_text` is any extra output (stderr) to scan too.

    Raises BenchError naming the file when one is missing, truncated or inconsistent.
    """
    json_path = Path(f"{prefix}.json")
    entries = _read_entries(json_path)
    ends = [e.last_request for e in entries if e.last_request is not None]
    if not ends:
        raise BenchError(f"{json_path}: no entry has a last request time")
    started_at = min(e.start_time for e in entries)
    endpoints = tuple(
        _merge(e.method, e.name, [e]) for e in sorted(entries, key=lambda e: (e.name, e.method))
    )
    aggregate = _merge("", AGGREGATED, entries)
    errors = _read_errors(Path(f"{prefix}_failures.csv"))
    by_status: dict[str, int] = {}
    for error in errors:
        status = status_of(error.message)
        by_status[status] = by_status.get(status, 0) + error.occurrences
    log_path = Path(f"{prefix}.log")
    log = _read_text(log_path) if log_path.exists() else ""
    return LocustSummary(
        started_at=started_at,
        ended_at=max(ends),
        total_requests=aggregate.requests,
        total_failures=aggregate.failures,
        endpoints=endpoints,
        aggregate=aggregate,
        errors=errors,
        errors_by_status=dict(sorted(by_status.items())),
        exceptions=_read_exceptions(Path(f"{prefix}_exceptions.csv")),
        series=_read_series(Path(f"{prefix}_stats_history.csv"), started_at),
        cpu_warning=has_cpu_warning(log) or has_cpu_warning(log_text or ""),
    )


def steady_rps(series: Iterable[SeriesPoint], skip_seconds: float = 0) -> tuple[float, float]:
    """(requests per second, window in seconds) over the steady part of a run, from cumulative totals.

    The window opens at the first point at least `skip_seconds` after the series' first point, and
    closes at the last point written while the full user count was still running, so neither a
    warm-up nor the drain after the stop counts. Throughput is (total requests at the close - total
    at the open) / (close - open): every request in between counts exactly once, where averaging
    Locust's Requests/s column would average a sliding 10-second mean sampled once a second. Locust
    truncates the timestamps to whole seconds, so the window is good to about a second: measure for
    tens of seconds. Raises BenchError when the window holds fewer than two points.
    """
    points = list(series)
    if not points:
        raise BenchError("Locust's history has no rows after the stats reset: the run was too short")
    peak_users = max(p.user_count for p in points)
    start = points[0].timestamp + skip_seconds
    window = [p for p in points if p.timestamp >= start]
    loaded = [p for p in window if p.user_count == peak_users]
    if len(loaded) < 2:
        raise BenchError(
            f"too few seconds of full load after skipping {skip_seconds:g}s "
            f"({len(points)} history rows): run for longer"
        )
    first, last = loaded[0], loaded[-1]
    seconds = float(last.timestamp - first.timestamp)
    return (last.total_requests - first.total_requests) / seconds, seconds
