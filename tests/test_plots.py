"""The charts of bench.analysis.plots: own axes, sorted bars, labels that never collide, numbers a person
reads, one colour per stack, deterministic SVG, and pages that headless Chromium draws."""

import functools
import gc
import itertools
import re
import subprocess
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle, StepPatch
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image

from bench.analysis import plots
from bench.analysis.plots import (
    STACK_COLORS,
    Bar,
    Curve,
    Panel,
    Point,
    Step,
    capacity_chart,
    human,
    ladder_chart,
    latency_chart,
    stack_color,
)
from tests.test_report import CHROMIUM, CHROMIUM_FLAGS

# What a scientific or offset tick label looks like in any of matplotlib's spellings.
TIMES = "\u00d7"  # the multiplication sign, spelled out so no one mistakes it for an x
SCIENTIFIC = re.compile(rf"\de[+-]?\d|\d\s*[{TIMES}x]\s*10|10\^|\$|\\times|1e\d", re.IGNORECASE)
RUNGS = ("writeup", "async-deps", "idle-check", "default", "no-telemetry",
         "asyncpg+pool-reset+no-telemetry", "tuned", "bare")  # fmt: skip


def bar(label: str, value: float, low: float, high: float, note: str = "") -> Bar:
    return Bar(label, label.split(" ")[0], value, value * (1 - low), value * (1 + high), note)


# Numbers of the size a real run on one server core gives; intervals of 5-15%, not symmetric.
PING = Panel("ping", "req/s", [
    bar("fastapi-uvicorn [default]", 5_560, 0.07, 0.09, f"0.12{TIMES} [0.11, 0.13] slower"),
    bar("go-gin [default]", 45_200, 0.05, 0.06, "baseline"),
    bar("fastapi-gunicorn [default]", 3_120, 0.12, 0.15, f"0.07{TIMES} [0.06, 0.08] slower"),
    bar("fastapi-granian [default]", 8_900, 0.06, 0.08, f"0.20{TIMES} [0.18, 0.21] slower"),
    bar("fastapi-uvicorn [tuned]", 7_400, 0.08, 0.10),
    bar("fastapi-granian [tuned]", 9_050, 0.05, 0.07),
])  # fmt: skip
LIST = Panel("list", "req/s", [
    bar("fastapi-granian [default]", 1_350, 0.10, 0.12, f"0.34{TIMES} [0.30, 0.37] slower"),
    bar("go-gin [default]", 4_020, 0.06, 0.07, "baseline"),
    bar("fastapi-gunicorn [default]", 950, 0.13, 0.15, f"0.24{TIMES} [0.21, 0.27] slower"),
    bar("fastapi-uvicorn [default]", 1_180, 0.08, 0.11, f"0.29{TIMES} [0.26, 0.33] slower"),
])  # fmt: skip
# Hard cases: near-equal values with long notes, a very wide interval, a single bar, sub-ms latency.
CLOSE = Panel("create", "req/s", [
    bar("fastapi-uvicorn [default]", 1_010, 0.15, 0.15, f"1.02{TIMES} [0.88, 1.19] ~ cannot tell"),
    bar("fastapi-granian [default]", 990, 0.15, 0.15, f"0.98{TIMES} [0.85, 1.14] ~ cannot tell"),
    bar("fastapi-gunicorn [default]", 1_000, 0.05, 0.9, "wide: 3 trials disagree"),
])  # fmt: skip
ALONE = Panel("p99 at 500 req/s", "ms", [bar("go-gin [default]", 0.42, 0.05, 0.06)])


def curve(label: str, capacity: float, floor_ms: float, rates: tuple[float, ...]) -> Curve:
    # p99 flat until the server nears its capacity, then climbing; Locust tops out near 20k req/s.
    points = [
        Point(rate, min(rate, capacity), floor_ms * (1 + 6 * (rate / capacity) ** 5), limited=rate > 20_000)
        for rate in rates
        if rate <= capacity * 1.2
    ]
    return Curve(label, label.split(" ")[0], points)


