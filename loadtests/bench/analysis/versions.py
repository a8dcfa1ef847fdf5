"""Where and with what a run measured, as a person reads it: the versions every claim depends on."""

from bench.common.schema import RunFacts

# The packages a FastAPI claim depends on, as their projects spell them.
PYTHON_PACKAGES = (
    ("FastAPI", "fastapi"), ("Starlette", "starlette"), ("pydantic", "pydantic"), ("uvicorn", "uvicorn"),
    ("granian", "granian"), ("gunicorn", "gunicorn"), ("asyncpg", "asyncpg"), ("psycopg", "psycopg"),
    ("SQLAlchemy", "sqlalchemy"),
)  # fmt: skip
GO_MODULES = (("gin", "github.com/gin-gonic/gin"), ("pgx", "github.com/jackc/pgx/v5"))


def versions(facts: RunFacts) -> str:
    """`Python 3.11.2, FastAPI 0.128.0, ...; Go 1.26.0, gin v1.12.0, pgx v5.12.0; PostgreSQL 15.8;
    wrk 4.1.0, vegeta v12.13.0`, or what of it the run recorded."""
    env = facts.environment
    if env is None:
        return "versions not recorded by this run"
    python = [f"Python {env.python}"] if env.python else []
    python += [f"{name} {env.packages[key]}" for name, key in PYTHON_PACKAGES if env.packages.get(key)]
    go_words = (env.go or "").split()
    go = [f"Go {go_words[2].removeprefix('go')}"] if len(go_words) > 2 else []
    go += [f"{name} {env.go_modules[key]}" for name, key in GO_MODULES if key in env.go_modules]
    database = [f"PostgreSQL {facts.database_version}"] if facts.database_version else []
    tools = [f"{name} {version}" for name, version in sorted(facts.tools.items())]
    return "; ".join(", ".join(group) for group in (python, go, database, tools) if group)


def machine(facts: RunFacts) -> str:
    """`AMD EPYC 7B13, 2 cores, Linux 6.1; server and PostgreSQL on CPU 0, load generator on CPU 1`."""
    env = facts.environment
    where = f"{env.cpu_model}, {env.cpu_count} cores, kernel {env.kernel}" if env else "machine not recorded"
    cpus = facts.cpu_sets
    if cpus.server and cpus.generator:
        pinned = (f"server and PostgreSQL on CPU {', '.join(map(str, cpus.server))}, load generator on "
                  f"CPU {', '.join(map(str, cpus.generator))}")  # fmt: skip
    else:
        pinned = "nothing pinned"
    return f"{where}; {pinned}"
