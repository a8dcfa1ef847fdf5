"""Charts as inline SVG, drawn by hand: axes, ticks, legends, line and bar charts (no scripts, no URLs)."""

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

WIDTH, PLOT_HEIGHT = 760, 280


LEFT, RIGHT, TOP, BOTTOM = 72, 24, 44, 52


CHAR_WIDTH = 7.0  # a 12px sans-serif character, near enough to lay out a legend without measuring text


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    points: list[tuple[float, float]]
    dash: str = ""


@dataclass(frozen=True)
class Marker:
    """A point called out on a line chart, such as a saturation knee."""

    x: float
    y: float
    label: str
    color: str


@dataclass(frozen=True)
class Bar:
    group: str
    name: str
    value: float
    color: str
    low: float | None = None
    high: float | None = None
    flag: str = ""  # a short warning drawn above the bar
    mark: float | None = None  # a reference level drawn across the bar, such as wrk's ceiling
    mark_label: str = ""


@dataclass
class _Frame:
    """Maps data to pixels for one plot area."""

    x_low: float
    x_high: float
    y_low: float
    y_high: float
    width: float = WIDTH - LEFT - RIGHT
    height: float = PLOT_HEIGHT
    ticks_x: list[float] = field(default_factory=list)
    ticks_y: list[float] = field(default_factory=list)

    def x(self, value: float) -> float:
        return LEFT + (value - self.x_low) / (self.x_high - self.x_low) * self.width

    def y(self, value: float) -> float:
        return TOP + self.height - (value - self.y_low) / (self.y_high - self.y_low) * self.height


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"cannot place ticks on [{low}, {high}]")
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _frame(xs: Iterable[float], ys: Iterable[float]) -> _Frame:
    # Every quantity drawn here (seconds, users, req/s, ms, MB) starts at 0: so do both axes, and a
    # small difference is never blown up by a cut-off axis.
    xs, ys = list(xs), list(ys)
    ticks_x = nice_ticks(0.0, max(xs) if xs and max(xs) > 0 else 1.0)
    ticks_y = nice_ticks(0.0, max(ys) if ys and max(ys) > 0 else 1.0)
    return _Frame(ticks_x[0], ticks_x[-1], ticks_y[0], ticks_y[-1], ticks_x=ticks_x, ticks_y=ticks_y)


def _num(value: float) -> str:
    return f"{value:.1f}"


def _tick_label(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0")


def _axes(frame: _Frame, x_label: str, y_label: str, *, x_ticks: bool = True) -> list[str]:
    bottom = TOP + frame.height
    out = []
    for tick in frame.ticks_y:
        y = _num(frame.y(tick))
        out.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + frame.width:.1f}" y1="{y}" y2="{y}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y}" text-anchor="end" dy="4">{_tick_label(tick)}</text>')
    if x_ticks:
        for tick in frame.ticks_x:
            x = _num(frame.x(tick))
            out.append(f'<line class="axis" x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 5}"/>')
            out.append(f'<text x="{x}" y="{bottom + 18}" text-anchor="middle">{_tick_label(tick)}</text>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}"/>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + frame.width:.1f}" y1="{bottom}" y2="{bottom}"/>')
    out.append(
        f'<text class="axis-label" x="{LEFT + frame.width / 2:.1f}" y="{bottom + 38}" '
        f'text-anchor="middle">{html.escape(x_label)}</text>'
    )
    mid = TOP + frame.height / 2
    out.append(
        f'<text class="axis-label" x="16" y="{mid:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {mid:.1f})">{html.escape(y_label)}</text>'
    )
    return out


def _legend(entries: Sequence[tuple[str, str, str]], top: float) -> tuple[list[str], float]:
    """Swatches and names flowed into rows under the plot; returns the SVG and the height used."""
    out = ['<g class="legend">']
    x, y = float(LEFT), top
    for name, color, dash in entries:
        width = 34 + CHAR_WIDTH * len(name)
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, y = float(LEFT), y + 20
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{x:.1f}" x2="{x + 24:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
            f'stroke-width="3"{dashes}/>'
        )
        out.append(f'<text x="{x + 30:.1f}" y="{y + 4:.1f}">{html.escape(name)}</text>')
        x += width + 12
    out.append("</g>")
    return out, (y - top) + 24 if entries else 0.0