RATES = (250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000)
LATENCY = [
    ("ping", [curve("fastapi-uvicorn [default]", 5_560, 1.2, RATES),
              curve("fastapi-uvicorn [tuned]", 7_400, 1.0, RATES),
              curve("fastapi-granian [default]", 8_900, 0.9, RATES),
              curve("go-gin [default]", 45_200, 0.4, RATES)]),
    ("list", [curve("fastapi-uvicorn [default]", 1_180, 4.1, RATES[:5]),
              curve("go-gin [default]", 4_020, 2.0, RATES[:5])]),
]  # fmt: skip


def steps(values: tuple[float, ...]) -> list[Step]:
    return [Step(rung, v, v * 0.92, v * 1.09) for rung, v in zip(RUNGS, values, strict=True)]


LADDER = [
    ("ping", steps((2_900, 3_300, 3_350, 5_560, 6_100, 6_200, 7_400, 9_800))),
    ("list", steps((610, 700, 980, 1_180, 1_250, 1_900, 2_000, 2_300))),
    ("create", steps((500, 560, 800, 950, 1_000, 1_500, 1_600, 1_800))),
]


@functools.cache  # drawn once and only read by the tests
def capacity() -> Figure:
    return plots._capacity_figure("What one server core serves", [PING, LIST])


@functools.cache  # drawn once and only read by the tests
def hard() -> Figure:
    return plots._capacity_figure("Close calls", [CLOSE, ALONE])


@functools.cache  # drawn once and only read by the tests
def latency() -> Figure:
    return plots._latency_figure("p99 against offered load", LATENCY)


# The servers report's legend: seven sides with long names (and the run's part), and hollow points.
CROWDED = [
    ("ping", [curve(f"{stack}:{variant} @ servers", capacity, 1.0, RATES)
              for stack, variant, capacity in (
                  ("go-gin", "default", 40_600), ("fastapi-granian", "tuned", 9_800),
                  ("fastapi-uvicorn", "tuned", 8_800), ("fastapi-gunicorn", "tuned", 8_600),
                  ("fastapi-granian", "default", 8_600), ("fastapi-gunicorn", "default", 7_800),
                  ("fastapi-uvicorn", "default", 7_700))]),
]  # fmt: skip


@functools.cache  # drawn once and only read by the tests
def crowded() -> Figure:
    return plots._latency_figure("p99 against offered load", CROWDED)


@functools.cache  # drawn once and only read by the tests
def ladder() -> Figure:
    return plots._ladder_figure("From the write-up to bare", LADDER)


LATENCY_KINDS = ("latency", "crowded")
FIGURES: dict[str, Callable[[], Figure]] = {
    "capacity": capacity, "hard": hard, "latency": latency, "crowded": crowded, "ladder": ladder,
}  # fmt: skip


def drawn_texts(figure: Figure) -> list[Text]:
    """Every piece of text the figure draws: titles, labels, legend entries and the ticks in view."""
    ticks = {id(tick.label1) for axes in figure.axes for axis in (axes.xaxis, axes.yaxis)
             for tick in (*axis.get_major_ticks(), *axis.get_minor_ticks())}  # fmt: skip
    # matplotlib draws the ticks inside the view only; the others keep labels it never shows.
    shown = set()
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            low, high = low - 1e-9 * (high - low), high + 1e-9 * (high - low)
            shown |= {id(t.label1) for t in axis.get_major_ticks() if low <= t.get_loc() <= high}
    return [
        text for text in figure.findobj(Text)
        if isinstance(text, Text) and text.get_visible() and text.get_text().strip()
        and (id(text) not in ticks or id(text) in shown)
    ]  # fmt: skip


def overlap(a: Bbox, b: Bbox, slack: float = 0.5) -> bool:
    return bool(a.x0 < b.x1 - slack and b.x0 < a.x1 - slack and a.y0 < b.y1 - slack and b.y0 < a.y1 - slack)


def whiskers(figure: Figure) -> list[Bbox]:
    """Each interval whisker as drawn, its caps included: the LineCollections that errorbar made."""
    cap = 3.5 * figure.dpi / 72 + 1
    boxes = []
    for axes in figure.axes:
        for collection in axes.collections:
            for segment in collection.get_segments():  # type: ignore[attr-defined]
                (x0, y0), (x1, y1) = axes.transData.transform(segment)
                vertical = abs(x1 - x0) < abs(y1 - y0)
                boxes.append(Bbox.from_extents(min(x0, x1) - (cap if vertical else 0),
                                               min(y0, y1) - (0 if vertical else cap),
                                               max(x0, x1) + (cap if vertical else 0),
                                               max(y0, y1) + (0 if vertical else cap)))  # fmt: skip
    return boxes


