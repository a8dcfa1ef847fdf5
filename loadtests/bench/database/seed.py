"""Seeding the tasks table so list and paginate scenarios have pages to read."""

import psycopg

DEFAULT_TASKS = 1000


def seed_tasks(url: str, count: int = DEFAULT_TASKS) -> int:
    """Top the table up to `count` rows (never deletes); returns the row count after."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM tasks").fetchone()
        existing = int(row[0]) if row else 0
        if existing < count:
            conn.execute(
                "INSERT INTO tasks (title, description) "
                "SELECT 'seeded task ' || g, 'row ' || g || ' of the benchmark seed' "
                "FROM generate_series(%s::bigint, %s::bigint) AS g",
                (existing + 1, count),
            )
        return max(existing, count)


def reset_tasks(url: str, count: int = DEFAULT_TASKS) -> int:
    """Every case starts from the same table: emptied, ids restarted, seeded again."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE tasks RESTART IDENTITY")
    return seed_tasks(url, count)
