"""The run report: Markdown and a self-contained HTML page from a recorded real run, opened in Chromium."""

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.analysis.compare import compare_paths, verdict
from bench.analysis.report import cpu_prose, write_report
from bench.common.errors import BenchError
from tests.test_compare import BENCH_RUN

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
# Added to a copy of the page only: the browser measures every drawn chart and reports any page error.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message || e.target)), true);
window.addEventListener("load", () => {
  for (const svg of document.querySelectorAll("figure svg")) {
    const box = svg.getBoundingClientRect();
    svg.parentElement.dataset.size = `${Math.round(box.width)}x${Math.round(box.height)}`;
  }
  document.body.dataset.errors = window.__errors.join(" | ");
});
</script>"""


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(BENCH_RUN, tmp_path / BENCH_RUN.name))


def dump_dom(page: Path, profile: Path) -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"headless Chromium is needed at {CHROMIUM} to open the report: apt-get install -y chromium"
        )
    probe = page.with_name("probed.html")
    probe.write_text(page.read_text().replace("</head>", PROBE + "</head>", 1))
    proc = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=3000",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class TopLevel(HTMLParser):
    """The body's elements in order, each with its class and its text, and every figure's measured size."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[tuple[str, str]] = []
        self.text: dict[int, str] = {}
        self.sizes: list[str] = []
        self.body_errors: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "body":
            self.body_errors = found.get("data-errors")
        if tag == "figure":
            self.sizes.append(found.get("data-size") or "")
        if tag in ("h1", "h2", "h3", "p", "section", "figure", "table"):
            self.order.append((tag, found.get("class") or ""))

    def handle_data(self, data: str) -> None:
        if self.order and data.strip():
            index = len(self.order) - 1
            self.text[index] = self.text.get(index, "") + data


def test_report_opens_on_the_verdict_then_the_charts_then_the_tables(run_dir: Path, tmp_path: Path) -> None:
    markdown, page = write_report(run_dir)
    assert (markdown, page) == (run_dir / "report.md", run_dir / "report.html")
    assert not list(run_dir.glob(".*.tmp")), "written atomically: no temporary file left"
    source = page.read_text()
    assert not re.search(r"https?://(?!www\.w3\.org)", source), "self-contained: the page fetches nothing"
    # url(#id) is an SVG clip path inside the page; anything else would be fetched.
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\((?!#)", source), (
        "nothing to fetch, no scripts"
    )
    dom = dump_dom(page, tmp_path / "chromium-profile")
    top = TopLevel()
    top.feed(dom)
    assert top.body_errors == "", top.body_errors
    assert top.order[0][0] == "h1"
    verdict_at = top.order.index(("p", "verdict"))
    charts_at = top.order.index(("section", "headline"))
    first_table = top.order.index(("table", ""))
    assert verdict_at == 1, top.order[:8]
    assert verdict_at < charts_at < first_table, top.order[:8]
    sentence = top.text[verdict_at]
    assert sentence.startswith("Against fastapi-uvicorn:default: "), sentence
    assert sentence == verdict(compare_paths([run_dir], None))
    assert len(top.sizes) >= 2, "a capacity chart and a latency chart"
    for size in top.sizes:
        width, height = (int(v) for v in size.split("x"))
        assert width > 300, top.sizes
        assert height > 150, top.sizes
    evidence = top.order.index(("h2", ""), first_table)
    assert any(tag == "table" for tag, _ in top.order[first_table:evidence]), "compact tables first"
    assert "Traceback" not in dom
    shown_badly = re.findall(r">[^<]*\b(NaN|undefined|Infinity|None|null)\b[^<]*<", dom)
    assert not shown_badly, "a value the report failed to format is shown"
    text = markdown.read_text()
    for expected in ("# fastapi-load report:", "## What the numbers mean", "## The evidence",
                     "go-gin:default", "fastapi-uvicorn:tuned", "Locust against the rounds"):  # fmt: skip
        assert expected in text, expected


def test_machine_lines_read_as_prose() -> None:
    assert cpu_prose({"mode": "auto", "server": [0], "generator": [1]}) == (
        "server and PostgreSQL on CPU 0, load generator on CPU 1"
    )
    assert cpu_prose({"mode": "none", "server": None, "generator": None}).startswith("nothing pinned")


def test_a_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no run directory"):
        write_report(tmp_path / "nope")
    with pytest.raises(BenchError, match="no results found"):
        write_report(tmp_path)
