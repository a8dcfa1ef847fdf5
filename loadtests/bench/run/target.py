"""What a measurement loads: a running side (started by the harness, or a URL running elsewhere)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common.sides import Side
from bench.database.server import Database
from bench.load.sampling import LOCUST, POSTGRES, SERVICE

__all__ = ["LOCUST", "POSTGRES", "SERVICE", "Target"]


@dataclass(frozen=True)
class Target:
    side: Side
    url: str
    pids: Callable[[], list[int]]
    info: dict[str, Any]
    database: Database | None

    @property
    def service(self) -> str:
        return self.side.service
