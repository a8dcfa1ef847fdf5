"""`fastapi-load readme` keeps what it cannot regenerate: a section whose experiment has no run in
the results directory stays as the README had it, rather than turning into "not measured"."""

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


def test_a_measured_experiment_gets_its_answer_chart_table_and_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The servers block from a recorded real run (the bench-run fixture has the servers' seven sides)."""
    import shutil

    from bench import readme as module
    from tests.test_compare import BENCH_RUN

    results = tmp_path / "results"
    experiment = results / "servers-20260101-000000"
    shutil.copytree(BENCH_RUN, experiment / "servers")
    (experiment / "report.md").write_text("written by the experiment\n")
    monkeypatch.setattr(module, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(module, "FIGURES", tmp_path / "docs" / "figures")
    monkeypatch.setattr(module, "RESULT_PAGES", tmp_path / "docs" / "results")
    page = tmp_path / "README.md"
    page.write_text(f"# t\n\n{module.FINDINGS_START}\nold\n{module.FINDINGS_END}\n\n{START}\n{END}\n")

    done = regenerate(page, results)

    assert done.measured == ["servers"]
    text = page.read_text()
    block = _marked(text).split(f"### {EXPERIMENTS['servers'].title}\n", 1)[1].split("\n### ", 1)[0]
    assert "**Answer:** On ping, against go-gin:default: fastapi-" in block
    assert "] slower" in block
    assert "run `servers-20260101-000000`" in block
    assert "![" in block
    assert (tmp_path / "docs" / "figures" / "servers.svg").read_text().startswith("<svg")
    rows = [line for line in block.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 7, "one compact table: header, rule, a row per side"
    assert all(line.count(" | ") <= 6 for line in rows), "at most seven columns"
    findings = text.split(module.FINDINGS_START, 1)[1].split(module.FINDINGS_END, 1)[0]
    assert "old" not in findings
    assert "- **list**, req/s on one core: go-gin " in findings
    assert "run `servers-20260101-000000`" in findings
    full = (tmp_path / "docs" / "results" / "servers.md").read_text()
    assert "## the four services, as shipped and tuned" in full
    assert "The evidence" in full


def test_the_readme_answers_first_and_stays_short() -> None:
    lines = (REPO_ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 250, len(lines)
    first_screen = "\n".join(lines[:40])
    assert "req/s on one core" in first_screen, "what one core serves per stack, on the first screen"
    assert "write-up's habits" in first_screen, "what the largest FastAPI habit costs, on the first screen"