def _figure(chart_id: str, title: str, caption: str, body: list[str], height: float) -> str:
    svg = (
        # No xmlns: inline SVG in HTML needs none, and the page names no URL at all.
        f'<svg viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" '
        f'height="{height:.0f}" role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>"
        f'<text class="title" x="{LEFT}" y="24">{html.escape(title)}</text>' + "".join(body) + "</svg>"
    )
    return (
        f'<figure data-chart="{html.escape(chart_id)}">{svg}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def line_chart(
    chart_id: str,
    title: str,
    caption: str,
    x_label: str,
    y_label: str,
    lines: Sequence[Line],
    markers: Sequence[Marker] = (),
    x_max: float | None = None,
) -> str:
    """A figure with one polyline (and its points) per line, optional called-out markers, and a legend.

    `x_max` widens the x axis to at least that value, so related charts can share one range.
    """
    xs = [x for line in lines for x, _ in line.points] + [m.x for m in markers]
    xs += [x_max] if x_max is not None else []
    ys = [y for line in lines for _, y in line.points] + [m.y for m in markers]
    frame = _frame(xs, ys)
    body = _axes(frame, x_label, y_label)
    if not xs:
        body.append(f'<text x="{LEFT + 20}" y="{TOP + 30}">no data recorded</text>')
    for line in lines:
        if not line.points:
            continue
        coords = " L ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in line.points)
        dashes = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        # data-series ties every mark to its legend entry, for whoever checks the drawing.
        series = f'data-series="{html.escape(line.name)}"'
        body.append(
            f'<path class="mark" {series} d="M {coords}" fill="none" stroke="{line.color}" '
            f'stroke-width="2"{dashes}><title>{html.escape(line.name)}</title></path>'
        )
        body += [
            f'<circle class="mark" {series} cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.5" '
            f'fill="{line.color}"/>'
            for x, y in line.points
        ]
    for marker in markers:
        cx, cy = frame.x(marker.x), frame.y(marker.y)
        body.append(
            f'<circle class="mark knee" cx="{cx:.1f}" cy="{cy:.1f}" r="8" fill="none" '
            f'stroke="{marker.color}" stroke-width="2.5"/>'
        )
        # Labels near the right edge go to the left of their point, so they stay inside the picture.
        right = cx > LEFT + frame.width * 0.7
        anchor, tx = ("end", cx - 10) if right else ("start", cx + 10)
        body.append(
            f'<text x="{tx:.1f}" y="{cy - 10:.1f}" text-anchor="{anchor}">{html.escape(marker.label)}</text>'
        )
    entries = list(dict.fromkeys((line.name, line.color, line.dash) for line in lines))
    legend, legend_height = _legend(entries, TOP + PLOT_HEIGHT + BOTTOM + 8)
    return _figure(chart_id, title, caption, body + legend, TOP + PLOT_HEIGHT + BOTTOM + legend_height + 8)


def bar_chart(chart_id: str, title: str, caption: str, y_label: str, bars: Sequence[Bar]) -> str:
    """Grouped bars (one group per scenario), with min-max whiskers where there are repeats."""
    if not bars:
        raise ValueError(f"chart {chart_id!r} has no data")
    groups = list(dict.fromkeys(bar.group for bar in bars))
    tops = [max(bar.value, bar.high or 0.0, bar.mark or 0.0) for bar in bars]
    frame = _frame([0.0, 1.0], tops)
    body = _axes(frame, "scenario", y_label, x_ticks=False)
    slot = frame.width / len(groups)
    bottom = TOP + frame.height
    for index, group in enumerate(groups):
        members = [bar for bar in bars if bar.group == group]
        bar_width = min(72.0, slot * 0.8 / len(members))
        start = LEFT + slot * index + (slot - bar_width * len(members)) / 2
        for position, bar in enumerate(members):
            x = start + position * bar_width
            y = frame.y(bar.value)
            body.append(
                f'<rect class="mark" data-series="{html.escape(bar.name)}" x="{x + 5:.1f}" y="{y:.1f}" '
                f'width="{bar_width - 10:.1f}" '
                f'height="{max(bottom - y, 0.5):.1f}" fill="{bar.color}">'
                f"<title>{html.escape(f'{bar.name}: {bar.value:,.3g}')}</title></rect>"
            )
            centre = x + bar_width / 2
            if bar.low is not None and bar.high is not None and bar.high > bar.low:
                body.append(
                    f'<line class="whisker" x1="{centre:.1f}" x2="{centre:.1f}" y1="{frame.y(bar.low):.1f}" '
                    f'y2="{frame.y(bar.high):.1f}" stroke="#222" stroke-width="1.5"/>'
                )
            if bar.mark is not None:
                body.append(
                    f'<line class="ceiling-mark" data-series="{html.escape(bar.name)}" x1="{x + 1:.1f}" '
                    f'x2="{x + bar_width - 1:.1f}" y1="{frame.y(bar.mark):.1f}" y2="{frame.y(bar.mark):.1f}" '
                    f'stroke="#222" stroke-width="2.5" stroke-dasharray="5 3">'
                    f"<title>{html.escape(f'{bar.mark_label}: {bar.mark:,.3g}')}</title></line>"
                )
            top = frame.y(max(bar.value, bar.high or bar.value, bar.mark or bar.value))
            body.append(
                f'<text x="{centre:.1f}" y="{top - 5:.1f}" text-anchor="middle">{bar.value:,.3g}</text>'
            )
            if bar.flag:
                body.append(
                    f'<text class="flag" x="{centre:.1f}" y="{top - 19:.1f}" text-anchor="middle">'
                    f"{html.escape(bar.flag)}</text>"
                )
        body.append(
            f'<text x="{LEFT + slot * (index + 0.5):.1f}" y="{bottom + 18}" text-anchor="middle">'
            f"{html.escape(group)}</text>"
        )
    entries = list(dict.fromkeys((bar.name, bar.color, "") for bar in bars))
    legend, legend_height = _legend(entries, TOP + PLOT_HEIGHT + BOTTOM + 8)
    return _figure(chart_id, title, caption, body + legend, TOP + PLOT_HEIGHT + BOTTOM + legend_height + 8)