def value_labels(figure: Figure) -> list[Text]:
    return [text for axes in figure.axes for text in axes.texts]


# -- numbers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (45_210, "req/s", "45.2k req/s"), (12_345, "req/s", "12.3k req/s"), (950, "req/s", "950 req/s"),
    (999.7, "req/s", "1.00k req/s"), (3_120, "req/s", "3.12k req/s"), (1_250_000, "", "1.25M"),
    (0, "req/s", "0 req/s"), (0.683, "ms", "0.68 ms"), (0.0042, "ms", "0.0042 ms"), (12.34, "ms", "12.3 ms"),
    (999.9, "ms", "1.00 s"), (1_234, "ms", "1.23 s"), (0.31, TIMES, f"0.31{TIMES}"),
    (3.75, "x", f"3.75{TIMES}"), (12.5, "%", "12.5%"), (-2_500, "", "-2.50k"),
])  # fmt: skip
def test_human_numbers(value: float, unit: str, expected: str) -> None:
    assert human(value, unit) == expected


def test_human_never_writes_an_exponent() -> None:
    for exponent, unit in itertools.product(range(-6, 13), ("", "req/s", "ms", "%", TIMES)):
        for mantissa in (1, 1.5, 9.999):
            assert not SCIENTIFIC.search(human(mantissa * 10.0**exponent, unit)), (mantissa, exponent, unit)
    with pytest.raises(ValueError, match="not a number"):
        human(float("nan"), "ms")


# -- layout -------------------------------------------------------------------------------------------


def test_each_capacity_panel_has_its_own_axis() -> None:
    figure = capacity()
    ping, listing = figure.axes
    assert not ping.get_shared_x_axes().joined(ping, listing)
    for axes, panel in ((ping, PING), (listing, LIST)):
        top = max(b.high or b.value for b in panel.bars)
        low, high = axes.get_xlim()
        # From zero, past the longest whisker to make room for its label, but scaled to this panel.
        assert low == 0
        assert top < high < 1.8 * top, (panel.title, high, top)
    assert ping.get_xlim()[1] > 40_000 > 10_000 > listing.get_xlim()[1]


@pytest.mark.parametrize("panel_index", [0, 1])
def test_bars_sorted_largest_on_top(panel_index: int) -> None:
    figure = capacity()
    axes, panel = figure.axes[panel_index], (PING, LIST)[panel_index]
    rectangles = sorted((p for p in axes.patches if isinstance(p, Rectangle)), key=lambda r: -r.get_y())
    widths = [r.get_width() for r in rectangles]
    assert widths == sorted((b.value for b in panel.bars), reverse=True)
    # The names beside the bars read top to bottom in the same order.
    names = [t.get_text() for t in sorted(axes.get_yticklabels(), key=lambda t: -t.get_position()[1])]
    assert names == [b.label for b in sorted(panel.bars, key=lambda b: -b.value)]


@pytest.mark.parametrize("kind", sorted(FIGURES))
def test_no_text_overlaps_text_or_whiskers_and_nothing_is_clipped(kind: str) -> None:
    figure = FIGURES[kind]()
    renderer = plots._renderer(figure)
    texts = drawn_texts(figure)
    boxes = {id(t): t.get_window_extent(renderer) for t in texts}
    for a, b in itertools.combinations(texts, 2):
        assert not overlap(boxes[id(a)], boxes[id(b)]), (kind, a.get_text(), b.get_text())
    page = figure.bbox
    for text in texts:
        box = boxes[id(text)]
        assert page.contains(box.x0, box.y0), (kind, text.get_text(), box, page)
        assert page.contains(box.x1, box.y1), (kind, text.get_text(), box, page)
    labels = value_labels(figure)
    assert bool(labels) == (kind not in LATENCY_KINDS)
    drawn = whiskers(figure)
    assert bool(drawn) == (kind not in LATENCY_KINDS)
    bars = [p.get_window_extent(renderer) for a in figure.axes for p in a.patches if isinstance(p, Rectangle)]
    for label in labels:
        box = label.get_window_extent(renderer)
        inside = label.axes.bbox if label.axes is not None else page
        # Inside its own panel: the axis limit was stretched to fit it, not the page margin.
        assert inside.x0 <= box.x0, (kind, label.get_text())
        assert box.x1 <= inside.x1, (kind, label.get_text())
        assert box.y1 <= inside.y1, (kind, label.get_text())
        for other in (*drawn, *bars):
            assert not overlap(box, other), (kind, label.get_text(), other)


