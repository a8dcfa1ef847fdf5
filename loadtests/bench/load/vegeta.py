"""Open-loop load: vegeta sends requests on a fixed schedule, whatever the server's answers are doing.

Closed-loop generators (Locust, wrk) wait for an answer before sending the next request, so a slow
server slows the load down and the latency they report leaves out the requests that were never sent
(coordinated omission). vegeta starts each request at its scheduled time, adding workers when answers
lag, so its schedule is what a client arriving at that rate asks for; each request's latency is taken
from that schedule (bench.load.intended), since vegeta's own starts when a worker picks it up.

vegeta is a Go program, pinned by version and built into the project's .tools/bin by `make setup`
(`go install github.com/tsenart/vegeta/v12@v12.13.0`). A generator has limits of its own: on one
core here it cannot keep much past 10k req/s, and its own scheduling adds latency before that. So
every point is checked (Attack.limit_reasons): the rate it kept while it had workers free, its CPU,
and its own lateness in sending; a point failing any check is marked, not reported as the server's.

Each attack's per-request results are kept, small, as `requests.csv.gz` beside its targets: sequence
number, pickup time, vegeta's latency, status and error kind (vegeta's own binary file, with bodies
and headers, is 10x larger and is removed once read).
"""

import base64
import contextlib
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from bench.common.errors import BenchError
from bench.common.paths import REPO_ROOT
from bench.load.generator import run_generator
from bench.load.intended import MAX_WORKERS, TIMEOUT_S, Attack, Sent, summarise
from bench.load.scenarios import SCENARIOS, Request
from bench.load.tool import Tool
from bench.services.process import clean_environment

VEGETA = "vegeta"
VERSION = "v12.13.0"
MODULE = f"github.com/tsenart/vegeta/v12@{VERSION}"
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
INSTALL_HINT = f"`make setup` builds it (go install {MODULE}) into .tools/bin"
_DRAIN_S = TIMEOUT_S + 5
RAW_FILE = "requests.csv.gz"
_RAW_HEADER = ("seq", "picked_ns", "took_ns", "code", "kind")
# `vegeta encode --to csv` columns (v12.13.0, `vegeta encode -h`; no header): timestamp (ns since the
# epoch, when a worker picked the request up), status, latency (ns), bytes out, bytes in, error,
# body (base64), attack name, seq, method, URL, headers (base64).
_TIMESTAMP, _CODE, _LATENCY, _ERROR, _BODY, _SEQ = 0, 1, 2, 5, 6, 8


Vegeta = Tool  # vegeta from .tools/bin (or PATH), at the version `make setup` pins


def find_vegeta() -> Vegeta | None:
    local = TOOLS_BIN / VEGETA
    path = str(local) if local.exists() else shutil.which(VEGETA)
    return Tool(VEGETA, path, VERSION) if path else None


def require_vegeta() -> Vegeta:
    found = find_vegeta()
    if found is None:
        raise BenchError(f"open-loop load needs vegeta, which is not installed: {INSTALL_HINT}")
    return found


def targets_text(url: str, requests: tuple[Request, ...], body_dir: Path) -> str:
    """vegeta's http target format; it cycles through the targets in order, so repeats set a mix."""
    lines: list[str] = []
    base = url.rstrip("/")
    for index, request in enumerate(requests):
        lines.append(f"{request.method} {base}{request.path}")
        if request.body is not None:
            body = body_dir / f"body-{index}.json"
            body.write_text(request.body)
            lines += ["Content-Type: application/json", f"@{body}"]
        lines.append("")
    return "\n".join(lines) + "\n"


def _error_kind(code: int, error: str, body_b64: str) -> str | None:
    """None for a success; else a short kind: `status 503 (pool timeout)`, `refused`, `timeout`..."""
    if 200 <= code < 300 and not error:
        return None
    if code:
        kind = f"status {code}"
        if code == 503:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                detail = json.loads(base64.b64decode(body_b64))["detail"]
                kind += f" ({str(detail).removeprefix('database unavailable: ')})"
        return kind
    lowered = error.lower()
    for needle, kind in (
        ("refused", "refused"),
        ("timeout", "timeout"),
        ("deadline", "timeout"),
        ("reset", "reset"),
        ("eof", "closed"),
    ):
        if needle in lowered:
            return kind
    return "other"


