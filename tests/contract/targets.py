"""Which (service, variant) pairs the contract suite judges: every manifest's database variants,
plus the variants that run other code where a manifest has them: tuned and bare (asyncpg without
its reset, telemetry off, taskapi.bare), the SQLAlchemy data layers, the server settings (another
worker class, several processes, more runtime threads), and the habits of issue 18 (each
serialisation writer, each middleware layout, `def` endpoints at both thread-pool sizes), and the
calibration control (burn-10: default plus CPU work on every request, which must change nothing else)."""

from bench.services.manifest import services

# Variants that change the code a request runs, not only where its connection comes from.
DATA_LAYERS = ("sqlalchemy-core", "sqlalchemy-orm", "sqlalchemy-session")
HABITS = (
    "idiomatic",
    "revalidate",
    "orjson-response",
    "orjson",
    "msgspec",
    "asgi-1",
    "asgi-3",
    "http-1",
    "http-3",
    "sync",
)
# sync-matched runs sync's code with fewer threads (tests/test_habits.py checks the limiter, the fault
# suite its restart): judging it against the contract again would only repeat sync's run.
# The positive control: what it adds must not change an answer.
CONTROLS = ("burn-10",)
CODE_VARIANTS = ("tuned", "bare", *DATA_LAYERS, *HABITS, *CONTROLS)
SERVER_VARIANTS = ("asgi-worker", "workers", "runtime-threads")


def database_targets() -> list[tuple[str, str]]:
    return [(m.name, variant) for m in services() for variant in m.database_variants]


def data_layer_targets() -> list[tuple[str, str]]:
    """The SQLAlchemy data layers: each brings its own pool, so each meets the database's failures."""
    return [(m.name, variant) for m in services() for variant in DATA_LAYERS if variant in m.variants]


def contract_targets() -> list[tuple[str, str]]:
    extra = [
        (m.name, variant)
        for m in services()
        for variant in (*CODE_VARIANTS, *SERVER_VARIANTS)
        if variant in m.variants
    ]
    return [*database_targets(), *extra]
