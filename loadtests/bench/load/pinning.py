"""Pinning already-running processes (PostgreSQL and its backends) to a CPU set."""

import contextlib

import psutil


def pin_tree(pid: int, cpus: frozenset[int] | None) -> None:
    """New backends fork from the postmaster and inherit its affinity; existing ones are set too."""
    if not cpus:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                proc.cpu_affinity(sorted(cpus))


def tree_pids(pid: int | None) -> list[int]:
    return [pid] if pid is not None else []
