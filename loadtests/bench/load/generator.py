"""Running a load generator (wrk, vegeta) to its end: pinned, sampled, stopped with the harness."""

import os
import signal
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common.errors import BenchError
from bench.common.lifetime import die_with_parent, stop_group, track
from bench.load.sampling import INTERVAL_S, Sampler

GROUP = "generator"


@dataclass(frozen=True)
class Finished:
    code: int
    sampler: Sampler  # its samples bracket the generator's whole run
    cpu_percent: float | None  # the generator's mean over its run, 100 = one core


def run_generator(
    name: str,
    command: list[str],
    log: Path,
    cpus: frozenset[int] | None,
    env: dict[str, str],
    timeout_s: float,
    extra_groups: dict[str, Callable[[], list[int]]] | None = None,
    interval_s: float = INTERVAL_S,
) -> Finished:
    """Runs `command` to its end, pinned to `cpus`, its output in `log`, sampled with `extra_groups`
    (name -> callable returning root pids); one that overruns `timeout_s` is stopped and an error."""

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    process: subprocess.Popen[bytes] | None = None

    def pids() -> list[int]:
        return [process.pid] if process is not None and process.poll() is None else []

    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as handle, Sampler({GROUP: pids, **(extra_groups or {})}, interval_s) as sampler:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent(signal.SIGKILL, then=pin),
        )  # fmt: skip
        track(process.pid)
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_group(process)
            raise BenchError(
                f"{name} did not finish within {timeout_s:.0f} s (the generator fell behind)"
            ) from None
        except BaseException:
            stop_group(process)
            raise
    usage = [s.cpu_percent[GROUP] for s in sampler.samples[1:] if s.cpu_percent[GROUP] > 0]
    cpu = round(statistics.fmean(usage), 1) if usage else None
    return Finished(code, sampler, cpu)
