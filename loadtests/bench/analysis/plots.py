"""Every chart of the project drawn with matplotlib as self-contained SVG: capacity, latency, the ladder."""

import html
import io
import math
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import matplotlib as mpl
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator
from matplotlib.typing import LineStyleType, RcKeyType

# Okabe-Ito colours (told apart with the common colour-vision deficiencies), one per stack, so a
# stack reads the same in every chart of the report and the README.
STACK_COLORS: Mapping[str, str] = MappingProxyType(
    {
        "fastapi-uvicorn": "#0072B2",
        "fastapi-granian": "#E69F00",
        "fastapi-gunicorn": "#009E73",
        "go-gin": "#D55E00",
    }
)
# For a stack added later: picked by a checksum of its name, so it keeps its colour from run to run.
_FALLBACK_COLORS = ("#56B4E9", "#CC79A7", "#8C6D31", "#5F5F5F", "#7F3C8D")
# Two sides of one stack (default and tuned) share a colour; the line style tells them apart.
_DASHES: tuple[LineStyleType, ...] = ("-", "--", ":", "-.")

_WIDTH = 8.0  # inches: 768 px at the browser's 96 px per inch, the report's column
_BAR = 0.36  # inches per bar
_DPI = 100
_INK = "#222222"
_MUTED = "#555555"
_GRID = "#dddddd"
_TIMES = "\u00d7"  # the multiplication sign, spelled out so no one mistakes it for an x
_LABEL_PAD = 4.0  # points between a whisker's end and its value label
_EDGE_PAD = 6.0  # points kept free between the last label and the axes' edge


@dataclass(frozen=True)
class Bar:
    """One side's value on a capacity panel; low and high bound its 95% interval."""

    label: str
    stack: str
    value: float
    low: float | None
    high: float | None
    note: str = ""

    def __post_init__(self) -> None:
        _check_interval(self.label, self.value, self.low, self.high)


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    bars: Sequence[Bar]


@dataclass(frozen=True)
class Point:
    offered_rps: float
    achieved_rps: float
    p99_ms: float
    limited: bool  # the load generator, not the server, could not go faster


@dataclass(frozen=True)
class Curve:
    label: str
    stack: str
    points: Sequence[Point]


@dataclass(frozen=True)
class Step:
    """One rung of the ladder."""

    label: str
    value: float
    low: float | None
    high: float | None

    def __post_init__(self) -> None:
        _check_interval(self.label, self.value, self.low, self.high)


def _check_interval(label: str, value: float, low: float | None, high: float | None) -> None:
    # A NaN would draw nothing and say nothing; a half interval would draw a whisker that means nothing.
    if not math.isfinite(value):
        raise ValueError(f"{label}: value {value} is not a number to draw")
    if (low is None) != (high is None):
        raise ValueError(f"{label}: an interval needs both ends, got [{low}, {high}]")
    if (
        low is not None
        and high is not None
        and not (math.isfinite(low) and math.isfinite(high) and low <= high)
    ):
        raise ValueError(f"{label}: interval [{low}, {high}] is not an interval")


def stack_color(stack: str) -> str:
    """The colour of a stack in every chart; a stack missing from STACK_COLORS still keeps one colour."""
    known = STACK_COLORS.get(stack)
    if known is not None:
        return known
    return _FALLBACK_COLORS[zlib.crc32(stack.encode()) % len(_FALLBACK_COLORS)]


# -- numbers people read -------------------------------------------------------------------------------


def _fixed(value: float, digits: int, strip: bool) -> str:
    """`value` to `digits` significant figures in fixed-point notation: never an exponent."""
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _round(value: float, digits: int) -> float:
    # Round first, so 999.7 becomes 1000 and is then written 1.00k, not "1000".
    return float(f"{value:.{digits}g}")


def _compact(value: float, strip: bool) -> str:
    rounded = _round(value, 3)
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(rounded) >= scale:
            return _fixed(rounded / scale, 3, strip) + suffix
    return _fixed(rounded, 3, strip)


