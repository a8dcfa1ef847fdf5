"""A load generator found on this machine: where it is and the version it reports (recorded)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    name: str
    path: str
    version: str

    @property
    def generator(self) -> str:
        return f"{self.name} {self.version}"
