"""Bytes per response: the body of one response of a running service, for the read scenarios.

The serialisation experiment (issue 18) reports the size of what each page size sends beside
its speed. Every implementation and variant writes the same bytes for the same rows, so on the
seeded table (bench.database.seed) the sizes are constants; tests/contract checks each one on
every implementation.
"""

import httpx

from bench.common.errors import BenchError
from bench.load.scenarios import LIST_LIMITS

# The one request each read scenario repeats, as its Locust class sends it.
_PATHS = {
    "ping": "/ping/",
    **{
        name: "/tasks/" if name == "list" else f"/tasks/?limit={limit}" for name, limit in LIST_LIMITS.items()
    },
}
# Body bytes on the seeded table: 1,000 tasks in the harness, at least 100 in the tests, so the
# first pages hold the same rows.
SEEDED_BODY_BYTES = {"ping": 15, "list-1": 176, "list": 3_416, "list-100": 13_619}


def measured_scenarios() -> list[str]:
    return list(_PATHS)


def response_bytes(base_url: str, scenario: str, *, timeout_s: float = 10.0) -> int:
    """The body size of one 200 response to the scenario's request; an error says why there is none."""
    path = _PATHS.get(scenario)
    if path is None:
        raise BenchError(
            f"scenario {scenario!r} has no single response to measure; measured: {', '.join(_PATHS)}"
        )
    try:
        response = httpx.get(f"{base_url.rstrip('/')}{path}", timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise BenchError(f"GET {path} for the response size: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise BenchError(f"GET {path} for the response size gave {response.status_code}, not 200")
    return len(response.content)