def _duration(ms: float, strip: bool) -> str:
    # Below a millisecond a third figure is noise in what a load test measures.
    digits = 2 if abs(ms) < 1 else 3
    rounded = _round(ms, digits)
    if abs(rounded) >= 1000:
        return _fixed(_round(rounded / 1000, 3), 3, strip) + " s"
    return _fixed(rounded, digits, strip) + " ms"


def _format(value: float, unit: str, strip: bool) -> str:
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a number to print")
    if unit == "ms":
        return _duration(value, strip)
    if unit == "%":
        return _fixed(_round(value, 3), 3, strip) + "%"
    if unit in (_TIMES, "x"):
        return (f"{value:.2f}" if abs(value) < 10 else _compact(value, strip)) + _TIMES
    number = _compact(value, strip)
    return f"{number} {unit}" if unit else number


def human(value: float, unit: str = "") -> str:
    """A number as a person reads it: 12.3k req/s, 950 req/s, 0.68 ms, 1.20 s, 0.31 times; never 1.2e+04."""
    return _format(value, unit, strip=False)


def _ticks(unit: str) -> FuncFormatter:
    # Tick labels drop trailing zeros (10k, 1 ms), which value labels keep to show their precision.
    return FuncFormatter(lambda value, _pos: _format(value, unit, strip=True))


# -- figures -------------------------------------------------------------------------------------------

_RC: dict[RcKeyType, Any] = {
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.0,
    "axes.labelcolor": _INK,
    "axes.edgecolor": "#888888",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.formatter.useoffset": False,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "xtick.color": _MUTED,
    "ytick.color": _MUTED,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "figure.titlesize": 11.0,
    "figure.titleweight": "bold",
    # Text stays text in the SVG: tests, search and screen readers read the labels.
    "svg.fonttype": "none",
}


@contextmanager
def _style(salt: str = "") -> Iterator[None]:
    # A context, not global rcParams: the module changes nothing for anyone else drawing in the process.
    # The salt makes the SVG's ids the same on every run of the same chart, and differ between charts
    # that one page inlines side by side.
    with mpl.rc_context({**_RC, "svg.hashsalt": f"fastapi-load:{salt}"}):
        yield


