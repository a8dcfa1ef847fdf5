"""Splitting the machine's CPUs between the server side and the load generator."""

import os
from dataclasses import dataclass

from bench.common.errors import BenchError


@dataclass(frozen=True)
class CpuPlan:
    """server: the service and PostgreSQL; generator: Locust. None means unpinned."""

    server: frozenset[int] | None
    generator: frozenset[int] | None
    mode: str

    def as_record(self) -> dict[str, object]:
        def fmt(cpus: frozenset[int] | None) -> list[int] | None:
            return sorted(cpus) if cpus is not None else None

        return {"mode": self.mode, "server": fmt(self.server), "generator": fmt(self.generator)}

    @property
    def generator_cores(self) -> int:
        return len(self.generator) if self.generator else (os.cpu_count() or 1)


def available_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def _parse_list(text: str) -> frozenset[int]:
    cpus: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            cpus.update(range(int(low), int(high) + 1))
        elif part:
            cpus.add(int(part))
    return frozenset(cpus)


def plan(spec: str = "auto") -> CpuPlan:
    """`auto` splits in half (server gets the first half), `none` pins nothing,
    `SERVER/GENERATOR` takes explicit lists such as `0/1` or `0-1/2-3`."""
    cpus = available_cpus()
    if spec == "none":
        return CpuPlan(None, None, "none")
    if spec == "auto":
        if len(cpus) < 2:
            return CpuPlan(None, None, "none (one CPU)")
        half = len(cpus) // 2
        return CpuPlan(frozenset(cpus[:half]), frozenset(cpus[half:]), "auto")
    try:
        server_text, generator_text = spec.split("/")
        server, generator = _parse_list(server_text), _parse_list(generator_text)
    except ValueError:
        raise BenchError(f"--cpus {spec!r}: use auto, none, or SERVER/GENERATOR like 0/1") from None
    unknown = (server | generator) - set(cpus)
    if unknown or not server or not generator:
        raise BenchError(f"--cpus {spec!r}: CPUs must be non-empty and among {cpus}")
    if server & generator:
        raise BenchError(f"--cpus {spec!r}: server and generator CPU sets overlap")
    return CpuPlan(server, generator, "explicit")
