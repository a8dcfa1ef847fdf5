"""`fastapi-load readme`: sections, findings and claims generated from recorded real runs, each kept
as committed evidence beside the README."""

import json
import shutil
from pathlib import Path

import pytest

from bench.claims import read_claims
from bench.common.paths import REPO_ROOT
from bench.experiments import EXPERIMENTS
from bench.readme import END, FINDINGS_END, FINDINGS_START, START, VERSIONS_END, VERSIONS_START, regenerate

FIXTURES = Path(__file__).parent / "fixtures"
SERVERS_RUN = "servers-20260101-000000"
TEMPLATE = "\n\n".join(
    [
        "# t",
        f"{FINDINGS_START}\nold\n{FINDINGS_END}",
        f"{VERSIONS_START}\nold\n{VERSIONS_END}",
        f"{START}\n{END}\n",
    ]
)


def _marked(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0]


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def test_an_experiment_without_a_run_says_how_to_measure_it(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(TEMPLATE)
    (tmp_path / "results").mkdir()

    done = regenerate(readme, tmp_path / "results")

    assert done.measured == []
    assert done.missing == list(EXPERIMENTS)
    marked = _marked(readme.read_text())
    for name, experiment in EXPERIMENTS.items():
        assert f"### {experiment.title}\n\nNot measured yet: run `make bench-{name}`." in marked
    assert read_claims(tmp_path / "docs" / "claims.json").claims == []


def test_markers_missing_are_one_clear_error(tmp_path: Path) -> None:
    from bench.common.errors import BenchError

    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(BenchError, match="markers"):
        regenerate(readme, tmp_path)


def _regenerate_servers(tmp_path: Path, parts: dict[str, Path]) -> str:
    """A README regenerated from one servers run whose parts are recorded real runs."""
    results = tmp_path / "results"
    for part, recorded in parts.items():
        shutil.copytree(recorded, results / SERVERS_RUN / part)
    (results / SERVERS_RUN / "report.md").write_text("written by the experiment\n")
    page = tmp_path / "README.md"
    page.write_text(TEMPLATE)
    done = regenerate(page, results)
    assert done.measured == ["servers"]
    return page.read_text()


def _block(text: str) -> str:
    return _marked(text).split(f"### {EXPERIMENTS['servers'].title}\n", 1)[1].split("\n### ", 1)[0]


def test_a_measured_experiment_gets_its_answer_chart_table_page_and_evidence(tmp_path: Path) -> None:
    """The servers block from a recorded real run (the bench-run fixture has the servers' seven sides)."""
    text = _regenerate_servers(tmp_path, {"servers": FIXTURES / "bench-run"})
    block = _block(text)
    # The question FastAPI users bring: each server against uvicorn, each tuned side against its own.
    assert "**Answer:** On ping, against fastapi-uvicorn:default: " in block
    assert "against fastapi-granian:default: fastapi-granian:tuned " in block
    assert "share one 5% error budget" in block
    assert f"run `{SERVERS_RUN}`" in block
    assert (tmp_path / "docs" / "figures" / "servers.svg").read_text().startswith("<svg")
    rows = [line for line in block.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 7, "one compact table: header, rule, a row per side"
    # The evidence: compact copies of every record, linked from the block, beside the README.
    kept = tmp_path / "docs" / "evidence" / SERVERS_RUN
    assert f"[evidence](docs/evidence/{SERVERS_RUN})" in block
    for name in ("run.json", "rounds.json", "open-loop.json"):
        assert json.loads((kept / "servers" / name).read_text())
    assert not list(kept.rglob("raw")), "raw generator output stays in results/"
    assert sum(p.stat().st_size for p in kept.rglob("*") if p.is_file()) < 1_000_000
    # Claims as data, and the findings rendered from them.
    claims = read_claims(tmp_path / "docs" / "claims.json").claims
    assert len(claims) == 12
    assert {c.evidence for c in claims} == {f"docs/evidence/{SERVERS_RUN}"}
    findings = _between(text, FINDINGS_START, FINDINGS_END)
    assert "old" not in findings
    assert "- **Which server for FastAPI, against uvicorn (list)**: granian " in findings
    assert "- **Does tuning pay, each server against itself as shipped (list)**: uvicorn " in findings
    assert "- **Sizing (list" in findings
    assert f"[evidence](docs/evidence/{SERVERS_RUN})" in findings
    # The versions the claims were measured on, from the run's own record.
    versions = _between(text, VERSIONS_START, VERSIONS_END)
    for name in ("Python 3.", "FastAPI ", "uvicorn ", "granian ", "PostgreSQL ", "wrk "):
        assert name in versions, versions
    full = (tmp_path / "docs" / "results" / "servers.md").read_text()
    assert "## the four services, as shipped and tuned" in full
    assert "The evidence" in full


def test_an_older_evidence_of_the_same_experiment_is_replaced(tmp_path: Path) -> None:
    _regenerate_servers(tmp_path, {"servers": FIXTURES / "bench-run"})
    newer = "servers-20260102-000000"
    shutil.copytree(tmp_path / "results" / SERVERS_RUN, tmp_path / "results" / newer)
    regenerate(tmp_path / "README.md", tmp_path / "results")
    kept = sorted(p.name for p in (tmp_path / "docs" / "evidence").iterdir())
    assert kept == [newer]
    # A fresh clone (no results/) regenerates the same README from the evidence alone.
    before = (tmp_path / "README.md").read_text()
    shutil.rmtree(tmp_path / "results")
    (tmp_path / "results").mkdir()
    regenerate(tmp_path / "README.md", tmp_path / "results")
    assert (tmp_path / "README.md").read_text() == before


def test_the_server_flags_are_answered_beside_the_four_stacks(tmp_path: Path) -> None:
    """Both parts of the servers comparison: the four stacks (bench-run) and the server flags
    (server-settings: the settings part of `make bench-servers` on 2026-12-03), each flag against
    its own server's default."""
    parts = {"servers": FIXTURES / "bench-run", "settings": FIXTURES / "server-settings"}
    text = _regenerate_servers(tmp_path, parts)
    answer = _block(text).split("**Answer:** ", 1)[1]
    assert answer.startswith(
        "**the four services, as shipped and tuned**: on list, against fastapi-uvicorn:default: "
    )
    for stack, flag in (("gunicorn", "asgi-worker"), ("uvicorn", "workers"), ("granian", "runtime-threads")):
        assert f"against fastapi-{stack}:default: fastapi-{stack}:{flag} " in answer
    line = next(f for f in _between(text, FINDINGS_START, FINDINGS_END).splitlines() if "Server flags" in f)
    for name in (
        "gunicorn's ASGI worker",
        "uvicorn --workers 2",
        "granian --runtime-threads 2",
        "granian --workers 2",
    ):
        assert f"{name} 0." in line or f"{name} 1." in line, line


def test_the_readme_answers_first_and_stays_short() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) < 260, len(lines)
    first_screen = "\n".join(lines[:45])
    assert "Which server for FastAPI" in first_screen or "Not measured" in text
    assert VERSIONS_START in text
    assert "make check-claims" in text
