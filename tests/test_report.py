"""The run report: Markdown and a self-contained HTML page, opened in headless Chromium from a real run."""

import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bench.analysis.charts import saturation_charts
from bench.analysis.compare import GENERATOR_MARK, capacity_summary, compare_paths, verdict
from bench.analysis.report import write_report
from bench.analysis.svg import nice_ticks
from bench.common.errors import BenchError
from bench.run.results import COMPLETE, INCOMPLETE, SCHEMA_VERSION
from bench.run.runner import RunRequest, run
from tests.conftest import QUICK

# Real wrk ceilings and a real calibration, short: the report shows both.
PROFILE = {**QUICK, "duration_s": 3, "ceiling": "on", "ceiling_s": 2, "calibration_s": 3,
           "calibrate": True}  # fmt: skip
SERVICES = ["fastapi-uvicorn", "fastapi-granian"]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)
# Added to a copy of the page only: the browser measures every drawn mark and reports any page error.
PROBE_HEAD = """<script>
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message || e.target)), true);
</script>"""
PROBE_BODY = """<script>
for (const figure of document.querySelectorAll("figure[data-chart]")) {
  const svg = figure.querySelector("svg");
  const byTag = {path: 0, circle: 0, rect: 0};
  const bySeries = {};
  for (const mark of svg.querySelectorAll(".mark")) {
    const box = mark.getBBox();
    // A flat line has no height, but a point or a bar needs both sides.
    const line = mark.tagName === "path";
    if (line ? box.width > 0 || box.height > 0 : box.width > 0 && box.height > 0) {
      byTag[mark.tagName] += 1;
      const series = mark.dataset.series || "?";
      bySeries[series] = (bySeries[series] || 0) + 1;
    }
  }
  const size = svg.getBoundingClientRect();
  figure.dataset.drawn = JSON.stringify(bySeries);
  figure.dataset.rects = byTag.rect;
  figure.dataset.size = `${Math.round(size.width)}x${Math.round(size.height)}`;
}
document.body.dataset.errors = window.__errors.join(" | ");
</script>"""


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def save(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("report-results")
    outcome = run(
        RunRequest(services=SERVICES, scenarios=["ping"], run_id="report", results_dir=results, **PROFILE)
    )
    assert outcome.status == COMPLETE, [c.error for c in outcome.cases]
    return outcome.run_dir


class Figures(HTMLParser):
    """Collects each figure[data-chart] with its attributes, the SVG's text and its caption."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, dict[str, Any]] = {}
        self.body: dict[str, str | None] = {}
        self.notes: list[str] = []
        self._current: dict[str, Any] | None = None
        self._tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "body":
            self.body = attributes
        if tag == "figure" and "data-chart" in attributes:
            self._current = {"attrs": attributes, "svg": 0, "text": [], "caption": "", "classes": []}
            self.figures[str(attributes["data-chart"])] = self._current
        if self._current is not None:
            self._current["svg"] += tag == "svg"
            self._current["classes"].append(attributes.get("class") or "")
        if tag == "p" and "data-note" in attributes:
            self.notes.append(str(attributes["data-note"]))
        self._tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._current = None
        while self._tags and self._tags.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._current is not None and data.strip():
            key = "caption" if self._tags and self._tags[-1] == "figcaption" else "text"
            if key == "caption":
                self._current["caption"] += data
            else:
                self._current["text"].append(data.strip())


def dump_dom(page: Path, profile: Path) -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"headless Chromium is needed at {CHROMIUM} to open the report: apt-get install -y chromium"
        )
    probe = page.with_name("probed.html")
    text = (
        page.read_text()
        .replace("<head>", "<head>" + PROBE_HEAD, 1)
        .replace("</body>", PROBE_BODY + "</body>")
    )
    probe.write_text(text)
    proc = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_report_of_a_real_run_opens_in_chromium(run_dir: Path, tmp_path: Path) -> None:
    markdown, page = write_report(run_dir)
    assert (markdown, page) == (run_dir / "report.md", run_dir / "report.html")
    assert not list(run_dir.glob(".*.tmp")), "written atomically: no temporary file left"
    text = markdown.read_text()
    for expected in ("# fastapi-load report: report", "## What the numbers mean", "### Scenario `ping`",
                     "fastapi-uvicorn [default]", "fastapi-granian [default]", "1 trial: cannot judge noise",
                     "CPU ms/req", "peak RSS MB", "capacity (wrk)", "baseline (wrk)",
                     "generator calibration: Locust's top rate", "trial order: rotation",
                     "- Locust reached ", "[default]'s capacity on ping; the ranking uses wrk's ceilings",
                     ):  # fmt: skip
        assert expected in text, expected

    source = page.read_text()
    assert not re.search(r"https?://", source), "self-contained: the page names no URL"
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\(", source), "nothing to fetch, no scripts"

    dom = dump_dom(page, tmp_path / "chromium-profile")
    parsed = Figures()
    parsed.feed(dom)
    assert parsed.body.get("data-errors") == "", parsed.body.get("data-errors")
    expected_charts = {"capacity", "rps-ping", "latency-ping", "cpu-per-request", "peak-rss"}
    assert expected_charts <= set(parsed.figures), sorted(parsed.figures)
    assert "errors" in parsed.notes or "errors-over-time" in parsed.figures, (
        "errors drawn, or 'no errors' said"
    )
    for chart in ("capacity", "rps-ping", "latency-ping", "cpu-per-request", "peak-rss"):
        figure = parsed.figures[chart]
        attrs = figure["attrs"]
        assert figure["svg"] == 1, chart
        width, height = (int(v) for v in attrs["data-size"].split("x"))
        assert width > 300, (chart, attrs["data-size"])
        assert height > 200, (chart, attrs["data-size"])
        # Every service has marks with a real extent on screen: a line or its points, or a bar.
        drawn = json.loads(attrs["data-drawn"])
        for service in SERVICES:
            assert any(service in name for name in drawn), (chart, service, drawn)
        assert figure["caption"].strip(), f"{chart} has a caption"
        assert "title" in figure["classes"], chart
        assert figure["classes"].count("axis-label") == 2, chart
        assert "legend" in figure["classes"], chart
        legend_text = " ".join(figure["text"])
        for service in SERVICES:
            assert service in legend_text, (chart, service)
    for chart in ("capacity", "cpu-per-request", "peak-rss"):
        assert int(parsed.figures[chart]["attrs"]["data-rects"]) == len(SERVICES), chart
    assert "Locust" in " ".join(parsed.figures["capacity"]["text"]), "each bar says Locust's share"
    latency = json.loads(parsed.figures["latency-ping"]["attrs"]["data-drawn"])
    for service in SERVICES:
        for key in ("p50", "p95", "p99"):
            # A generator-bound side carries a mark between its name and the percentile.
            drawn = [
                name for name in latency if name.startswith(f"{service} [default]") and name.endswith(key)
            ]
            assert drawn, (service, key, latency)
    assert "Traceback" not in dom
    shown_badly = re.findall(r">[^<]*\b(NaN|undefined|Infinity|None|null)\b[^<]*<", dom)
    assert not shown_badly, "a value the report failed to format is shown"
    assert not re.search(r'="[^"]*\b(NaN|Infinity|undefined)\b', dom), "a drawing attribute is not a number"


def test_generator_bound_and_incomplete_cases_are_marked(run_dir: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(run_dir, tmp_path / "marked"))
    bound = copy / "fastapi-uvicorn" / "default" / "ping.json"
    save(bound, {**load(bound), "generator_bound": True, "generator_bound_reasons": ["set by the test"]})
    cut = copy / "fastapi-granian" / "default" / "ping.json"
    interrupted = {
        "schema_version": SCHEMA_VERSION,
        "status": INCOMPLETE,
        "reason": "interrupted",
        "service": "fastapi-granian",
        "variant": "default",
        "scenario": "ping",
        "trial": 1,
    }
    save(cut, {**interrupted, "trials": 1})
    markdown, page = write_report(copy)
    source = page.read_text()
    assert 'class="banner generator-bound"' in source
    assert '<tr class="baseline generator-bound">' in source
    assert f"fastapi-uvicorn [default] {GENERATOR_MARK}" in source, "in the chart legends too"
    assert 'class="banner incomplete"' in source
    assert '<tr class="incomplete"><td>fastapi-granian [default]</td><td>ping</td>' in source
    text = markdown.read_text()
    assert "Locust was the limit" in text
    assert "| fastapi-granian [default] | ping | 1 | incomplete | interrupted |" in text


def test_a_ceiling_below_locusts_rate_is_named_a_lower_bound(run_dir: Path, tmp_path: Path) -> None:
    def ceilings_at(share_of_locust: dict[str, float]) -> str:
        copy = Path(shutil.copytree(run_dir, tmp_path / "-".join(map(str, share_of_locust.values()))))
        for service, share in share_of_locust.items():
            path = copy / service / "default" / "ping.json"
            document = load(path)
            ceiling = {**document["ceiling"], "rps": document["throughput"]["rps"] / share}
            save(path, {**document, "ceiling": ceiling})
        (ping,) = compare_paths([copy], None).scenarios
        text = capacity_summary(ping)
        assert text is not None
        return text

    # wrk twice Locust's rate on both: the ordinary case, nothing to say.
    assert "below Locust's rate" not in ceilings_at({"fastapi-uvicorn": 0.5, "fastapi-granian": 0.5})
    # On granian the ceiling came out at half Locust's rate: named, with the share, and only granian.
    text = ceilings_at({"fastapi-uvicorn": 0.5, "fastapi-granian": 2.0})
    assert "wrk's ceiling came out below Locust's rate on fastapi-granian [default] (200%)" in text
    assert "a lower bound, not the capacity" in text
    assert "fastapi-uvicorn [default] (" not in text
    # With errors the two rates are mostly refusals and do not compare: nothing said.
    low = tmp_path / "0.5-2.0" / "fastapi-granian" / "default" / "ping.json"
    document = load(low)
    save(low, {**document, "ceiling": {**document["ceiling"], "errors": 7}})
    (ping,) = compare_paths([tmp_path / "0.5-2.0"], None).scenarios
    assert "below Locust's rate" not in (capacity_summary(ping) or "")


def test_a_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no run directory"):
        write_report(tmp_path / "nope")
    with pytest.raises(BenchError, match="no results found"):
        write_report(tmp_path)


def test_nice_ticks() -> None:
    assert nice_ticks(0, 8577) == [0, 2000, 4000, 6000, 8000, 10000]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 103.2) == [0, 25, 50, 75, 100, 125]


def test_saturation_is_drawn_with_its_knee_and_kept_out_of_the_comparison(
    run_dir: Path, tmp_path: Path
) -> None:
    # Our own saturate.json format, built by hand here only: the drawing, not a measurement, is tested.
    measured = [(10, 900.0, 20.0, 30.0, 40.0), (20, 1700.0, 25.0, 50.0, 70.0), (40, 2100.0, 45.0, 60.0, 95.0),
                (80, 2150.0, None, 61.0, 99.0)]  # fmt: skip
    steps = [
        {"users": users, "rps": rps, "p99": p99, "failures": 0, "locust_cpu_percent": locust,
         "service_cpu_percent": service}
        for users, rps, p99, locust, service in measured
    ]  # fmt: skip
    document = {
        "schema_version": SCHEMA_VERSION, "kind": "saturation", "status": COMPLETE, "run_id": "report",
        "service": "fastapi-uvicorn", "variant": "default", "scenario": "ping", "steps": steps,
        "knee": {"users": 40, "rps": 2100.0, "p99": 45.0}, "stopped_by": "throughput plateau",
    }  # fmt: skip
    figures = [ET.fromstring(figure) for figure in saturation_charts([document])]
    assert [f.get("data-chart") for f in figures] == ["saturation-rps", "saturation-p99"]
    for figure, timed in zip(figures, (4, 3), strict=True):
        svg = figure.find("svg")
        assert svg is not None
        points = [c for c in svg.iter("circle") if c.get("class") == "mark"]
        (knee,) = [c for c in svg.iter("circle") if c.get("class") == "mark knee"]
        assert len(points) == timed, "a step without a p99 is left out, not drawn at zero"
        assert (knee.get("cx"), knee.get("cy")) == (points[2].get("cx"), points[2].get("cy")), (
            "on the 40-user step"
        )
        texts = [t.text or "" for t in svg.iter("text")]
        assert "knee: 40 users" in texts
        assert "concurrent users" in texts
        assert any("stopped by throughput plateau" in t for t in texts), "legend"
        for element in svg.iter():
            for name in ("x", "y", "cx", "cy", "width", "height"):
                if element.get(name) is not None:
                    assert math.isfinite(float(str(element.get(name)))), (element.tag, name)
        caption = figure.find("figcaption")
        assert caption is not None
        assert caption.text

    copy = Path(shutil.copytree(run_dir, tmp_path / "with-saturation"))
    save(copy / "fastapi-uvicorn" / "default" / "saturate.json", document)
    comparison = compare_paths([copy], None)
    assert [len(s.sides) for s in comparison.scenarios] == [2], "not a load case: no third side"
    assert comparison.saturations[0]["knee"]["users"] == 40
    markdown, page = write_report(copy)
    assert 'data-chart="saturation-rps"' in page.read_text()
    assert "| fastapi-uvicorn [default] | ping | complete | 4 | 40 | 2,100 | 45.0 | throughput plateau |" in (
        markdown.read_text()
    )


class TopLevel(HTMLParser):
    """The body's first elements in reading order: tag, its class or data-chart, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[tuple[str, str]] = []
        self._depth = 0
        self.text: dict[int, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("h1", "h2", "p", "table", "figure", "section"):
            self.order.append((tag, found.get("data-chart") or found.get("class") or ""))

    def handle_data(self, data: str) -> None:
        if self.order and data.strip():
            index = len(self.order) - 1
            self.text[index] = self.text.get(index, "") + data


def test_report_opens_on_the_chart_then_the_verdict_then_the_tables(run_dir: Path, tmp_path: Path) -> None:
    _, page = write_report(run_dir)
    dom = dump_dom(page, tmp_path / "chromium-profile")
    top = TopLevel()
    top.feed(dom)
    first_table = top.order.index(("table", ""))
    headline = top.order.index(("section", "headline"))
    verdict_at = top.order.index(("p", "verdict"))
    assert top.order[0][0] == "h1"
    assert top.order[headline + 1 : headline + 3] == [("figure", "headline-rps"), ("figure", "headline-cpu")]
    assert headline < verdict_at < first_table, top.order[:8]
    assert not [tag for tag in top.order[:headline] if tag[0] in ("table", "p", "h2")], "nothing before it"
    sentence = top.text[verdict_at]
    assert sentence.startswith("On ping, "), sentence
    assert "req/s by wrk's ceiling" in sentence, "ranked on ceilings when every side has one"
    # Each side's bar carries its ceiling as a dashed mark, drawn with a real extent on screen.
    parsed = Figures()
    parsed.feed(dom)
    rps = parsed.figures["headline-rps"]
    drawn = json.loads(rps["attrs"]["data-drawn"])
    for service in SERVICES:
        assert any(service in name for name in drawn), (service, drawn)
    marks = re.findall(r'<line class="ceiling-mark" data-series="([^"]+)"', dom)
    assert sorted(marks) == sorted(f"{service} [default]" for service in SERVICES), marks
    assert "CPU ms per request" in " ".join(parsed.figures["headline-cpu"]["text"])
    expected = verdict(compare_paths([run_dir], None))
    assert expected is not None
    assert expected in (run_dir / "report.md").read_text()