def _new_figure(height: float) -> Figure:
    # A bare Figure on the Agg canvas, never pyplot: no window, and no global registry holding it,
    # so each figure is freed when its chart is returned.
    figure = Figure(figsize=(_WIDTH, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _svg(figure: Figure, salt: str, title: str) -> str:
    buffer = io.BytesIO()
    # No metadata block: its date would change the file on every run, and its creator line and RDF
    # namespaces are URLs a self-contained report has no use for.
    metadata = {"Date": None, "Creator": None, "Format": None, "Type": None}
    with _style(salt):
        figure.savefig(buffer, format="svg", metadata=metadata)
    text = buffer.getvalue().decode()
    # From the <svg> element on: the XML prolog and doctype are optional in a file and wrong inline.
    text = text[text.index("<svg") :]
    # matplotlib names every group (figure_1, text_1, ...); several charts inlined in one page would
    # repeat those ids, so only the ids something points at (clip paths, markers) are kept.
    referenced = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', text))
    text = re.sub(r' id="([^"]+)"', lambda m: m.group(0) if m.group(1) in referenced else "", text)
    # The chart's title as the SVG's accessible name, for screen readers and a browser's tooltip.
    opening = text.index(">") + 1
    return f"{text[:opening]}\n <title>{html.escape(title)}</title>{text[opening:]}"


def _renderer(figure: Figure) -> RendererBase:
    """The renderer that measures text as it is laid out (the tests measure with it too)."""
    renderer: RendererBase = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    return renderer


def _legend(figure: Figure, handles: Sequence[Artist], most: int) -> None:
    """Below the panels, in as many columns (up to `most`) as fit the figure's width: long side
    names ("fastapi-gunicorn:default @ servers") would otherwise run off both edges."""
    for columns in range(min(most, len(handles)), 0, -1):
        legend = figure.legend(handles=handles, loc="outside lower center", ncols=columns)
        if columns == 1 or legend.get_window_extent(_renderer(figure)).width <= figure.bbox.width:
            return
        legend.remove()


def _settle(figure: Figure) -> None:
    """Lay the figure out and freeze that layout, so the SVG places everything where it was measured."""
    figure.draw_without_rendering()
    figure.set_layout_engine("none")


def _fit(figure: Figure, fits: Sequence[tuple[Axes, str, Sequence[tuple[float, Sequence[Text]]]]]) -> None:
    """Extend each axes' upper limit until every label, placed just past its whisker, fits inside it.

    A label's size is fixed in points while its anchor moves with the scale, so the limit solves
    end / limit * span + pad + size <= span for each label; the layout can shift with the new tick
    labels, hence a few rounds until nothing moves.
    """
    pad = (_LABEL_PAD + _EDGE_PAD) * _DPI / 72
    for _attempt in range(6):
        figure.draw_without_rendering()
        renderer = _renderer(figure)
        moved = False
        for axes, direction, labels in fits:
            span = axes.bbox.width if direction == "x" else axes.bbox.height
            low, high = axes.get_xlim() if direction == "x" else axes.get_ylim()
            needed = max(end for end, _texts in labels)
            for end, texts in labels:
                boxes = [text.get_window_extent(renderer) for text in texts]
                size = (
                    max(b.x1 for b in boxes) - min(b.x0 for b in boxes)
                    if direction == "x"
                    else max(b.y1 for b in boxes) - min(b.y0 for b in boxes)
                )
                # A label wider than most of the panel cannot fit by scaling; cap so the bars still show.
                room = max(span - pad - size, 0.25 * span)
                needed = max(needed, end * span / room)
            if abs(needed - high) > 0.002 * high:
                (axes.set_xlim if direction == "x" else axes.set_ylim)(low, needed)
                moved = True
        if not moved:
            # The last layout is the one just measured: keep it for the SVG without drawing again.
            figure.set_layout_engine("none")
            return
    _settle(figure)


def _capacity_figure(title: str, panels: Sequence[Panel]) -> Figure:
    if not panels or any(not panel.bars for panel in panels):
        raise ValueError(f"{title}: every capacity panel needs at least one bar")
    counts = [len(panel.bars) for panel in panels]
    with _style():
        figure = _new_figure(0.45 + sum(_BAR * n + 0.85 for n in counts))
        figure.suptitle(title, x=0.01, ha="left")
        grid = figure.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": counts})
        fits = []
        for axes, panel in zip(grid[:, 0], panels, strict=True):
            fits.append((axes, "x", _draw_bars(axes, panel)))
        _stack_legend(figure, [bar for panel in panels for bar in panel.bars])
        _fit(figure, fits)
    return figure


def _draw_bars(axes: Axes, panel: Panel) -> list[tuple[float, list[Text]]]:
    """Sorted horizontal bars, largest on top, each with its whisker and labels; returns where labels sit."""
    bars = sorted(panel.bars, key=lambda bar: bar.value, reverse=True)
    rows = [len(bars) - 1 - i for i in range(len(bars))]
    axes.barh(
        rows,
        [bar.value for bar in bars],
        height=0.62,
        color=[stack_color(bar.stack) for bar in bars],
        zorder=2,
    )
    spans = [(row, bar) for row, bar in zip(rows, bars, strict=True) if bar.low is not None]
    if spans:
        # Drawn around the interval's middle so an interval that leaves out the value still draws as given.
        lows = [bar.low or 0.0 for _row, bar in spans]
        highs = [bar.high or 0.0 for _row, bar in spans]
        axes.errorbar(
            [(lo + hi) / 2 for lo, hi in zip(lows, highs, strict=True)],
            [row for row, _ in spans],
            xerr=[(hi - lo) / 2 for lo, hi in zip(lows, highs, strict=True)],
            fmt="none",
            ecolor=_INK,
            elinewidth=1.1,
            capsize=3.5,
            capthick=1.1,
            zorder=3,
        )
    labels: list[tuple[float, list[Text]]] = []
    for row, bar in zip(rows, bars, strict=True):
        end = max(bar.value, bar.high if bar.high is not None else bar.value)
        value = axes.annotate(
            human(bar.value, panel.unit),
            (end, row),
            xytext=(_LABEL_PAD, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            color=_INK,
            fontsize=8.5,
            fontweight="bold",
        )
        texts: list[Text] = [value]
        if bar.note:
            # Chained to the value label, so the note follows it whatever the value's width.
            texts.append(
                axes.annotate(
                    bar.note,
                    (1, 0.5),
                    xycoords=value,
                    xytext=(5, 0),
                    textcoords="offset points",
                    va="center",
                    ha="left",
                    color=_MUTED,
                    fontsize=8,
                )
            )
        labels.append((end, texts))
    axes.set_yticks(rows, labels=[bar.label for bar in bars])
    axes.tick_params(axis="y", length=0, labelcolor=_INK)
    axes.set_ylim(-0.6, len(bars) - 0.4)
    axes.set_xlim(0, max(end for end, _ in labels) * 1.05 or 1.0)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    axes.xaxis.set_major_formatter(_ticks(panel.unit))
    axes.set_title(panel.title)
    axes.grid(axis="x", color=_GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    axes.spines["left"].set_visible(False)
    return labels


def _stack_legend(figure: Figure, bars: Sequence[Bar]) -> None:
    # Only stacks that no bar label names need a key; usually the labels say it all and there is none.
    unnamed = dict.fromkeys(bar.stack for bar in bars if bar.stack not in bar.label)
    if unnamed:
        handles = [Patch(color=stack_color(stack), label=stack) for stack in unnamed]
        _legend(figure, handles, 4)


def capacity_chart(title: str, panels: Sequence[Panel]) -> str:
    """One horizontal bar panel per scenario, each on its own axis, sorted, with 95% whiskers, as SVG."""
    return _svg(_capacity_figure(title, panels), f"capacity:{title}", title)


# -- latency against offered load ----------------------------------------------------------------------


def _one_two_five(value: float, up: bool) -> float:
    """The nearest of 1, 2 and 5 times 10^k above (or below) value: round ends for a log axis."""
    decade = 10.0 ** math.floor(math.log10(value))
    candidates = [decade * m for m in (0.5, 1, 2, 5, 10, 20)]
    return min(c for c in candidates if c >= value) if up else max(c for c in candidates if c <= value)


def _log_axis(axes: Axes, which: str, low: float, high: float, unit: str) -> None:
    """Log scale between round 1-2-5 ends with a little room; ticks as 1 ms, 10 ms, 1 s, never 10^x."""
    start, stop = _one_two_five(low / 1.15, up=False), _one_two_five(high * 1.15, up=True)
    axis = axes.xaxis if which == "x" else axes.yaxis
    (axes.set_xscale if which == "x" else axes.set_yscale)("log")
    (axes.set_xlim if which == "x" else axes.set_ylim)(start, stop)
    decades = range(math.floor(math.log10(start)), math.ceil(math.log10(stop)) + 1)

    def within(multiples: tuple[float, ...]) -> list[float]:
        # The ends are round numbers too, so they carry ticks: a panel never shows a single tick.
        inner = [10.0**d * m for d in decades for m in multiples if start < 10.0**d * m < stop]
        return [start, *inner, stop]

    # 1, 2 and 5 in each decade on a narrow range; only powers of ten once that would crowd the axis
    # (a panel's height holds more labels than its width: "10 ms" stacks, "10k" side by side does not).
    ticks = within((1.0, 2.0, 5.0))
    if len(ticks) > (8 if which == "y" else 6):
        ticks = within((1.0,))
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(_ticks(unit))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _curve_styles(panels: Sequence[tuple[str, Sequence[Curve]]]) -> dict[str, tuple[str, LineStyleType]]:
    """Each curve label's colour (its stack's) and line style (its order among that stack's curves)."""
    styles: dict[str, tuple[str, LineStyleType]] = {}
    per_stack: dict[str, int] = {}
    for _title, curves in panels:
        for curve in curves:
            if curve.label not in styles:
                index = per_stack.get(curve.stack, 0)
                per_stack[curve.stack] = index + 1
                styles[curve.label] = (stack_color(curve.stack), _DASHES[index % len(_DASHES)])
    return styles


def _latency_figure(title: str, panels: Sequence[tuple[str, Sequence[Curve]]]) -> Figure:
    points = [p for _t, curves in panels for curve in curves for p in curve.points]
    if not panels or any(not curves or any(not c.points for c in curves) for _t, curves in panels):
        raise ValueError(f"{title}: every latency panel needs curves with points")
    if any(p.p99_ms <= 0 or p.offered_rps <= 0 or not math.isfinite(p.p99_ms) for p in points):
        raise ValueError(f"{title}: p99 and offered load must be positive to draw on a log scale")
    styles = _curve_styles(panels)
    columns = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / columns)
    with _style():
        figure = _new_figure(1.2 + 3.1 * rows)
        figure.suptitle(title, x=0.01, ha="left")
        grid = figure.subplots(rows, columns, squeeze=False)
        for axes in grid.flat[len(panels) :]:
            axes.remove()
        for axes, (name, curves) in zip(grid.flat, panels, strict=False):
            _draw_curves(axes, name, curves, styles)
        handles = [
            Line2D([], [], color=color, linestyle=dash, marker="o", markersize=4.5, label=label)
            for label, (color, dash) in styles.items()
        ]
        if any(p.limited for p in points):
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="o",
                    markersize=5.5,
                    markerfacecolor="white",
                    markeredgecolor=_INK,
                    label="hollow: the load generator, not the server, was the limit",
                )
            )
        _legend(figure, handles, 3)
        _settle(figure)
    return figure


def _draw_curves(
    axes: Axes, name: str, curves: Sequence[Curve], styles: dict[str, tuple[str, LineStyleType]]
) -> None:
    for curve in curves:
        color, dash = styles[curve.label]
        ordered = sorted(curve.points, key=lambda p: p.offered_rps)
        axes.plot(
            [p.offered_rps for p in ordered],
            [p.p99_ms for p in ordered],
            color=color,
            linestyle=dash,
            linewidth=1.6,
            zorder=2,
        )
        for limited in (False, True):
            chosen = [p for p in ordered if p.limited == limited]
            axes.plot(
                [p.offered_rps for p in chosen],
                [p.p99_ms for p in chosen],
                linestyle="none",
                marker="o",
                markersize=5.5 if limited else 4.5,
                color=color,
                markerfacecolor="white" if limited else color,
                markeredgewidth=1.3,
                zorder=3,
            )
    p99s = [p.p99_ms for curve in curves for p in curve.points]
    _log_axis(axes, "y", min(p99s), max(p99s), "ms")
    offered = [p.offered_rps for curve in curves for p in curve.points]
    if max(offered) / min(offered) >= 20:
        # Sides far apart (gin against FastAPI) share the panel only on a log scale.
        _log_axis(axes, "x", min(offered), max(offered), "")
    else:
        axes.set_xlim(0, max(offered) * 1.06)
        axes.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        axes.xaxis.set_major_formatter(_ticks(""))
    axes.set_title(name)
    axes.set_xlabel("offered load (req/s)", color=_MUTED)
    axes.set_ylabel("p99 latency", color=_MUTED)
    axes.grid(color=_GRID, linewidth=0.6)
    axes.set_axisbelow(True)


def latency_chart(title: str, panels: Sequence[tuple[str, Sequence[Curve]]]) -> str:
    """p99 against offered load on a log scale, one panel per scenario and one line per side, as SVG."""
    return _svg(_latency_figure(title, panels), f"latency:{title}", title)


# -- the ladder ----------------------------------------------------------------------------------------


def _rung_label(label: str) -> str:
    # Long rung names (asyncpg+pool-reset+no-telemetry) break at each "+" to stay inside their column.
    return label.replace("+", "\n+")


def _ladder_figure(
    title: str,
    panels: Sequence[tuple[str, Sequence[Step]]],
    unit: str = "req/s",
    stack: str = "fastapi-uvicorn",
) -> Figure:
    if not panels or any(not steps for _t, steps in panels):
        raise ValueError(f"{title}: every ladder panel needs at least one rung")
    rungs = [[step.label for step in steps] for _t, steps in panels]
    # The same rungs in every panel: their names once, under the last panel.
    shared = all(names == rungs[0] for names in rungs)
    lines = max(label.count("+") + 1 for names in rungs for label in names)
    color = stack_color(stack)
    with _style():
        figure = _new_figure(0.5 + 2.1 * len(panels) + 0.16 * lines * (1 if shared else len(panels)))
        figure.suptitle(title, x=0.01, ha="left")
        grid = figure.subplots(len(panels), 1, squeeze=False, sharex=shared)
        fits = []
        for index, (axes, (name, steps)) in enumerate(zip(grid[:, 0], panels, strict=True)):
            fits.append((axes, "y", _draw_steps(axes, name, steps, unit, color)))
            if shared and index < len(panels) - 1:
                axes.tick_params(axis="x", labelbottom=False)
        _fit(figure, fits)
    return figure


def _draw_steps(
    axes: Axes, name: str, steps: Sequence[Step], unit: str, color: str
) -> list[tuple[float, list[Text]]]:
    xs = list(range(len(steps)))
    values = [step.value for step in steps]
    # One tread per rung, joined by risers: the cost or gain of each change is the height of one riser.
    axes.stairs(
        values, [x - 0.5 for x in [*xs, len(steps)]], baseline=None, color=color, linewidth=2, zorder=2
    )
    axes.plot(xs, values, linestyle="none", marker="o", markersize=5, color=color, zorder=3)
    spans = [(x, step) for x, step in zip(xs, steps, strict=True) if step.low is not None]
    if spans:
        lows = [step.low or 0.0 for _x, step in spans]
        highs = [step.high or 0.0 for _x, step in spans]
        axes.errorbar(
            [x for x, _ in spans],
            [(lo + hi) / 2 for lo, hi in zip(lows, highs, strict=True)],
            yerr=[(hi - lo) / 2 for lo, hi in zip(lows, highs, strict=True)],
            fmt="none",
            ecolor=_INK,
            elinewidth=1.1,
            capsize=3.5,
            capthick=1.1,
            zorder=4,
        )
    labels: list[tuple[float, list[Text]]] = []
    for x, step in zip(xs, steps, strict=True):
        end = max(step.value, step.high if step.high is not None else step.value)
        text = axes.annotate(
            human(step.value, unit),
            (x, end),
            xytext=(0, _LABEL_PAD),
            textcoords="offset points",
            ha="center",
            va="bottom",
            color=_INK,
            fontsize=8,
            fontweight="bold",
        )
        labels.append((end, [text]))
    axes.set_xticks(xs, labels=[_rung_label(step.label) for step in steps])
    axes.tick_params(axis="x", labelsize=8, labelcolor=_INK)
    axes.set_xlim(-0.6, len(steps) - 0.4)
    axes.set_ylim(0, max(end for end, _ in labels) * 1.1 or 1.0)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    axes.yaxis.set_major_formatter(_ticks(""))
    axes.set_ylabel(unit, color=_MUTED)
    axes.set_title(name)
    axes.grid(axis="y", color=_GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    return labels


def ladder_chart(
    title: str,
    panels: Sequence[tuple[str, Sequence[Step]]],
    unit: str = "req/s",
    stack: str = "fastapi-uvicorn",
) -> str:
    """The ladder as a step chart from its first rung to its last, one panel per scenario, as SVG."""
    return _svg(_ladder_figure(title, panels, unit, stack), f"ladder:{title}", title)
