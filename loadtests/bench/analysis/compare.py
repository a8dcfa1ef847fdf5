"""Comparing sides: capacity and CPU per request from paired rounds, each against a baseline with its 95%
interval and verdict word; latency at common open-loop rates; Locust's closed-loop run as the user's view.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.analysis.latency import SideP99, paired_p99, side_p99
from bench.analysis.loading import Loaded, SideKey, load_paths
from bench.analysis.paired import (
    CHEAPER,
    COSTLIER,
    FASTER,
    SLOWER,
    Estimate,
    Ratio,
    Resolution,
    Sample,
    estimate,
    family_share,
    judge,
    resolution,
)
from bench.analysis.stats import Stat, stat
from bench.common.errors import BenchError
from bench.common.results import COMPLETE
from bench.common.schema import ROUNDS_FILE, LocustCase, OpenLoop, OpenLoopPoint, Rounds, Window, parse_case
from bench.common.sides import DEFAULT_VARIANT
from bench.load.scenarios import SCENARIOS

# With no baseline named, each side is judged against its own service's default, and each default
# against this one: the question FastAPI users bring is which server, and whether tuning pays.
REFERENCE_SIDE = "fastapi-uvicorn:default"
TIMES, DASH = "\u00d7", "\u2013"  # x and - as typeset: spelled out so no one mistakes them for ASCII
GENERATOR_MARK = "⚠ generator-bound"
GENERATOR_NOTE = (
    "Locust was the limit: its rate is what the load generator could send, not what the server can "
    "serve. Capacity and every ratio come from the wrk rounds, not from this rate."
)
# Settings that must match for numbers to be comparable, as (label, path into a result document).
_SETTINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("users", ("load", "users")),
    ("spawn_rate", ("load", "spawn_rate")),
    ("duration_s", ("load", "duration_s")),
    ("warmup_s", ("load", "warmup_s")),
    ("locust processes", ("load", "processes")),
    ("cpu_sets", ("environment", "cpu_sets")),
    ("git commit", ("environment", "git_commit")),
    ("git dirty", ("environment", "git_dirty")),
    ("CPU model", ("environment", "cpu_model")),
    ("CPU count", ("environment", "cpu_count")),
    ("kernel", ("environment", "kernel")),
    ("Python", ("environment", "python")),
    ("Go", ("environment", "go")),
    ("database version", ("database", "version")),
    ("database embedded", ("database", "embedded")),
)
# Dictionaries whose every key is a setting of its own (package versions, postgres settings).
_SETTING_MAPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("package", ("environment", "packages")),
    ("Go module", ("environment", "go_modules")),
    ("postgres", ("database", "settings")),
)


@dataclass
class LocustView:
    """The shared Locust suite's closed-loop run of a side: its flows at its users, as a user sees it."""

    documents: list[LocustCase]
    paths: list[Path]
    rps: Stat
    p50: Stat | None
    p99: Stat | None
    peak_rss_mb: Stat | None
    cpu_ms_per_request: Stat | None
    requests: int
    failures: int
    generator_bound_trials: int

    @property
    def trials(self) -> int:
        return len(self.documents)

    @property
    def generator_bound(self) -> bool:
        return self.generator_bound_trials > 0

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass
class Side:
    key: SideKey
    label: str  # SERVICE:NAME (with the run id when several runs are compared)
    scenario: str
    windows: list[Window] = field(default_factory=list)  # this side's rounds on this scenario
    capacity: Estimate | None = None  # req/s over its usable windows
    cpu: Estimate | None = None  # the service's CPU ms per request
    postgres_cpu: Estimate | None = None
    baseline: "Side | None" = None  # the side this one is judged against (None: the reference itself)
    capacity_ratio: Ratio | None = None  # against `baseline`, paired by round: a verdict of the run
    cpu_ratio: Ratio | None = None  # the same pairs on CPU per request: a number with its 95% interval
    locust: LocustView | None = None
    common: list[OpenLoopPoint] = field(default_factory=list)  # the same rates as every other side
    curve: list[OpenLoopPoint] = field(default_factory=list)  # fractions of its own capacity
    recovery: list[OpenLoopPoint] = field(default_factory=list)  # light load right after its heaviest point
    timeout_ms: float | None = None  # what a failed open-loop request counts as in its run's p99
    p99: SideP99 | None = None  # at the scenario's middle common rate, over its repeats
    p99_ratio: Ratio | None = None  # against `baseline`, paired by repeat: a verdict of the run

    @property
    def stack(self) -> str:
        return self.key.service

    @property
    def window_errors(self) -> int:
        return sum(w.errors for w in self.windows)

    @property
    def error_share(self) -> float:
        """Errors among every request the rounds sent this side."""
        sent = sum(w.requests + w.socket_errors for w in self.windows)
        return self.window_errors / sent if sent else 0.0

    @property
    def unusable_windows(self) -> int:
        return sum(not w.usable for w in self.windows)

    @property
    def wrk_bound_windows(self) -> int:
        return sum(w.generator_bound for w in self.windows)

    @property
    def peak_rss_mb(self) -> float | None:
        """The largest the service's memory was, in the Locust pass or in any of its windows."""
        seen = [w.service_peak_rss_mb for w in self.windows if w.service_peak_rss_mb]
        if self.locust and self.locust.peak_rss_mb:
            seen.append(self.locust.peak_rss_mb.high)
        return max(seen) if seen else None

    def p99_at(self, rate: float) -> OpenLoopPoint | None:
        return next((p for p in self.common if abs(p.offered_rps - rate) < 0.5), None)

    def common_at(self, rate: float) -> list[OpenLoopPoint]:
        """Every repeat of the common rate."""
        return [p for p in self.common if abs(p.offered_rps - rate) < 0.5]

    @property
    def locust_disagrees(self) -> str | None:
        """Locust's rate against the rounds' interval: Locust cannot outrun wrk on the same server, and
        a Locust run that was not its own limit should land inside it."""
        if self.locust is None or self.capacity is None or self.capacity.high is None:
            return None
        rate, low, high = self.locust.rps.median, self.capacity.low or 0.0, self.capacity.high
        if rate > high:
            return (
                f"Locust's {rate:,.0f} req/s is above the rounds' interval [{low:,.0f}, {high:,.0f}]: "
                "the machine was faster while Locust ran"
            )
        if rate < low:
            share = rate / self.capacity.value
            why = (
                "Locust was its own limit"
                if self.locust.generator_bound
                else "Locust's one core and its users' checks set the pace, not the server"
            )
            return f"Locust reached {share:.0%} of the rounds' capacity, below its interval: {why}"
        return None

    def commonest_error(self) -> str | None:
        """The message seen most often: from the Locust pass (which keeps messages, such as
        PostgreSQL's "too many clients already"), else the open-loop points' error kinds."""
        counts: dict[str, int] = {}
        for document in self.locust.documents if self.locust else []:
            for row in document.errors.by_message:
                counts[row.message] = counts.get(row.message, 0) + row.occurrences
        if not counts:
            for point in (*self.common, *self.curve):
                for kind, count in point.errors.items():
                    counts[kind] = counts.get(kind, 0) + count
        return max(counts, key=lambda k: counts[k]) if counts else None

    def described(self) -> str:
        """`label ratio [interval] word`, with the side's error share and commonest error when it erred."""
        assert self.capacity_ratio is not None
        text = f"{self.label} {self.capacity_ratio.describe()}"
        if self.window_errors:
            commonest = self.commonest_error()
            text += (
                f" ({self.error_share:.0%} errors" + (f", mostly `{commonest}`" if commonest else "") + ")"
            )
        return text

    @property
    def wrk_bound(self) -> bool:
        """wrk itself was the limit in most windows: the capacity is a lower bound."""
        return 2 * self.wrk_bound_windows > len(self.windows)


