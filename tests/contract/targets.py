"""Which (service, variant) pairs the contract suite judges: every manifest's database variants,
plus the tuned and bare variants where a manifest has them (they run other code paths: asyncpg
without its reset, telemetry off, taskapi.bare)."""

from bench.services.manifest import services

# Variants that change the code a request runs, not only where its connection comes from.
CODE_VARIANTS = ("tuned", "bare")


def database_targets() -> list[tuple[str, str]]:
    return [(m.name, variant) for m in services() for variant in m.database_variants]


def contract_targets() -> list[tuple[str, str]]:
    extra = [(m.name, variant) for m in services() for variant in CODE_VARIANTS if variant in m.variants]
    return [*database_targets(), *extra]
