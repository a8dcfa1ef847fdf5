"""A side's errors are shown by message where a user looks first: the console comparison and report.md,
not only the JSON. A connection per request on a database with room for few clients is refused with
PostgreSQL's own "too many clients already", as in the write-up."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench.common.paths import REPO_ROOT

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

REFUSAL = "`HTTP 503: database unavailable: too many clients already`"


def test_refusals_are_listed_by_message_on_screen_and_in_report_md(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "fastapi-uvicorn", "--variant", "per-request",
         "--max-connections", "10", "--users", "40", "--spawn-rate", "40", "--duration", "3",
         "--warmup", "0", "--scenario", "list", "--rounds", "0", "--no-calibration", "--quiet",
         "--compare", "--run-id", "refused", "--results-dir", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("Errors: ")]
    assert lines, proc.stdout[-3000:]
    assert lines[0].startswith("Errors: fastapi-uvicorn:per-request on list: ")
    assert REFUSAL in lines[0]
    count = lines[0].split(REFUSAL + " x", 1)[1].split(";")[0].rstrip(".").replace(",", "")
    assert int(count) > 0
    report = (tmp_path / "refused" / "report.md").read_text()
    assert lines[0] in report, "report.md lists the same errors"
