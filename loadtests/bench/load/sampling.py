"""Once a second: CPU and RSS of the service's process tree, Locust's, and PostgreSQL's."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

INTERVAL_S = 1.0
# The process groups every measurement follows: the service's tree, the load generator's, PostgreSQL's.
SERVICE, LOCUST, POSTGRES = "service", "locust", "postgres"


@dataclass(frozen=True)
class Sample:
    at: float  # unix time
    cpu_percent: dict[str, float]  # 100 = one core busy
    rss_bytes: dict[str, int]
    cpu_seconds: dict[str, float]  # cumulative, for CPU per request
    # Live processes per group: a result shows how many workers really served it, not what was asked.
    processes: dict[str, int] = field(default_factory=dict)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass
class _GroupState:
    known: dict[int, psutil.Process] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)
    retired: float = 0.0  # CPU of processes that exited between samples


class Sampler:
    """Samples named process groups (each given by a callable returning root pids)."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]], interval: float = INTERVAL_S) -> None:
        self.groups = groups
        self.interval = interval
        self.samples: list[Sample] = []
        self._state = {name: _GroupState() for name in groups}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
        self._last: tuple[float, dict[str, float]] | None = None

    def __enter__(self) -> "Sampler":
        self._take()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._take()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._take()

    def _group_usage(self, name: str) -> tuple[float, int, int]:
        state = self._state[name]
        procs: dict[int, psutil.Process] = {}
        for root in self.groups[name]():
            for proc in _tree(root):
                procs[proc.pid] = state.known.get(proc.pid, proc)
        rss = alive = 0
        for pid, proc in procs.items():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    state.seconds[pid] = times.user + times.system
                    rss += proc.memory_info().rss
                    alive += 1
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
        for pid in set(state.known) - set(procs):
            state.retired += state.seconds.pop(pid, 0.0)
        state.known = procs
        return state.retired + sum(state.seconds.values()), rss, alive

    def _take(self) -> None:
        now = time.time()
        seconds: dict[str, float] = {}
        rss: dict[str, int] = {}
        processes: dict[str, int] = {}
        for name in self.groups:
            seconds[name], rss[name], processes[name] = self._group_usage(name)
        percent = {name: 0.0 for name in self.groups}
        if self._last is not None:
            then, before = self._last
            elapsed = max(now - then, 1e-6)
            percent = {name: 100.0 * max(seconds[name] - before[name], 0.0) / elapsed for name in self.groups}
        self._last = (now, seconds)
        self.samples.append(Sample(now, percent, rss, seconds, processes))

    def window(self, start: float, end: float) -> list[Sample]:
        """Samples whose interval lies inside [start, end] (the measured window)."""
        return [s for s in self.samples[1:] if start < s.at <= end + self.interval / 2]