@pytest.mark.parametrize("kind", sorted(FIGURES))
def test_no_scientific_notation_or_offset_anywhere(kind: str) -> None:
    figure = FIGURES[kind]()
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            assert axis.get_offset_text().get_text() == "", kind
            for label in axis.get_ticklabels():
                assert not SCIENTIFIC.search(label.get_text()), (kind, label.get_text())
    texts = [t.get_text() for t in drawn_texts(figure)]
    assert texts
    for text in texts:
        assert not SCIENTIFIC.search(text), (kind, text)


def test_latency_reads_in_milliseconds_on_a_log_scale_and_marks_the_generator_limit() -> None:
    figure = latency()
    legend = " ".join(t.get_text() for t in figure.legends[0].get_texts())
    assert "load generator" in legend
    for axes, (_name, curves) in zip(figure.axes, LATENCY, strict=True):
        assert axes.get_yscale() == "log"
        ticks = [t.get_text() for t in axes.get_yticklabels()]
        assert len(ticks) >= 2
        assert all(re.fullmatch(r"\d+(\.\d+)? (ms|s)", t) for t in ticks), ticks
        hollow = [line for line in axes.lines
                  if line.get_linestyle() == "None" and line.get_markerfacecolor() == "white"]  # fmt: skip
        limited = sum(p.limited for c in curves for p in c.points)
        assert sum(len(np.asarray(line.get_xdata())) for line in hollow) == limited
    assert sum(p.limited for _n, cs in LATENCY for c in cs for p in c.points) > 0, (
        "the input has a limited point"
    )


def test_ladder_steps_through_the_rungs_in_order() -> None:
    figure = ladder()
    assert len(figure.axes) == len(LADDER)
    names = [t.get_text().replace("\n", "") for t in figure.axes[-1].get_xticklabels()]
    assert names == list(RUNGS)
    tops = [axes.get_ylim()[1] for axes in figure.axes]
    assert tops[0] > 9_800, "each scenario on its own scale"
    assert tops[1] < 4_000, "each scenario on its own scale"
    for axes, (_name, rungs) in zip(figure.axes, LADDER, strict=True):
        assert axes.get_ylim()[0] == 0
        (stairs,) = [p for p in axes.patches if isinstance(p, StepPatch)]
        values, _edges, _baseline = stairs.get_data()
        assert list(values) == [s.value for s in rungs]
        assert [t.get_text() for t in axes.texts] == [human(s.value, "req/s") for s in rungs]


def test_one_colour_per_stack_in_every_chart() -> None:
    seen: dict[str, set[str]] = {}
    for axes, panel in zip(capacity().axes, (PING, LIST), strict=True):
        ordered = sorted(panel.bars, key=lambda b: -b.value)
        rectangles = sorted((p for p in axes.patches if isinstance(p, Rectangle)), key=lambda r: -r.get_y())
        for b, rectangle in zip(ordered, rectangles, strict=True):
            seen.setdefault(b.stack, set()).add(to_hex(rectangle.get_facecolor()))
    legend = latency().legends[0]
    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
        if isinstance(handle, Line2D) and handle.get_linestyle() != "None":
            seen.setdefault(text.get_text().split(" ")[0], set()).add(to_hex(handle.get_color()))
    for axes in ladder().axes:
        for patch in axes.patches:
            seen.setdefault("fastapi-uvicorn", set()).add(to_hex(patch.get_edgecolor()))
    assert set(seen) == set(STACK_COLORS)
    for stack, colours in seen.items():
        assert colours == {STACK_COLORS[stack].lower()}, stack
    assert len(set(STACK_COLORS.values())) == len(STACK_COLORS)
    # A stack added later gets a colour of its own that does not change between calls or runs.
    assert stack_color("fastapi-hypercorn") == stack_color("fastapi-hypercorn")
    assert stack_color("fastapi-hypercorn") not in STACK_COLORS.values()


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="not a number"):
        Bar("x", "go-gin", float("nan"), None, None)
    with pytest.raises(ValueError, match="both ends"):
        Step("bare", 10.0, 9.0, None)
    with pytest.raises(ValueError, match="not an interval"):
        Bar("x", "go-gin", 10.0, 12.0, 8.0)
    with pytest.raises(ValueError, match="at least one bar"):
        capacity_chart("empty", [Panel("ping", "req/s", [])])
    with pytest.raises(ValueError, match="positive"):
        latency_chart("zero", [("ping", [Curve("a", "go-gin", [Point(100, 100, 0.0, limited=False)])])])