def parse_results(csv_text: str) -> list[Sent]:
    """vegeta's per-request results from `vegeta encode --to csv` output."""
    sent = []
    for row in csv.reader(io.StringIO(csv_text)):
        if len(row) <= _SEQ:
            continue
        try:
            code = int(row[_CODE])
            sent.append(
                Sent(
                    seq=int(row[_SEQ]),
                    picked_ns=int(row[_TIMESTAMP]),
                    took_ns=int(row[_LATENCY]),
                    code=code,
                    kind=_error_kind(code, row[_ERROR], row[_BODY]),
                )
            )
        except ValueError:
            raise BenchError(f"vegeta's results are not in the expected CSV form: {row[:3]}") from None
    return sent


def write_raw(path: Path, sent: Iterable[Sent]) -> None:
    """The per-request results, gzipped CSV with a header (about 8 bytes a request)."""
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_RAW_HEADER)
        for s in sent:
            writer.writerow((s.seq, s.picked_ns, s.took_ns, s.code, s.kind or ""))


def read_raw(path: Path) -> list[Sent]:
    """What write_raw wrote."""
    with gzip.open(path, "rt", newline="") as handle:
        rows = csv.reader(handle)
        if tuple(next(rows, ())) != _RAW_HEADER:
            raise BenchError(f"{path} is not a per-request results file")
        return [
            Sent(int(seq), int(picked), int(took), int(code), kind or None)
            for seq, picked, took, code, kind in rows
        ]


def attack(
    vegeta: Vegeta,
    url: str,
    scenario: str,
    rate: float,
    seconds: int,
    out_dir: Path,
    cpus: frozenset[int] | None,
) -> Attack:
    """One fixed-rate attack on `scenario`, pinned to `cpus`; its per-request results are kept in
    `out_dir` (RAW_FILE)."""
    requests = SCENARIOS[scenario].open_loop
    if not requests:
        raise BenchError(f"scenario {scenario!r} depends on earlier answers and cannot be sent open-loop")
    if round(rate) < 1 or seconds < 1:
        raise BenchError("an open-loop point needs a rate of at least 1 req/s and at least 1 second")
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = out_dir / "targets.txt"
    targets.write_text(targets_text(url, requests, out_dir))
    results = out_dir / "results.bin"
    cores = len(cpus) if cpus else (os.cpu_count() or 1)
    command = [
        vegeta.path, "attack",
        f"-rate={round(rate)}/1s", f"-duration={seconds}s", f"-timeout={TIMEOUT_S}s",
        f"-targets={targets}", "-max-body=512", "-http2=false", f"-max-workers={MAX_WORKERS}",
        f"-output={results}",
    ]  # fmt: skip

    finished = run_generator(
        VEGETA, command, out_dir / "vegeta.log", cpus, clean_environment({"GOMAXPROCS": str(cores)}),
        seconds + _DRAIN_S, interval_s=0.5,
    )  # fmt: skip
    if finished.code != 0:
        tail = " | ".join((out_dir / "vegeta.log").read_text(errors="replace").strip().splitlines()[-3:])
        raise BenchError(f"vegeta exited with code {finished.code}: {tail or 'no output'}")
    encoded = subprocess.run(
        [vegeta.path, "encode", "--to", "csv", str(results)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if encoded.returncode != 0:
        raise BenchError(f"vegeta encode failed: {encoded.stderr.strip()[-200:]}")
    sent = parse_results(encoded.stdout)
    write_raw(out_dir / RAW_FILE, sent)
    results.unlink()
    return summarise(sent, rate, seconds, finished.cpu_percent, cores)
