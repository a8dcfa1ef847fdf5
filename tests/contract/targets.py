"""Which (service, database variant) pairs the contract suite judges: every manifest's own list."""

from bench.manifest import services


def contract_targets() -> list[tuple[str, str]]:
    return [(m.name, variant) for m in services() for variant in m.database_variants]
