"""Exact CPU per process group: a cgroup v1 `cpuacct` directory per group, where the machine allows one.

A process moved into a cgroup stays there, and so does everything it forks afterwards; the kernel
charges every nanosecond any of them runs to the group's `cpuacct.usage`, whether the process lives
for a minute or a millisecond, so nothing that exits between two readings is lost (a PostgreSQL
backend per connection, a worker a server restarts). Layout, under the cgroup the harness runs in:

    <cpuacct mount>/<harness's cgroup>/fastapi-load/<harness pid>/<group name>-<n>

Every directory made is removed again: when its group is closed (its processes are gone by then;
any still there are moved back to the harness's cgroup first), at interpreter exit for any group a
caller did not close, and, for a harness that was killed outright, by the next harness, which sweeps
run directories whose pid is no longer alive.

Where no such cgroup can be made (no cgroup v1 `cpuacct` mount, not root, a read-only mount),
`open_group` returns None and the sampler falls back to /proc (bench.load.sampling).

The cgroup file system is a handful of plain files (`cgroup.procs`, `cpuacct.usage`): writing them
directly is simpler and more transparent than the unmaintained wrapper libraries on PyPI.
"""

import atexit
import contextlib
import errno
import itertools
import os
import re
import threading
import time
from pathlib import Path
from typing import Literal

import psutil

CpuSource = Literal["cgroup", "proc"]
BASE = "fastapi-load"
_MOUNTS = Path("/proc/self/mounts")
_OWN_CGROUPS = Path("/proc/self/cgroup")
_EMPTY_TRIES = 20  # a process forking while we move its tree out: try again, briefly
_lock = threading.Lock()
_open: dict[Path, "CpuGroup"] = {}
_counter = itertools.count(1)
_parent: Path | None = None
_looked = False


def _cpuacct_mount() -> Path | None:
    """Where cgroup v1's cpuacct controller is mounted (alone, or as `cpu,cpuacct`)."""
    try:
        lines = _MOUNTS.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "cgroup" and "cpuacct" in fields[3].split(","):
            return Path(fields[1])
    return None


def _own_path(mount: Path) -> Path:
    """The harness's own cpuacct cgroup: the parent its groups hang under and where strays go back."""
    try:
        lines = _OWN_CGROUPS.read_text().splitlines()
    except OSError:
        return mount
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):
            # Inside a cgroup namespace the path may not exist under this mount: use the mount's root.
            candidate = mount / path.lstrip("/")
            return candidate if candidate.is_dir() else mount
    return mount


def _alive(pid: int) -> bool:
    return psutil.pid_exists(pid)


