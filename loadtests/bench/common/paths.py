"""Where the repository's parts live, found from this file rather than the working directory."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS_DIR = REPO_ROOT / "migrations"
RESULTS_DIR = REPO_ROOT / "results"
LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"
WORKER_REPORT = REPO_ROOT / "loadtests" / "workerreport.py"
