"""A comparison's charts: its numbers handed to bench.analysis.plots, which draws them (the report and
the README use the same figures)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.analysis.compare import Comparison, Side

if TYPE_CHECKING:
    # matplotlib takes seconds to import: bench.analysis.plots is imported where a chart is drawn,
    # so commands that draw none (serve, list, a failed run) start at once.
    from bench.analysis import plots
    from bench.analysis.plots import Curve, Point, Step


def _bar(side: Side, is_baseline: bool) -> plots.Bar | None:
    from bench.analysis import plots

    if side.capacity is None:
        return None
    capacity, ratio = side.capacity, side.capacity_ratio
    note = "baseline" if is_baseline else (f"{ratio.value:.2f}\u00d7 {ratio.word}" if ratio else "")
    return plots.Bar(side.label, side.stack, capacity.value, capacity.low, capacity.high, note)


def capacity_figure(comparison: Comparison, title: str = "Capacity (req/s, 95% interval)") -> str | None:
    from bench.analysis import plots

    panels = []
    for scenario in comparison.scenarios:
        bars = [bar for side in scenario.sides if (bar := _bar(side, side.baseline is None))]
        if bars:
            panels.append(plots.Panel(scenario.scenario, "req/s", bars))
    return plots.capacity_chart(title, panels) if panels else None


def _points(side: Side, common: bool) -> list[Point]:
    from bench.analysis import plots

    chosen = side.common if common else side.curve
    return [
        plots.Point(p.offered_rps, p.goodput_rps, p.latency_ms.p99, p.generator_limited)
        for p in sorted(chosen, key=lambda p: p.offered_rps)
        if p.latency_ms is not None
    ]


def latency_figure(comparison: Comparison) -> str | None:
    """p99 against offered load: the common rates when measured, else each side's own curve."""
    from bench.analysis import plots

    panels: list[tuple[str, Sequence[Curve]]] = []
    for scenario in comparison.scenarios:
        for common, what in ((True, "same rates"), (False, "own curves")):
            curves = [
                plots.Curve(s.label, s.stack, pts) for s in scenario.sides if (pts := _points(s, common))
            ]
            if curves:
                panels.append((f"{scenario.scenario} ({what})", curves))
    return plots.latency_chart("p99 latency against offered load (open-loop)", panels) if panels else None


def ladder_figure(comparisons: Sequence[tuple[str, Comparison]], rungs: Sequence[str]) -> str | None:
    """The ladder as steps, rung by rung in the experiment's order, one panel per scenario."""
    from bench.analysis import plots

    panels: list[tuple[str, Sequence[Step]]] = []
    for scenario_name, comparison in comparisons:
        for scenario in comparison.scenarios:
            by_name = {side.key.variant: side for side in scenario.sides if side.capacity}
            steps = [
                plots.Step(rung, side.capacity.value, side.capacity.low, side.capacity.high)
                for rung in rungs
                if (side := by_name.get(rung)) is not None and side.capacity is not None
            ]
            if steps:
                panels.append((scenario_name, steps))
    return plots.ladder_chart("Each rung's capacity (req/s, 95% interval)", panels) if panels else None


def figures(comparison: Comparison) -> list[str]:
    return [svg for svg in (capacity_figure(comparison), latency_figure(comparison)) if svg]
