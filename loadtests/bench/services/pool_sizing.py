"""How many connections each server process may pool, so all of them fit in PostgreSQL."""

from bench.common.errors import BenchError

DEFAULT_POOL_MAX = 10
# superuser_reserved_connections (3) plus the harness's own sampling and verify sessions.
RESERVED_CONNECTIONS = 8


def pool_max_per_process(max_connections: int, processes: int, requested: int | None) -> int:
    budget = (max_connections - RESERVED_CONNECTIONS) // processes
    if budget < 1:
        raise BenchError(
            f"{processes} processes cannot each hold a connection within max_connections="
            f"{max_connections}; lower the workers or raise max_connections"
        )
    wanted = DEFAULT_POOL_MAX if requested is None else requested
    if requested is not None and requested > budget:
        raise BenchError(
            f"pool of {requested} x {processes} processes exceeds max_connections={max_connections} "
            f"(at most {budget} per process)"
        )
    return min(wanted, budget)


def shared_budget(max_connections: int, sides: int) -> int:
    """The max_connections one of `sides` services sharing a PostgreSQL may plan for."""
    if sides <= 1:
        return max_connections
    return RESERVED_CONNECTIONS + (max_connections - RESERVED_CONNECTIONS) // sides