# -- SVG ----------------------------------------------------------------------------------------------


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")]


def test_svg_is_deterministic_self_contained_text() -> None:
    first, second = capacity_chart("Capacity", [PING, LIST]), capacity_chart("Capacity", [PING, LIST])
    assert first == second, "the same input draws the same bytes"
    assert first.startswith("<svg")
    assert first.rstrip().endswith("</svg>")
    assert "<metadata>" not in first, "no date, no creator URL"
    assert not re.search(r"<(image|script|a)\b|@import", first)
    assert set(re.findall(r"url\(([^)]*)\)", first)) <= {m for m in re.findall(r"url\((#[^)]*)\)", first)}
    # Text stays text: every value label and the title are there for tests and screen readers.
    texts = svg_texts(first)
    assert "<title>Capacity</title>" in first
    for expected in (
        "45.2k req/s",
        "950 req/s",
        f"0.12{TIMES} [0.11, 0.13] slower",
        "fastapi-granian [tuned]",
        "ping",
    ):
        assert expected in texts, expected
    assert not [t for t in texts if SCIENTIFIC.search(t)]


def test_charts_inline_side_by_side_without_repeating_ids() -> None:
    charts = [
        capacity_chart("Capacity", [PING, LIST]),
        latency_chart("Latency", LATENCY),
        ladder_chart("Ladder", LADDER),
    ]
    ids = [re.findall(r'\bid="([^"]+)"', svg) for svg in charts]
    flat = [i for chart in ids for i in chart]
    assert flat, "clip paths and markers keep their ids"
    assert len(flat) == len(set(flat)), "no id twice in one page"
    for svg in charts:
        referenced = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', svg))
        assert referenced == set(re.findall(r'\bid="([^"]+)"', svg))


def test_figures_are_freed_and_no_pyplot_figure_is_left_open() -> None:
    from matplotlib._pylab_helpers import Gcf

    reference = weakref.ref(plots._capacity_figure("Capacity", [PING, LIST]))
    gc.collect()
    assert reference() is None, "nothing keeps a drawn figure alive"
    for _ in range(3):
        ladder_chart("Ladder", LADDER)
    assert Gcf.get_num_fig_managers() == 0


def test_charts_render_in_headless_chromium(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"headless Chromium is needed at {CHROMIUM}: apt-get install -y chromium")
    charts = [
        capacity_chart("What one server core serves", [PING, LIST, ALONE]),
        latency_chart("p99 against offered load", LATENCY),
        ladder_chart("From the write-up to bare FastAPI", LADDER),
    ]
    page = tmp_path / "charts.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><style>body{margin:16px;background:#fff}"
        "svg{display:block;max-width:100%;height:auto;margin-bottom:24px}</style></head><body>"
        + "".join(charts)
        + "</body></html>"
    )
    shot = tmp_path / "charts.png"
    proc = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
         "--window-size=1200,2000", "--hide-scrollbars", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 2000)
    pixels = np.asarray(image, dtype=int).reshape(-1, 3)
    inked = int((pixels != 255).any(axis=1).sum())
    assert inked > 0.05 * len(pixels), f"only {inked} of {len(pixels)} pixels drawn"

    # Every stack's colour is on screen in quantity: the bars and lines were painted, not just the text.
    def near(colour: str) -> int:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(pixels - rgb).sum(axis=1) < 24).sum())

    for stack, colour in STACK_COLORS.items():
        assert near(colour) > 2_000, stack
