"""`fastapi-load readme` keeps what it cannot regenerate: a section whose experiment has no run in
the results directory stays as the README had it, rather than turning into "not measured"."""

from pathlib import Path

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
