"""Once a second: CPU and RSS of the service's process tree, Locust's, and PostgreSQL's.

CPU comes from the group's cgroup where its roots were put in one (bench.load.cgroups: exact, every
process that ever ran in it, however short-lived). Elsewhere it comes from /proc: each live process's
user+system time plus the user+system time of its children that ended and were reaped (cutime and
cstime), which the kernel adds to the parent that waits for them. A backend that lives between two
readings is thus counted when the postmaster reaps it; only a process whose parent leaves the tree
first (re-parented to init) takes its time with it. Each sample says which source it used.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from bench.load import cgroups
from bench.load.cgroups import CpuSource

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
    # Where each group's CPU came from ("cgroup" or "proc"); a group with no process is absent.
    cpu_sources: dict[str, CpuSource] = field(default_factory=dict)


def cpu_source(sample: Sample, groups: tuple[str, ...]) -> CpuSource | None:
    """One word for the groups a figure is made of: "cgroup" only when every one of them (that had
    processes) was read from its cgroup."""
    found = {sample.cpu_sources[g] for g in groups if g in sample.cpu_sources}
    if not found:
        return None
    return "cgroup" if found == {"cgroup"} else "proc"


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass
class _GroupState:
    known: dict[int, psutil.Process] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)  # own and reaped children's, per process
    roots: set[int] = field(default_factory=set)
    retired: float = 0.0  # CPU of roots that ended: their parent is not in the group to reap them


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

    def _group_usage(self, name: str) -> tuple[float, int, int, CpuSource | None]:
        state = self._state[name]
        roots = self.groups[name]()
        account = cgroups.owner(roots)
        procs: dict[int, psutil.Process] = {}
        for root in roots:
            for proc in _tree(root):
                procs[proc.pid] = state.known.get(proc.pid, proc)
        rss = alive = 0
        # Parents before children (the order _tree lists them): a child reaped between the two reads
        # is missed for one sample rather than counted twice.
        for pid, proc in procs.items():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    own, reaped = times.user + times.system, times.children_user + times.children_system
                    state.seconds[pid] = own + reaped
                    rss += proc.memory_info().rss
                    alive += 1
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
        for pid in set(state.known) - set(procs):
            spent = state.seconds.pop(pid, 0.0)
            if pid in state.roots:
                state.retired += spent
            # Any other process that ended was reaped by its parent in the tree: its time is in the
            # parent's children_user/children_system now.
        state.known = procs
        state.roots |= set(roots)
        if account is not None:
            return account.usage_seconds(), rss, alive, "cgroup"
        source: CpuSource | None = "proc" if procs or state.retired else None
        return state.retired + sum(state.seconds.values()), rss, alive, source

    def _take(self) -> None:
        now = time.time()
        seconds: dict[str, float] = {}
        rss: dict[str, int] = {}
        processes: dict[str, int] = {}
        sources: dict[str, CpuSource] = {}
        for name in self.groups:
            seconds[name], rss[name], processes[name], source = self._group_usage(name)
            if source is not None:
                sources[name] = source
        percent = {name: 0.0 for name in self.groups}
        if self._last is not None:
            then, before = self._last
            elapsed = max(now - then, 1e-6)
            percent = {name: 100.0 * max(seconds[name] - before[name], 0.0) / elapsed for name in self.groups}
        self._last = (now, seconds)
        self.samples.append(Sample(now, percent, rss, seconds, processes, sources))

    def window(self, start: float, end: float) -> list[Sample]:
        """Samples whose interval lies inside [start, end] (the measured window)."""
        return [s for s in self.samples[1:] if start < s.at <= end + self.interval / 2]
