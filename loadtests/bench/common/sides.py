"""A run's side: a service's variant plus the run settings that side alone changes, parsed once.

A side is written SERVICE:VARIANT@SETTING=VALUE..., such as fastapi-gunicorn:default@workers=2 or
fastapi-uvicorn:pool@pool-max=5. The CLI (and every experiment) turns that text into a `Side` once;
everything after carries the typed value. The part after the colon names the side within its service:
its result directory (<run>/<service>/<name>/), and with the service its label in every table.
Settings live in the name, so two sides that differ only in workers are two sides of one run and take
their turns in the same rounds.
"""

from dataclasses import dataclass
from typing import Any

from bench.common.errors import BenchError

DEFAULT_VARIANT = "default"
SEPARATOR = "@"
# The spelling in a side name (the CLI flag's) -> the run setting it overrides, in name order.
SETTINGS = {"workers": "workers", "pool-max": "pool_max"}
_ALIASES = {"pool_max": "pool-max"}


@dataclass(frozen=True, order=True)
class Side:
    service: str
    variant: str = DEFAULT_VARIANT
    workers: int | None = None
    pool_max: int | None = None

    @property
    def settings(self) -> dict[str, int]:
        """The settings this side sets, keyed as the run request names them (recorded in results)."""
        values = {"workers": self.workers, "pool_max": self.pool_max}
        return {key: value for key, value in values.items() if value is not None}

    @property
    def name(self) -> str:
        """The side within its service: the variant with its own settings (default@workers=2)."""
        shown = {"workers": self.workers, "pool-max": self.pool_max}
        return self.variant + "".join(
            f"{SEPARATOR}{key}={value}" for key, value in shown.items() if value is not None
        )

    @property
    def label(self) -> str:
        """SERVICE:NAME, as results, tables and run.json write it."""
        return f"{self.service}:{self.name}"

    def with_service(self, service: str) -> "Side":
        return Side(service, self.variant, self.workers, self.pool_max)


def parse_name(service: str, text: str) -> Side:
    """VARIANT[@SETTING=VALUE]...: the part of a side after SERVICE:."""
    variant, *assignments = text.split(SEPARATOR)
    values: dict[str, int] = {}
    for assignment in assignments:
        key, equals, raw = assignment.partition("=")
        key = _ALIASES.get(key, key)
        if not equals or key not in SETTINGS:
            raise BenchError(
                f"{text!r}: a side's setting is @SETTING=N with SETTING one of {', '.join(SETTINGS)}, "
                "such as default@workers=2"
            )
        if SETTINGS[key] in values:
            raise BenchError(f"{text!r}: {key} is set twice")
        if not raw.isdigit() or int(raw) < 1:
            raise BenchError(f"{text!r}: {key} must be a positive whole number, not {raw!r}")
        values[SETTINGS[key]] = int(raw)
    return Side(service, variant or DEFAULT_VARIANT, **values)


def parse_side(text: str) -> Side:
    """SERVICE:VARIANT[@SETTING=VALUE]... (the service as given: an alias is resolved by the caller)."""
    head, at, settings = text.partition(SEPARATOR)
    service, colon, variant = head.partition(":")
    if not service or (colon and not variant):
        raise BenchError(
            f"{text!r}: a side is SERVICE:VARIANT, such as go-gin:default "
            "(with its own settings: fastapi-gunicorn:default@workers=2)"
        )
    return parse_name(service, (variant or DEFAULT_VARIANT) + at + settings)


def side_name(document: dict[str, Any]) -> str:
    """The name a result's side goes by within its service; results without settings use the variant."""
    side = document.get("side")
    if isinstance(side, str) and ":" in side:
        return side.partition(":")[2]
    return str(document.get("variant", "?"))
