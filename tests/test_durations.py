"""DURATION, WARMUP and STEP_SECONDS take what Locust's --run-time takes, and results record seconds;
the run can then be reported with `make report RUN=...` as the README says."""

import json
import subprocess
from pathlib import Path

import pytest

from bench.common.durations import parse_seconds
from bench.common.paths import REPO_ROOT
from bench.common.results import find_results
from tests.conftest import user_shell_environment


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30), ("30s", 30), ("2m", 120), ("1h30m", 5400), ("1h30m10s", 5410), ("0", 0), ("90S", 90)],
)
def test_locust_spellings_become_seconds(text: str, seconds: int) -> None:
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "10x", "1.5m", "m", "s30", "-5", "1m1h"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_seconds(text)


@pytest.mark.slow
def test_make_bench_takes_seconds_with_a_unit(tmp_path: Path) -> None:
    run_id = f"durations-{tmp_path.name}"
    proc = subprocess.run(
        # No capacity rounds: wrk's windows are not what this test is about.
        ["make", "-s", "bench-fastapi", "DURATION=2s", "WARMUP=1s", "SCENARIO=ping", "USERS=5",
         "SPAWN_RATE=5", "ROUNDS=0", f"RUN_ID={run_id}"],
        cwd=REPO_ROOT, env=user_shell_environment(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    run_dir = REPO_ROOT / "results" / run_id
    try:
        assert proc.returncode == 0, proc.stderr[-2000:]
        [path] = find_results(run_dir)
        load = json.loads(path.read_text())["load"]
        assert (load["duration_s"], load["warmup_s"]) == (2, 1)
        assert load["locust_command"][load["locust_command"].index("--run-time") + 1] == "3s"
        # The README's next step on the same run: `make report RUN=results/<run>`.
        report = subprocess.run(
            ["make", "-s", "report", f"RUN={run_dir}"],
            cwd=REPO_ROOT, env=user_shell_environment(), capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert report.returncode == 0, report.stderr[-2000:]
        assert (run_dir / "report.html").is_file()
    finally:
        subprocess.run(["rm", "-rf", str(run_dir)], check=False)


def test_a_bad_duration_names_the_forms_accepted() -> None:
    proc = subprocess.run(
        ["make", "-s", "bench-fastapi", "DURATION=10x"],
        cwd=REPO_ROOT, env=user_shell_environment(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "'10x' is not a duration; use seconds (30) or Locust's form (30s, 2m, 1h30m)" in proc.stderr
    assert "Traceback" not in proc.stderr
