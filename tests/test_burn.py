"""The calibration control: burn-10 adds its loop to every request and nothing to any other variant."""

import statistics
import time

import httpx
import pytest

from bench.services import manifest as manifests
from taskapi.app import create_app
from taskapi.burn import BurnMiddleware, burn
from taskapi.settings import Settings
from tests.conftest import ServiceLauncher

URL = "postgresql://app:secret@127.0.0.1:9/tasks"  # never reached: the app connects in its lifespan
REQUESTS = 1500
BATCHES = 6


def _burn_iterations() -> int:
    variant = manifests.find("fastapi-uvicorn").variants["burn-10"]
    return int(variant.env["APP_BURN_ITERATIONS"])


def test_only_the_control_installs_the_burn() -> None:
    def burns(**settings: object) -> bool:
        app = create_app(Settings(database_url=URL, **settings))  # type: ignore[arg-type]
        installed: list[object] = [m.cls for m in app.user_middleware]
        return BurnMiddleware in installed

    assert not burns()
    assert burns(app_burn_iterations=_burn_iterations())
    assert burn(10) == burn(10) != burn(11), "the loop's work depends on its count, so it is done"


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0]) / 1e9  # nanoseconds on the CPU, all threads


def _loop_s(iterations: int) -> float:
    """The loop alone, in this process: the median of a few timings (the machine's moment counts)."""
    timings = []
    for _ in range(9):
        started = time.process_time_ns()
        burn(iterations)
        timings.append(time.process_time_ns() - started)
    return statistics.median(timings) / 1e9


@pytest.mark.slow
def test_burn_10_costs_what_its_calibration_says_per_request(launch: ServiceLauncher) -> None:
    """Both sides up at once, pinged in alternating batches: the burn's extra CPU per request is its
    loop's cost, timed in this process between the batches, within what the machine's contention
    does to a loop inside a busy server (its caches shared with everything else the request runs)."""
    iterations = _burn_iterations()
    loop: list[float] = []
    with (
        launch("fastapi-uvicorn", "default") as default,
        launch("fastapi-uvicorn", "burn-10") as control,
        httpx.Client(base_url=default.url) as to_default,
        httpx.Client(base_url=control.url) as to_control,
    ):
        spent = {"default": 0.0, "burn-10": 0.0}
        for _ in range(BATCHES):
            for name, client, running in (("default", to_default, default), ("burn-10", to_control, control)):
                before = _cpu_s(running.process.pid)
                for _ in range(REQUESTS // BATCHES):
                    assert client.get("/ping/").status_code == 200
                time.sleep(0.05)  # the last answer's bookkeeping done
                spent[name] += _cpu_s(running.process.pid) - before
                loop.append(_loop_s(iterations))
    extra_us = (spent["burn-10"] - spent["default"]) / REQUESTS * 1e6
    expected_us = statistics.median(loop) * 1e6
    print(f"burn-10 adds {extra_us:.1f} µs per request; its loop alone costs {expected_us:.1f} µs")
    assert 0.5 * expected_us <= extra_us <= 3 * expected_us
