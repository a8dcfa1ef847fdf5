"""TEMPORARY stand-in until the charts branch lands (not to be committed)."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    stack: str
    value: float
    low: float | None
    high: float | None
    note: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    bars: Sequence[Bar]


@dataclass(frozen=True)
class Point:
    offered_rps: float
    achieved_rps: float
    p99_ms: float
    limited: bool


@dataclass(frozen=True)
class Curve:
    label: str
    stack: str
    points: Sequence[Point]


@dataclass(frozen=True)
class Step:
    label: str
    value: float
    low: float | None
    high: float | None


def capacity_chart(title: str, panels: Sequence[Panel]) -> str:
    return "<svg></svg>"


def latency_chart(title: str, panels: Sequence[tuple[str, Sequence[Curve]]]) -> str:
    return "<svg></svg>"


def ladder_chart(title: str, panels: Sequence[tuple[str, Sequence[Step]]]) -> str:
    return "<svg></svg>"