@dataclass
class ScenarioComparison:
    scenario: str
    sides: list[Side]  # by capacity, highest first (by Locust's rate when there were no rounds)
    baseline: Side  # the reference: the side every side without a baseline of its own is judged against
    baseline_reason: str
    common_rates: list[float] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # answers, then notes, as the report prints them
    answers: list[str] = field(default_factory=list)  # each baseline's verdicts in one sentence

    def judged(self) -> list[Side]:
        return [s for s in self.sides if s.baseline is not None and s.capacity_ratio is not None]

    @property
    def p99_rate(self) -> float | None:
        """The common rate the compact table and the p99 verdicts use: the middle one."""
        return self.common_rates[len(self.common_rates) // 2] if self.common_rates else None


@dataclass(frozen=True)
class Excluded:
    """A case left out of every number: interrupted, failed, or never written."""

    label: str
    scenario: str
    trial: int
    status: str
    reason: str
    path: Path | None


@dataclass(frozen=True)
class Mismatch:
    setting: str
    values: dict[str, str]  # side label -> value ("a | b" when a side's own trials differ)


@dataclass
class Comparison:
    sources: list[Path]
    scenarios: list[ScenarioComparison]
    excluded: list[Excluded]
    mismatches: list[Mismatch]
    rounds: list[Rounds] = field(default_factory=list)
    open_loop: list[OpenLoop] = field(default_factory=list)
    share: int = 1  # the run's 5% error budget is split into this many equal shares (comparisons x looks)
    resolution: Resolution | None = None  # what these rounds could decide, from their spread


def _dig(document: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = document
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _locust(trials: list[tuple[Path, LocustCase]]) -> LocustView:
    trials = sorted(trials, key=lambda item: item[1].trial)
    docs = [doc for _, doc in trials]
    rps = stat([d.throughput.rps for d in docs])
    assert rps is not None  # one trial at least
    return LocustView(
        documents=docs,
        paths=[path for path, _ in trials],
        rps=rps,
        p50=stat([d.latency_ms.p50 for d in docs]),
        p99=stat([d.latency_ms.p99 for d in docs]),
        peak_rss_mb=stat([d.resources.service_peak_rss_mb for d in docs]),
        cpu_ms_per_request=stat([d.resources.service_cpu_ms_per_request for d in docs]),
        requests=sum(d.requests.total for d in docs),
        failures=sum(d.requests.failures for d in docs),
        generator_bound_trials=sum(d.generator_bound for d in docs),
    )


def _labels(keys: list[SideKey]) -> dict[SideKey, str]:
    # The run id only earns its place in a label when more than one run is being compared.
    several_runs = len({k.run_id for k in keys}) > 1
    labels = {}
    for key in keys:
        label = f"{key.service}:{key.variant}"
        if several_runs:
            label += f" @ {key.run_id}"
        if key.copy:
            label += f" #{key.copy + 1}"
        labels[key] = label
    return labels


def _matches(key: SideKey, wanted: str) -> bool:
    names = {key.id, key.run_id, key.service, key.variant, f"{key.service}/{key.variant}",
             f"{key.service}:{key.variant}"}  # fmt: skip
    return wanted in names


def _pick_baseline(sides: list[Side], wanted: str | None) -> tuple[Side, str]:
    if wanted is not None:
        chosen = [s for s in sides if _matches(s.key, wanted)]
        if chosen:
            return chosen[0], f"chosen ({wanted!r})"
    prefix = f"{wanted!r} is not in this scenario, so " if wanted is not None else ""
    reference = [s for s in sides if f"{s.key.service}:{s.key.variant}" == REFERENCE_SIDE]
    if reference:
        return reference[0], f"{prefix}FastAPI on uvicorn as shipped (the default reference)"
    return sides[0], f"{prefix}the first side (no {REFERENCE_SIDE} side to use)"


def _own_baseline(side: Side, sides: list[Side], wanted: str | None, reference: Side) -> Side | None:
    """A side is judged against its own service's side named by the baseline (its default, when none
    is named): a tuned server against itself as shipped. A side that is that side, or whose service
    has none, is judged against the reference; the reference itself against nothing."""
    if side is reference:
        return None
    own_name = wanted if wanted is not None else f"{side.key.service}:{DEFAULT_VARIANT}"
    own = [s for s in sides if s.key.service == side.key.service and _matches(s.key, own_name)]
    own.sort(key=lambda s: s.key.run_id != side.key.run_id)  # its own run's first: rounds pair within a run
    if own and own[0] is not side:
        return own[0]
    return reference


def _paired(side: Side, base: Side, metric: str) -> tuple[list[float], list[float]]:
    """The metric's values of both sides over the rounds where both measured cleanly."""
    mine = {w.round: w for w in side.windows if w.usable}
    theirs = {w.round: w for w in base.windows if w.usable}
    values: list[float] = []
    base_values: list[float] = []
    for round_no in sorted(mine.keys() & theirs.keys()):
        a, b = getattr(mine[round_no], metric), getattr(theirs[round_no], metric)
        if a is not None and b is not None:
            values.append(float(a))
            base_values.append(float(b))
    return values, base_values


def _describe_side(side: Side) -> None:
    side.capacity = estimate([w.rps for w in side.windows if w.usable])
    side.cpu = estimate([w.service_cpu_ms_per_request for w in side.windows
                         if w.usable and w.service_cpu_ms_per_request is not None])  # fmt: skip
    side.postgres_cpu = estimate([w.postgres_cpu_ms_per_request for w in side.windows
                                  if w.usable and w.postgres_cpu_ms_per_request is not None])  # fmt: skip


def _samples(side: Side) -> tuple[Sample, Sample] | None:
    """Capacity and CPU pairs of a side and its baseline; rounds pair only within one run (two runs'
    round 3 have nothing in common)."""
    base = side.baseline
    if base is None or side.key.run_id != base.key.run_id:
        return None
    cpu, base_cpu = _paired(side, base, "service_cpu_ms_per_request")
    return Sample(*_paired(side, base, "rps")), Sample(cpu, base_cpu, COSTLIER, CHEAPER)


def _p99_sample(side: Side, rate: float | None) -> Sample | None:
    base = side.baseline
    if rate is None or base is None or side.key.run_id != base.key.run_id:
        return None
    values, base_values = paired_p99(side.common_at(rate), base.common_at(rate), side.timeout_ms)
    return Sample(values, base_values, SLOWER, FASTER, "repeats") if values else None


def judge_together(comparisons: list[Comparison]) -> None:
    """Every verdict the comparisons print (capacity, and p99 at the common rate where measured)
    shares one 5% error budget (the rounds' looks take their shares too), so a run's verdicts hold
    together; CPU per request is shown as a ratio with its own 95% interval beside them, not as a
    second verdict."""
    pairs = [(side, found) for c in comparisons for s in c.scenarios for side in s.sides
             if (found := _samples(side)) is not None]  # fmt: skip
    latency = [(side, p99) for c in comparisons for s in c.scenarios for side in s.sides
               if (p99 := _p99_sample(side, s.p99_rate)) is not None]  # fmt: skip
    looks = max((record.looks for c in comparisons for record in c.rounds), default=1)
    counts = [len(capacity.logs()) for _, (capacity, _) in pairs] + [len(p.logs()) for _, p in latency]
    share = family_share(counts, looks)
    for side, (capacity, cpu) in pairs:
        side.capacity_ratio = judge(capacity, share)
        side.cpu_ratio = judge(cpu)
    for side, sample in latency:
        side.p99_ratio = judge(sample, share)
    for comparison in comparisons:
        for scenario in comparison.scenarios:
            rate = scenario.p99_rate
            for side in scenario.sides:
                if rate is not None and side.common_at(rate):
                    side.p99 = side_p99(side.label, side.common_at(rate), side.timeout_ms)
    resolved = resolution([capacity for _, (capacity, _) in pairs], share)
    for comparison in comparisons:
        comparison.share, comparison.resolution = share, resolved
        for scenario in comparison.scenarios:
            scenario.answers = answers(scenario)
            scenario.findings = scenario.answers + notes(scenario, resolved)


def _scenario_order(name: str) -> tuple[int, str]:
    known = list(SCENARIOS)
    return (known.index(name) if name in known else len(known), name)


def _key_for(run_id: str, label: str) -> SideKey:
    service, _, name = label.partition(":")
    return SideKey(run_id, service, name)


def _gather(loaded: Loaded, services: set[str] | None) -> dict[str, dict[SideKey, Side]]:
    """scenario -> side key -> Side with its windows, open-loop points and Locust trials attached."""
    grouped: dict[str, dict[SideKey, Side]] = {}
    outside = Side(SideKey("", "", ""), "", "")  # collects what a view leaves out

    def side(scenario: str, key: SideKey) -> Side:
        if services is not None and key.service not in services:
            return outside
        return grouped.setdefault(scenario, {}).setdefault(key, Side(key, "", scenario))

    for _, record in loaded.rounds:
        for label in record.sides:  # a side whose every window failed still shows, as failed
            for scenario in record.scenarios:
                side(scenario, _key_for(record.run_id, label))
        for window in record.windows:
            side(window.scenario, _key_for(record.run_id, window.side)).windows.append(window)
    for _, open_loop in loaded.open_loop:
        timeout_ms = open_loop.timeout_s * 1000 if open_loop.timeout_s is not None else None
        for point in open_loop.points:
            if point.kind == "floor":
                continue
            found = side(point.scenario, _key_for(open_loop.run_id, point.side))
            found.timeout_ms = timeout_ms
            {"common": found.common, "curve": found.curve, "recovery": found.recovery}[point.kind].append(
                point
            )
    trials: dict[tuple[str, SideKey], list[tuple[Path, LocustCase]]] = {}
    for key, path, doc in loaded.cases:
        if doc.get("status") == COMPLETE:
            case = parse_case(doc, path)
            trials.setdefault((case.scenario, key), []).append((path, case))
    for (scenario, key), cases in trials.items():
        side(scenario, key).locust = _locust(cases)
    return grouped


def _served(side: Side) -> float:
    if side.capacity is not None:
        return side.capacity.value
    return side.locust.rps.median if side.locust else 0.0


def _scenarios(loaded: Loaded, baseline: str | None, services: set[str] | None) -> list[ScenarioComparison]:
    grouped = _gather(loaded, services)
    labels = _labels([key for by_key in grouped.values() for key in by_key])
    result = []
    for scenario in sorted(grouped, key=_scenario_order):
        sides = list(grouped[scenario].values())
        for side in sides:
            side.label = labels[side.key]
        base, reason = _pick_baseline(sides, baseline)
        for side in sides:
            side.baseline = _own_baseline(side, sides, baseline, base)
            _describe_side(side)
        sides.sort(key=_served, reverse=True)
        rates = sorted({p.offered_rps for s in sides for p in s.common})
        result.append(ScenarioComparison(scenario, sides, base, reason, rates))
    return result


def _rate(value: float) -> str:
    return f"{value / 1000:.1f}k" if value >= 10_000 else f"{value:,.0f}"


def _by_baseline(sides: list[Side]) -> dict[str, list[Side]]:
    grouped: dict[str, list[Side]] = {}
    for side in sides:
        assert side.baseline is not None
        grouped.setdefault(side.baseline.label, []).append(side)
    return grouped


def answers(comparison: ScenarioComparison) -> list[str]:
    """The scenario's answer: each side against its baseline with its interval and verdict, one
    sentence per baseline."""
    lines = []
    for base, sides in _by_baseline(comparison.judged()).items():
        lines.append(f"Against {base}: " + ", ".join(s.described() for s in sides) + ".")
    return lines


def notes(comparison: ScenarioComparison, found: Resolution | None = None) -> list[str]:
    """What the rounds could not tell, then latency at the same offered rate."""
    lines = []
    judged = comparison.judged()
    if found is not None and any(not s.capacity_ratio.decided for s in judged if s.capacity_ratio):
        lines.append(f"Unclear means not decided: {found.describe()}.")
    rate = comparison.p99_rate
    latency = [s for s in comparison.sides if s.p99_ratio is not None]
    if rate is not None and latency:
        repeats = max((s.p99.repeats for s in comparison.sides if s.p99), default=0)
        parts = [f"{s.label} {s.p99_ratio.describe()} vs {s.baseline.label}" for s in latency
                 if s.p99_ratio and s.baseline]  # fmt: skip
        lines.append(
            f"p99 at {_rate(rate)} req/s offered open-loop ({repeats} repeats, from intended send times), "
            "each against its baseline: " + ", ".join(parts) + "."
        )
    return lines


def verdict(comparison: Comparison) -> str | None:
    """The comparison's first finding per scenario: each side against its baseline, with its interval."""
    firsts = [s.findings[0] for s in comparison.scenarios if s.findings]
    return " ".join(firsts) if firsts else None


def _excluded(loaded: Loaded) -> list[Excluded]:
    keys = list(dict.fromkeys([k for k, _, _ in loaded.cases] + [k for k, _ in loaded.unwritten]))
    labels = _labels(keys)
    rows = [
        Excluded(
            labels[key],
            str(doc.get("scenario", "?")),
            int(doc.get("trial", 0)),
            str(doc.get("status", "?")),
            str(doc.get("reason", "no reason recorded")),
            path,
        )
        for key, path, doc in loaded.cases
        if doc.get("status") != COMPLETE
    ]
    rows += [
        Excluded(
            labels[key],
            str(case.get("scenario", "?")),
            int(case.get("trial", 0)),
            str(case.get("status", "?")),
            str(case.get("error") or "no result file written"),
            None,
        )
        for key, case in loaded.unwritten
    ]
    for _, record in loaded.rounds:
        for window in record.windows:
            if window.error is not None:
                rows.append(Excluded(window.side, window.scenario, window.round, "failed window",
                                     window.error, None))  # fmt: skip
    return rows


def _mismatches(loaded: Loaded) -> list[Mismatch]:
    labels = _labels(list(dict.fromkeys(k for k, _, _ in loaded.cases)))
    values: dict[str, dict[str, list[str]]] = {}

    def note(setting: str, label: str, value: Any) -> None:
        seen = values.setdefault(setting, {}).setdefault(label, [])
        if _show(value) not in seen:
            seen.append(_show(value))

    for key, _, doc in loaded.cases:
        if doc.get("status") != COMPLETE:
            continue
        label = labels[key]
        for setting, where in _SETTINGS:
            note(setting, label, _dig(doc, where))
        for prefix, where in _SETTING_MAPS:
            mapping = _dig(doc, where) or {}
            for name in sorted(mapping):
                note(f"{prefix} {name}", label, mapping[name])
    mismatches = []
    for setting, by_label in values.items():
        shown = {label: " | ".join(seen) for label, seen in by_label.items()}
        if len(set(shown.values())) > 1 or any(len(seen) > 1 for seen in by_label.values()):
            mismatches.append(Mismatch(setting, shown))
    return mismatches


def compare_loaded(
    loaded: Loaded, baseline: str | None, services: set[str] | None = None, *, alone: bool = True
) -> Comparison:
    """The comparison of what `load_paths` found (only the sides of `services`, when given); judged
    on its own unless `alone` is False (the caller then judges several views together)."""
    comparison = Comparison(
        sources=loaded.sources,
        scenarios=_scenarios(loaded, baseline, services),
        excluded=_excluded(loaded),
        mismatches=_mismatches(loaded),
        rounds=[record for _, record in loaded.rounds],
        open_loop=[record for _, record in loaded.open_loop],
    )
    if alone:
        judge_together([comparison])
    return comparison


def compare_paths(
    paths: list[Path], baseline: str | None, *, services: set[str] | None = None, alone: bool = True
) -> Comparison:
    """Compare every result under `paths`.

    `baseline` names a side: run/service/variant, service/variant, service:variant, service, variant or
    run id, the variant as the side is named (default@workers=2 for a side with its own settings): each
    side is judged against its own service's matching side, else the first matching side. None: each
    side against its own service's default, and those against fastapi-uvicorn:default.
    """
    loaded = load_paths(paths)
    if not loaded.cases and not loaded.unwritten and not loaded.rounds and not loaded.open_loop:
        raise BenchError(f"no results found in {', '.join(map(str, paths))}")
    comparison = compare_loaded(loaded, baseline, services, alone=alone)
    check_baseline(comparison, baseline)
    return comparison


def check_baseline(comparison: Comparison, baseline: str | None) -> None:
    """A baseline that names no side at all is a typo: say so rather than quietly use the default."""
    sides = [side for s in comparison.scenarios for side in s.sides]
    if baseline is not None and sides and not any(_matches(side.key, baseline) for side in sides):
        known = sorted({side.key.id for side in sides})
        raise BenchError(f"baseline {baseline!r} matches no side; the sides are: {', '.join(known)}")


def all_decided(record: Rounds, views: tuple[tuple[str | None, tuple[str, ...]], ...]) -> bool:
    """Whether every capacity verdict of the views is decided on these rounds so far, judged as the
    finished run will be (its looks taking their shares): adaptive rounds stop on it."""
    loaded = Loaded(sources=[], rounds=[(Path(ROUNDS_FILE), record)])
    comparisons = [compare_loaded(loaded, baseline, set(services) or None, alone=False)
                   for baseline, services in views]  # fmt: skip
    judge_together(comparisons)
    ratios = [s.capacity_ratio for c in comparisons for each in c.scenarios for s in each.judged()]
    return bool(ratios) and all(r is not None and r.decided for r in ratios)
