"""CPU per process group that misses nothing: cgroups on the real PostgreSQL, /proc on a real process."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from bench.database.server import Database
from bench.load import cgroups
from bench.load.pinning import tree_pids
from bench.load.sampling import POSTGRES, Sampler

# A parent that, once told to, forks a child burning CPU_S of CPU, reaps it, and says so.
_FORKER = """
import os, sys, time
sys.stdin.readline()
pid = os.fork()
if pid == 0:
    start = time.process_time()
    while time.process_time() - start < float(sys.argv[1]):
        pass
    os._exit(0)
os.waitpid(pid, 0)
print("reaped", flush=True)
sys.stdin.readline()
"""
CPU_S = 0.4


needs_cgroups = pytest.mark.skipif(
    not cgroups.usable(), reason="no writable cgroup v1 cpuacct here (the /proc fallback is used)"
)


def test_proc_fallback_counts_a_child_that_lived_between_two_samples() -> None:
    """The child is born and reaped between the sampler's readings, so no listing ever sees it; its
    CPU still arrives, in the parent's reaped-children time."""
    with subprocess.Popen(
        [sys.executable, "-c", _FORKER, str(CPU_S)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdin is not None
        assert parent.stdout is not None
        try:
            assert cgroups.owner([parent.pid]) is None, "not in a cgroup of ours: /proc is the source"
            with Sampler({"forker": lambda: [parent.pid]}, interval=60) as sampler:
                before = psutil.Process(parent.pid).cpu_times()
                parent.stdin.write("go\n")
                parent.stdin.flush()
                assert parent.stdout.readline().strip() == "reaped"
                after = psutil.Process(parent.pid).cpu_times()
        finally:
            parent.kill()
    reaped = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    assert reaped >= CPU_S * 0.8, f"the parent's reaped-children time grew by only {reaped:.2f} s"
    first, last = sampler.samples[0], sampler.samples[-1]
    assert len(sampler.samples) == 2, "two readings: before the fork and after the reap"
    assert first.processes["forker"] == last.processes["forker"] == 1, "the child was never listed"
    counted = last.cpu_seconds["forker"] - first.cpu_seconds["forker"]
    assert counted >= CPU_S * 0.8, f"the sampler counted {counted:.2f} s of a {CPU_S} s child"
    assert last.cpu_sources == {"forker": "proc"}


def _old_tree_sampler(root: int, stop: threading.Event, interval: float, out: list[float]) -> None:
    """The accounting this replaced, kept here as the reference it is measured against: the tree
    listed once an interval, each process's own user+system time, the last reading of any that
    vanished kept."""
    seen: dict[int, float] = {}
    retired = 0.0
    known: dict[int, psutil.Process] = {}
    while True:
        procs: dict[int, psutil.Process] = {}
        with_children = psutil.Process(root)
        for proc in [with_children, *with_children.children(recursive=True)]:
            procs[proc.pid] = known.get(proc.pid, proc)
        for pid, proc in procs.items():
            try:
                times = proc.cpu_times()
                seen[pid] = times.user + times.system
            except psutil.Error:
                continue
        for pid in set(known) - set(procs):
            retired += seen.pop(pid, 0.0)
        known = procs
        out.append(retired + sum(seen.values()))
        if stop.wait(interval):
            break


def _short_connections(url: str, seconds: float) -> int:
    """A connection per query, as a per-request strategy opens them: each backend lives milliseconds."""
    made = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT count(*) FROM tasks")
        made += 1
    return made


@needs_cgroups
@pytest.mark.slow
def test_postgres_cgroup_counts_the_short_lived_backends_tree_sampling_missed(database: Database) -> None:
    if database.server_pid is None:
        pytest.skip("DATABASE_URL: PostgreSQL was not started by the harness")
    group = cgroups.owner([database.server_pid])
    assert group is not None, "the embedded postmaster runs in a cgroup of its own"
    assert set(group.processes()) >= {p.pid for p in psutil.Process(database.server_pid).children()}
    postmaster = psutil.Process(database.server_pid)

    def proc_total() -> float:
        tree = [postmaster, *postmaster.children(recursive=True)]
        total = 0.0
        for proc in tree:
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system + t.children_user + t.children_system
        return total

    stop, old = threading.Event(), list[float]()
    reference = threading.Thread(target=_old_tree_sampler, args=(database.server_pid, stop, 1.0, old))
    with Sampler({POSTGRES: lambda: tree_pids(database.server_pid)}) as sampler:
        proc_before = proc_total()
        reference.start()
        made = _short_connections(database.url, 3.0)
        stop.set()
        reference.join()
        proc_after = proc_total()
    first, last = sampler.samples[0], sampler.samples[-1]
    exact = last.cpu_seconds[POSTGRES] - first.cpu_seconds[POSTGRES]
    sampled = old[-1] - old[0]
    by_proc = proc_after - proc_before
    print(f"{made} connections: cgroup {exact:.3f} s, /proc with reaped children {by_proc:.3f} s, "
          f"tree listed once a second {sampled:.3f} s")  # fmt: skip
    assert last.cpu_sources[POSTGRES] == "cgroup"
    assert made >= 20
    assert exact > 0
    assert exact >= sampled, "the cgroup misses nothing the tree listing saw"
    # Each backend lived for milliseconds: the listing saw almost none of them, the cgroup all.
    assert exact > 2 * sampled + 0.05, f"cgroup {exact:.3f} s against the listing's {sampled:.3f} s"
    assert 0.5 * exact <= by_proc <= 1.5 * exact, "the /proc fallback's arithmetic agrees with the cgroup"


@needs_cgroups
def test_a_group_leaves_no_cgroup_behind_even_with_its_processes_still_running() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        group = cgroups.account("leaver", sleeper.pid)
        assert group is not None
        assert group.processes() == [sleeper.pid]
        assert group.path in cgroups.leftovers()
        group.close()
        assert not group.path.exists()
        assert group.path not in cgroups.leftovers()
        assert cgroups.owner([sleeper.pid]) is None
        assert sleeper.poll() is None, "closing a group never kills what is inside"
        mine = Path(f"/proc/{sleeper.pid}/cgroup").read_text()
        assert "fastapi-load" not in mine, "moved back to the harness's own cgroup"
    finally:
        sleeper.kill()
        sleeper.wait()


@needs_cgroups
def test_a_killed_harness_s_cgroups_are_swept_by_the_next() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    probe = cgroups.open_group("probe")
    assert probe is not None
    stale = probe.path.parent.parent / str(gone.pid) / "side-1"
    probe.close()
    try:
        stale.mkdir(parents=True)
        fresh = cgroups.open_group("fresh")
        assert fresh is not None
        fresh.close()
        assert not stale.parent.exists(), "a dead harness's run directory is removed"
    finally:
        for leftover in (stale, stale.parent):
            if leftover.exists():
                leftover.rmdir()


@pytest.mark.slow
def test_a_harness_interrupted_mid_run_leaves_no_cgroup(tmp_path: Path) -> None:
    """Ctrl-C while the service and PostgreSQL sit in their cgroups: both are removed on the way out."""
    if not cgroups.usable():
        pytest.skip("no cgroups to leave behind")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "fastapi-uvicorn", "--scenario", "ping", "--rounds", "30",
         "--window", "1", "--window-warmup", "0", "--repeat", "0", "--no-calibration", "--quiet",
         "--run-id", "cut", "--results-dir", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    probe = cgroups.open_group("probe")
    assert probe is not None
    theirs = probe.path.parent.parent / str(proc.pid)
    probe.close()
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "cut" / "rounds.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        groups = sorted(p.name for p in theirs.iterdir()) if theirs.exists() else []
        assert any(name.startswith("postgres-") for name in groups), groups
        assert any(name.startswith("fastapi-uvicorn.default-") for name in groups), groups
        proc.send_signal(2)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert not theirs.exists(), f"left behind: {theirs}"