def _pids(directory: Path) -> list[int]:
    try:
        return [int(line) for line in (directory / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _move(pid: int, into: Path) -> bool:
    try:
        (into / "cgroup.procs").write_text(str(pid))
    except ProcessLookupError:
        return False  # exited meanwhile: nothing left to move
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        raise
    return True


def _remove(directory: Path, parent: Path) -> None:
    """Move what still runs in `directory` to `parent`, then remove it; never raises."""
    for _ in range(_EMPTY_TRIES):
        for pid in _pids(directory):
            with contextlib.suppress(OSError):
                _move(pid, parent)
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                return
        time.sleep(0.05)


def _remove_if_empty(directory: Path) -> None:
    """A run directory or `fastapi-load` itself, once no group (of ours or another harness's) is left
    in it; rmdir says EBUSY for a cgroup with children as for one with processes, so look first."""
    with contextlib.suppress(OSError):
        if not any(p.is_dir() for p in directory.iterdir()):
            directory.rmdir()


def _sweep(base: Path, parent: Path) -> None:
    """Run directories of harnesses that are gone (killed outright, so no cleanup of theirs ran)."""
    with contextlib.suppress(OSError):
        for run in base.iterdir():
            if not run.is_dir() or not run.name.isdigit() or _alive(int(run.name)):
                continue
            for group in run.iterdir():
                if group.is_dir():
                    _remove(group, parent)
            _remove_if_empty(run)


def _parent_cgroup() -> Path | None:
    """The harness's own cpuacct cgroup (looked up once), or None without a cgroup v1 cpuacct mount."""
    global _parent, _looked
    if not _looked:
        mount = _cpuacct_mount()
        _parent = _own_path(mount) if mount is not None else None
        _looked = True
    return _parent


def _make(name: str) -> tuple[Path, Path] | None:
    """A fresh group directory in this harness's run directory (swept of dead harnesses' first), and
    the cgroup it hangs under; None where none can be made (not root, read-only: /proc it is)."""
    parent = _parent_cgroup()
    if parent is None:
        return None
    base = parent / BASE
    path = base / str(os.getpid()) / f"{_safe(name)}-{next(_counter)}"
    for _ in range(3):  # another harness may remove an empty `base` just as we make ours inside it
        try:
            base.mkdir(exist_ok=True)
            _sweep(base, parent)
            path.parent.mkdir(exist_ok=True)
            path.mkdir()
        except FileNotFoundError:
            continue
        except OSError:
            return None
        if (path / "cpuacct.usage").exists():
            return path, parent
        _remove(path, parent)
        return None
    return None


class CpuGroup:
    """One group's cgroup: the processes adopted into it, everything they fork, their exact CPU."""

    source: CpuSource = "cgroup"

    def __init__(self, name: str, path: Path, parent: Path) -> None:
        self.name = name
        self.path = path
        self._parent = parent
        self.roots: set[int] = set()
        self._last_ns = 0

    def adopt(self, pid: int) -> None:
        """Move `pid` and every descendant it already has into the group. Its children forked from
        now on are born inside; those forked before are found by listing until none is new."""
        self.roots.add(pid)
        moved: set[int] = set()
        for _ in range(_EMPTY_TRIES):
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            new = [proc.pid for proc in tree if proc.pid not in moved]
            if not new:
                return
            for child in new:
                _move(child, self.path)
                moved.add(child)

    def usage_seconds(self) -> float:
        """CPU seconds every process of the group has run since the group was made, exited ones included."""
        with contextlib.suppress(OSError, ValueError):  # closed meanwhile: its last reading stands
            self._last_ns = int((self.path / "cpuacct.usage").read_text())
        return self._last_ns / 1e9

    def processes(self) -> list[int]:
        return _pids(self.path)

    def close(self) -> None:
        """Remove the group's directory (anything still inside goes back to the harness's cgroup),
        and with this harness's last group its run directory, and `fastapi-load` once it is empty."""
        with _lock:
            _open.pop(self.path, None)
            self.usage_seconds()
            _remove(self.path, self._parent)
            if not _open:
                _remove_if_empty(self.path.parent)
                _remove_if_empty(self.path.parent.parent)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "+", name) or "group"


def open_group(name: str) -> CpuGroup | None:
    """A fresh, empty cgroup for one group of processes, or None where cgroups cannot be used."""
    with _lock:
        made = _make(name)
        if made is None:
            return None
        group = CpuGroup(name, *made)
        _open[group.path] = group
        return group


def account(name: str, pid: int) -> CpuGroup | None:
    """`pid` and its tree in a fresh group of their own; None (the caller's CPU then comes from
    /proc) where cgroups cannot be used or the process could not be moved."""
    group = open_group(name)
    if group is None:
        return None
    try:
        group.adopt(pid)
    except OSError:
        group.close()
        return None
    return group


def usable() -> bool:
    """Whether this harness can make cgroups here (the CPU figures' source will be "cgroup")."""
    group = open_group("probe")
    if group is None:
        return False
    group.close()
    return True


def owner(pids: list[int]) -> CpuGroup | None:
    """The open group every one of these root pids was adopted into, if there is one."""
    if not pids:
        return None
    with _lock:
        groups = list(_open.values())
    for group in groups:
        if all(pid in group.roots for pid in pids):
            return group
    return None


@atexit.register
def close_all() -> None:
    """Every group still open (interpreter exit: a caller that never got to close its own)."""
    with _lock:
        groups = list(_open.values())
    for group in groups:
        group.close()


def leftovers() -> list[Path]:
    """This harness's cgroup directories that still exist (none once every group is closed)."""
    mount = _cpuacct_mount()
    if mount is None:
        return []
    run = _own_path(mount) / BASE / str(os.getpid())
    if not run.exists():
        return []
    return [run, *(p for p in run.iterdir() if p.is_dir())]
