"""The calibration control (APP_BURN_ITERATIONS): a fixed amount of pure-Python CPU work on every
HTTP request, so a run can be shown a difference of known size beside the real ones.

`burn-10` in services/fastapi-uvicorn/service.toml sets the iterations to about a tenth of what
`default` spends on a `GET /tasks/` here (docs/per-request-costs.md says how it was calibrated).
The work is a counted loop, not a sleep or a timer: the same bytecode the same number of times on
every request, so its cost scales with the machine as the request's own does, and it holds the
event loop like any CPU-bound code in an endpoint would.

`python -m taskapi.burn` prints what one iteration costs on this machine, to calibrate elsewhere.
"""

import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


def burn(iterations: int) -> int:
    """`iterations` rounds of integer arithmetic; the result is returned so no round is skipped."""
    acc = 0
    for i in range(iterations):
        acc ^= i * 7
    return acc


class BurnMiddleware:
    """Pure ASGI (no task group, no stream per request): the burn is the only thing it adds."""

    def __init__(self, app: ASGIApp, iterations: int) -> None:
        self.app = app
        self.iterations = iterations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            burn(self.iterations)
        await self.app(scope, receive, send)


def install_burn(app: FastAPI, iterations: int) -> None:
    """The burn on every HTTP request, or nothing at all when `iterations` is 0 (every variant but
    the calibration control)."""
    if iterations:
        app.add_middleware(BurnMiddleware, iterations=iterations)


def iteration_ns(iterations: int = 1_000_000, repeat: int = 7) -> float:
    """CPU nanoseconds per iteration: the fastest of `repeat` timed runs (the others met a busier
    machine), in process time so other processes' work is not counted."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time_ns()
        burn(iterations)
        best = min(best, time.process_time_ns() - started)
    return best / iterations


if __name__ == "__main__":
    print(f"{iteration_ns():.2f} ns of CPU per iteration")
