"""Comparing result sets: per scenario, each side's trials summarised, set against a baseline, and tested."""

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.analysis.loading import Loaded, SideKey, load_paths
from bench.analysis.stats import SPREAD_WARNING, PermutationResult, Stat, permutation_test, stat
from bench.common.errors import BenchError
from bench.load.scenarios import SCENARIOS
from bench.run.results import COMPLETE

BASELINE_SERVICE = "go-gin"
# Locust cannot outrun wrk on one server: a share above this (the tolerance the ceiling meets against
# plain wrk, docs/ceiling-agreement.md) means the ceiling's few seconds fell in a slower moment.
CEILING_BELOW_LOCUST = 1.15
ALPHA = 0.05
SPREAD_MARK = "⚠"
TIMES, DASH = "\u00d7", "\u2013"  # x and - as typeset: spelled out so no one mistakes them for ASCII
GENERATOR_MARK = "⚠ generator-bound"
GENERATOR_NOTE = (
    "Locust was the limit; the server's true capacity is higher: this side's RPS is a lower bound, "
    "and a ratio involving it measures the load generator rather than the server."
)
SPREAD_NOTE = (
    f"{SPREAD_MARK} after a value: its spread (max - min over the trials) exceeds "
    f"{SPREAD_WARNING:.0%} of its median; the trials disagree, so read small differences as noise."
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


@dataclass(frozen=True)
class Verdict:
    kind: str  # "baseline", "significant", "noise" or "single"
    text: str
    test: PermutationResult | None = None
    caveat: str = ""


@dataclass
class Side:
    key: SideKey
    label: str
    scenario: str
    documents: list[dict[str, Any]]  # complete trials only, in trial order
    paths: list[Path]
    rps: Stat
    p50: Stat | None
    p99: Stat | None
    cpu_ms_per_request: Stat | None
    peak_rss_mb: Stat | None
    requests: int
    failures: int
    generator_bound_trials: int
    ceiling: Stat | None = None  # wrk's RPS on the same scenario (trials with a ceiling only)
    ceiling_bound_trials: int = 0  # trials where wrk itself was the limit
    ratio: float | None = None  # median RPS / baseline median RPS
    ceiling_ratio: float | None = None  # median ceiling / baseline median ceiling, when both have one
    verdict: Verdict | None = None
    cpu_verdict: Verdict | None = None

    @property
    def locust_share(self) -> float | None:
        """Locust's median RPS over wrk's median ceiling: how much of the capacity Locust used."""
        return self.rps.median / self.ceiling.median if self.ceiling and self.ceiling.median else None

    @property
    def ceiling_errors(self) -> int:
        return sum(int((d.get("ceiling") or {}).get("errors") or 0) for d in self.documents)

    @property
    def ceiling_below_locust(self) -> bool:
        """wrk's ceiling under Locust's rate by more than the agreement tolerance, on a side that
        answered cleanly (with errors, two rates of mostly refusals do not compare)."""
        clean = not self.failures and not self.ceiling_errors
        return clean and (self.locust_share or 0) > CEILING_BELOW_LOCUST

    @property
    def trials(self) -> int:
        return len(self.documents)

    @property
    def rps_values(self) -> list[float]:
        return [float(d["throughput"]["rps"]) for d in self.documents]

    @property
    def cpu_values(self) -> list[float]:
        values = [d.get("resources", {}).get("service_cpu_ms_per_request") for d in self.documents]
        return [float(v) for v in values if v is not None]

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def generator_bound(self) -> bool:
        return self.generator_bound_trials > 0


@dataclass
class ScenarioComparison:
    scenario: str
    sides: list[Side]
    baseline: Side
    baseline_reason: str
    findings: list[str] = field(default_factory=list)


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
    saturations: list[dict[str, Any]]  # not load cases: kept for the report to draw
    alpha: float = ALPHA


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


def _side(key: SideKey, label: str, scenario: str, trials: list[tuple[Path, dict[str, Any]]]) -> Side:
    trials = sorted(trials, key=lambda item: int(item[1].get("trial", 0)))
    docs = [doc for _, doc in trials]
    rps = stat([float(d["throughput"]["rps"]) for d in docs])
    assert rps is not None  # a complete result always has a throughput
    return Side(
        key=key,
        label=label,
        scenario=scenario,
        documents=docs,
        paths=[path for path, _ in trials],
        rps=rps,
        p50=stat([_dig(d, ("latency_ms", "p50")) for d in docs]),
        p99=stat([_dig(d, ("latency_ms", "p99")) for d in docs]),
        cpu_ms_per_request=stat([_dig(d, ("resources", "service_cpu_ms_per_request")) for d in docs]),
        peak_rss_mb=stat([_dig(d, ("resources", "service_peak_rss_mb")) for d in docs]),
        requests=sum(int(d["requests"]["total"]) for d in docs),
        failures=sum(int(d["requests"]["failures"]) for d in docs),
        generator_bound_trials=sum(bool(d.get("generator_bound")) for d in docs),
        ceiling=stat([_ceiling_rps(d) for d in docs]),
        ceiling_bound_trials=sum(bool((d.get("ceiling") or {}).get("bound")) for d in docs),
    )


def _ceiling_rps(document: dict[str, Any]) -> float | None:
    ceiling = document.get("ceiling") or {}
    return float(ceiling["rps"]) if ceiling.get("rps") is not None else None


def capacity_summary(comparison: "ScenarioComparison") -> str | None:
    """The ceilings in words: how much of the baseline's capacity Locust reached, and wrk's ranking."""
    base = comparison.baseline
    if base.ceiling is None or base.locust_share is None:
        return None
    ranked = sorted((s for s in comparison.sides if s.ceiling), key=lambda s: -s.ceiling.median)  # type: ignore[union-attr]
    ranking = " > ".join(f"{s.label} {s.ceiling.median:,.0f}" for s in ranked)  # type: ignore[union-attr]
    bound = [s.label for s in ranked if s.ceiling_bound_trials]
    limit = f" (wrk itself was the limit on {', '.join(bound)}: a lower bound there)" if bound else ""
    low = [f"{s.label} ({s.locust_share:.0%})" for s in ranked if s.ceiling_below_locust]
    slower = (
        f" wrk's ceiling came out below Locust's rate on {', '.join(low)}: the ceiling's few seconds fell "
        "in a slower moment of the machine, so there it is a lower bound, not the capacity."
        if low
        else ""
    )
    return (
        f"Locust reached {base.locust_share:.0%} of {base.label}'s capacity on {comparison.scenario}; "
        f"the ranking uses wrk's ceilings: {ranking} req/s{limit}.{slower}"
    )


def verdict(comparison: Comparison) -> str | None:
    """The comparison in one sentence: per scenario, the side that served most and how it stands
    against the baseline, on wrk's ceilings where both have one (Locust may have measured itself)."""
    clauses = []
    for scenario in comparison.scenarios:
        by_ceiling = all(side.ceiling for side in scenario.sides)

        def served(side: Side, by_ceiling: bool = by_ceiling) -> float:
            return side.ceiling.median if by_ceiling and side.ceiling else side.rps.median

        best = max(scenario.sides, key=served)
        base = scenario.baseline
        measure = "wrk's ceiling" if by_ceiling else "Locust's RPS"
        clause = f"on {scenario.scenario}, {best.label} served most ({served(best):,.0f} req/s by {measure}"
        if best is not base and served(base):
            clause += f", {served(best) / served(base):.2f}x the baseline {base.label}"
        elif len(scenario.sides) > 1:
            runner_up = max((side for side in scenario.sides if side is not best), key=served)
            if served(runner_up):
                clause += f", {served(best) / served(runner_up):.2f}x the next, {runner_up.label}"
        clauses.append(clause + ")")
    if not clauses:
        return None
    text = "; ".join(clauses)
    return text[0].upper() + text[1:] + "."


def _labels(keys: list[SideKey]) -> dict[SideKey, str]:
    # The run id only earns its place in a label when more than one run is being compared.
    several_runs = len({k.run_id for k in keys}) > 1
    labels = {}
    for key in keys:
        label = f"{key.service} [{key.variant}]"
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
    gin = [s for s in sides if s.key.service == BASELINE_SERVICE]
    prefix = f"{wanted!r} is not in this scenario, so " if wanted is not None else ""
    if gin:
        return gin[0], f"{prefix}the {BASELINE_SERVICE} side (the default baseline)"
    return sides[0], f"{prefix}the first side (no {BASELINE_SERVICE} side to use)"


def _fmt_p(p: float) -> str:
    return f"{p:.3f}"


def _judge(values: list[float], base_values: list[float], what: str, alpha: float) -> Verdict:
    """The permutation verdict for one metric's trials against the baseline's."""
    if len(values) < 2 or len(base_values) < 2:
        return Verdict("single", "1 trial: cannot judge noise")
    test = permutation_test(values, base_values)
    if test.p_value <= alpha:
        direction = "higher" if statistics.median(values) > statistics.median(base_values) else "lower"
        return Verdict("significant", f"significant (p={_fmt_p(test.p_value)}), {what} {direction}", test)
    caveat = ""
    if test.smallest_p > alpha:
        # 3+3 trials give at best p = 0.1: saying so stops "within noise" being read as "equal".
        caveat = (
            f"{len(values)}+{len(base_values)} trials can never reach p ≤ {alpha:g} (the smallest "
            f"possible p is {test.smallest_p:.3g}): run more trials to tell a real difference from noise"
        )
    return Verdict("noise", f"within noise (p={_fmt_p(test.p_value)})", test, caveat)


def _verdict(side: Side, baseline: Side, alpha: float) -> Verdict:
    if side is baseline:
        return Verdict("baseline", "baseline")
    return _judge(side.rps_values, baseline.rps_values, "RPS", alpha)


def _cpu_verdict(side: Side, baseline: Side, alpha: float) -> Verdict | None:
    # CPU per request is judged too: on a busy machine it stays steady where RPS swings, so it
    # often shows a real cost (an access log, say) that throughput alone hides in the noise.
    if side is baseline:
        return Verdict("baseline", "baseline")
    values, base_values = side.cpu_values, baseline.cpu_values
    if not values or not base_values:
        return None
    return _judge(values, base_values, "CPU/request", alpha)


def _findings(comparison: ScenarioComparison) -> list[str]:
    base = comparison.baseline
    capacity = capacity_summary(comparison)
    lines = [capacity] if capacity else []
    for side in comparison.sides:
        if side is base or side.verdict is None:
            continue
        ratio = f"{side.ratio:.2f}{TIMES}" if side.ratio is not None else "an unknown multiple of"
        how = f" ({side.verdict.test.describe()})" if side.verdict.test else ""
        caveat = f"; {side.verdict.caveat}" if side.verdict.caveat else ""
        lines.append(f"{side.label}: {ratio} the RPS of {base.label}; {side.verdict.text}{how}{caveat}.")
        if side.ceiling_ratio is not None:
            capacity_ratio = f"{side.ceiling_ratio:.2f}{TIMES}"
            lines.append(f"{side.label}: {capacity_ratio} the capacity of {base.label} (wrk's ceilings).")
        if (
            side.cpu_verdict is not None
            and side.cpu_verdict.kind == "significant"
            and side.cpu_ms_per_request
        ):
            base_cpu = base.cpu_ms_per_request.median if base.cpu_ms_per_request else None
            if base_cpu:
                lines.append(
                    f"{side.label}: {side.cpu_ms_per_request.median / base_cpu:.2f}{TIMES} the server CPU "
                    f"per request of {base.label}; {side.cpu_verdict.text}."
                )
    for side in comparison.sides:
        if side.generator_bound:
            lines.append(
                f"{side.label}: Locust was the limit in {side.generator_bound_trials} of {side.trials} "
                "trial(s), so its RPS is what the load generator could send, not what the server can "
                "serve; the server's true capacity is higher and any ratio involving it is understated."
            )
        if side.rps.wide and side.rps.spread is not None:
            lines.append(
                f"{side.label}: RPS spread is {side.rps.spread:.0%} of the median "
                f"(over {SPREAD_WARNING:.0%}): its trials disagree."
            )
    return lines


def _scenario_order(name: str) -> tuple[int, str]:
    known = list(SCENARIOS)
    return (known.index(name) if name in known else len(known), name)


def _scenarios(
    loaded: Loaded, labels: dict[SideKey, str], baseline: str | None, alpha: float
) -> list[ScenarioComparison]:
    grouped: dict[str, dict[SideKey, list[tuple[Path, dict[str, Any]]]]] = {}
    for key, path, doc in loaded.cases:
        if doc.get("status") == COMPLETE:
            grouped.setdefault(str(doc["scenario"]), {}).setdefault(key, []).append((path, doc))
    result = []
    for scenario in sorted(grouped, key=_scenario_order):
        sides = [_side(key, labels[key], scenario, trials) for key, trials in grouped[scenario].items()]
        base, reason = _pick_baseline(sides, baseline)
        sides.sort(key=lambda side: side is not base)  # the baseline row first, the rest as given
        for side in sides:
            side.ratio = side.rps.median / base.rps.median if base.rps.median else None
            if side.ceiling and base.ceiling and base.ceiling.median:
                side.ceiling_ratio = side.ceiling.median / base.ceiling.median
            side.verdict = _verdict(side, base, alpha)
            side.cpu_verdict = _cpu_verdict(side, base, alpha)
        comparison = ScenarioComparison(scenario, sides, base, reason)
        comparison.findings = _findings(comparison)
        result.append(comparison)
    return result


def _excluded(loaded: Loaded, labels: dict[SideKey, str]) -> list[Excluded]:
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
    return rows


def _mismatches(loaded: Loaded, labels: dict[SideKey, str]) -> list[Mismatch]:
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


def compare_loaded(loaded: Loaded, baseline: str | None, alpha: float = ALPHA) -> Comparison:
    """The comparison of what `load_paths` found; it may hold no scenario (a run of saturation only)."""
    keys = list(dict.fromkeys([k for k, _, _ in loaded.cases] + [k for k, _ in loaded.unwritten]))
    labels = _labels(keys)
    return Comparison(
        sources=loaded.sources,
        scenarios=_scenarios(loaded, labels, baseline, alpha),
        excluded=_excluded(loaded, labels),
        mismatches=_mismatches(loaded, labels),
        saturations=loaded.saturations,
        alpha=alpha,
    )


def compare_paths(paths: list[Path], baseline: str | None, *, alpha: float = ALPHA) -> Comparison:
    """Compare every case result under `paths`.

    `baseline` names a side: run/service/variant, service/variant, service:variant, service, variant or
    run id, the variant as the side is named (default@workers=2 for a side with its own settings); the
    first matching side of each scenario is its baseline. None: the go-gin side, else the first side.
    """
    loaded = load_paths(paths)
    if not loaded.cases and not loaded.unwritten:
        raise BenchError(f"no load-case results found in {', '.join(map(str, paths))}")
    comparison = compare_loaded(loaded, baseline, alpha)
    check_baseline(comparison, baseline)
    return comparison


def check_baseline(comparison: Comparison, baseline: str | None) -> None:
    """A baseline that names no side at all is a typo: say so rather than quietly use the default."""
    sides = [side for s in comparison.scenarios for side in s.sides]
    if baseline is not None and sides and not any(_matches(side.key, baseline) for side in sides):
        known = sorted({side.key.id for side in sides})
        raise BenchError(f"baseline {baseline!r} matches no side; the sides are: {', '.join(known)}")
