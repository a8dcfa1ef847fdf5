"""`fastapi-load readme` keeps what it cannot regenerate: a section whose experiment has no run in
the results directory stays as the README had it, rather than turning into "not measured"."""

import shutil
from pathlib import Path

import pytest

from bench.common.paths import REPO_ROOT
from bench.experiments import EXPERIMENTS
from bench.readme import END, START, regenerate


def _marked(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0]


def test_sections_without_a_run_are_kept_word_for_word(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    original = (REPO_ROOT / "README.md").read_text()
    readme.write_text(original)
    empty_results = tmp_path / "results"
    empty_results.mkdir()

    done = regenerate(readme, empty_results)

    titled = [name for name, e in EXPERIMENTS.items() if f"### {e.title}\n" in _marked(original)]
    assert titled, "the README has no experiment sections to keep"
    assert done.measured == []
    assert done.kept == titled
    after = readme.read_text()
    for name in titled:
        title = EXPERIMENTS[name].title
        before_section = _marked(original).split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]
        assert before_section.strip() in after
    assert after.split(START, 1)[0] == original.split(START, 1)[0]
    assert after.split(END, 1)[1] == original.split(END, 1)[1]


def test_a_section_missing_from_the_readme_says_how_to_measure_it(tmp_path: Path) -> None:
    name, experiment = next(iter(EXPERIMENTS.items()))
    readme = tmp_path / "README.md"
    readme.write_text(f"# t\n\n{START}\n\n### {experiment.title}\n\nNot measured yet: old.\n\n{END}\n")
    (tmp_path / "results").mkdir()

    done = regenerate(readme, tmp_path / "results")

    assert name not in done.kept
    marked = _marked(readme.read_text())
    assert f"Not measured yet: run `make bench-{name}`." in marked
    for other in EXPERIMENTS.values():
        assert f"### {other.title}\n" in marked


FIXTURES = Path(__file__).parent / "fixtures"
SERVERS_RUN = "servers-20260101-000000"


def _regenerate_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: dict[str, Path]) -> str:
    """The README regenerated from one servers run whose parts are recorded real runs."""
    from bench import readme as module

    results = tmp_path / "results"
    for part, recorded in parts.items():
        shutil.copytree(recorded, results / SERVERS_RUN / part)
    (results / SERVERS_RUN / "report.md").write_text("written by the experiment\n")
    monkeypatch.setattr(module, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(module, "FIGURES", tmp_path / "docs" / "figures")
    monkeypatch.setattr(module, "RESULT_PAGES", tmp_path / "docs" / "results")
    page = tmp_path / "README.md"
    page.write_text(f"# t\n\n{module.FINDINGS_START}\nold\n{module.FINDINGS_END}\n\n{START}\n{END}\n")
    done = regenerate(page, results)
    assert done.measured == ["servers"]
    return page.read_text()


def _block(text: str) -> str:
    return _marked(text).split(f"### {EXPERIMENTS['servers'].title}\n", 1)[1].split("\n### ", 1)[0]


def _findings(text: str) -> str:
    from bench import readme as module

    return text.split(module.FINDINGS_START, 1)[1].split(module.FINDINGS_END, 1)[0]


def test_a_measured_experiment_gets_its_answer_chart_table_and_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The servers block from a recorded real run (the bench-run fixture has the servers' seven sides)."""
    text = _regenerate_servers(tmp_path, monkeypatch, {"servers": FIXTURES / "bench-run"})
    block = _block(text)
    assert "**Answer:** On ping, against go-gin:default: fastapi-" in block
    assert "] slower" in block
    assert f"run `{SERVERS_RUN}`" in block
    assert "![" in block
    assert (tmp_path / "docs" / "figures" / "servers.svg").read_text().startswith("<svg")
    rows = [line for line in block.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 7, "one compact table: header, rule, a row per side"
    assert all(line.count(" | ") <= 6 for line in rows), "at most seven columns"
    findings = _findings(text)
    assert "old" not in findings
    assert "- **list**, req/s on one core: go-gin " in findings
    assert f"run `{SERVERS_RUN}`" in findings
    assert "Server flags" not in findings, "no settings part, no line about it"
    full = (tmp_path / "docs" / "results" / "servers.md").read_text()
    assert "## the four services, as shipped and tuned" in full
    assert "The evidence" in full


def test_the_server_flags_are_answered_beside_the_four_stacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both parts of the servers comparison: the four stacks (bench-run) and the server flags
    (server-settings: the settings part of `make bench-servers` on 2026-12-03), each flag against
    its own server's default."""
    parts = {"servers": FIXTURES / "bench-run", "settings": FIXTURES / "server-settings"}
    text = _regenerate_servers(tmp_path, monkeypatch, parts)
    block = _block(text)
    answer = block.split("**Answer:** ", 1)[1]
    # One sentence per view, on list: the four stacks, then each server against its own default.
    assert answer.startswith("**the four services, as shipped and tuned**: on list, against go-gin:default: ")
    for stack, flag in (("gunicorn", "asgi-worker"), ("uvicorn", "workers"), ("granian", "runtime-threads")):
        assert f"against fastapi-{stack}:default: fastapi-{stack}:{flag} " in answer
    rows = [line for line in block.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 7, "the compact table stays the four stacks'; the flags are on the page"
    line = next(f for f in _findings(text).splitlines() if f.startswith("- **Server flags"))
    for name in (
        "gunicorn's ASGI worker",
        "uvicorn --workers 2",
        "granian --runtime-threads 2",
        "granian --workers 2",
    ):
        assert f"{name} 0." in line or f"{name} 1." in line, line
    svg = (tmp_path / "docs" / "figures" / "servers.svg").read_text()
    # Nine panels would not read at a glance: the four stacks' three, then each flag's list.
    assert "fastapi-granian: runtime-threads, workers against its default (list)" in svg
    assert "against its default (ping)" not in svg
    full = (tmp_path / "docs" / "results" / "servers.md").read_text()
    assert "## fastapi-gunicorn: asgi-worker against its default" in full


def test_the_readme_answers_first_and_stays_short() -> None:
    lines = (REPO_ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 250, len(lines)
    first_screen = "\n".join(lines[:40])
    assert "req/s on one core" in first_screen, "what one core serves per stack, on the first screen"
    assert "write-up's habits" in first_screen, "what the largest FastAPI habit costs, on the first screen"
