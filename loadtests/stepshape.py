"""A stepped Locust load shape for saturation searches: hold a user count, then add more, up to --users.

Loaded only beside the suite, `locust -f locustfile.py,stepshape.py`, so ordinary runs never see a shape.
`--users` is the ceiling and `--spawn-rate` the ramp between steps (the shape reads Locust's common
options, so Locust does not warn that they are ignored); `--run-time`, when given, is a hard upper bound.
Step k (from 0) holds `--step-start + k * --step-users` users for `--step-seconds`; the last step is the
largest such count not above `--users`, after which the shape ends the run.

For the harness:
- `--step-stop-file PATH`: once the file exists the next tick returns None, so Locust stops its users and
  writes its files as at any normal end. That is how a search ends the run early.
- `--step-log PATH`: every tick (about once a second) appends one JSON line with the exact time and
  Locust's cumulative totals: {"at", "target", "users", "requests", "failures", "response_times"}.
  `target` is the count this tick asks for (null on the last tick), `users` the count running as the tick
  is taken, `response_times` Locust's cumulative histogram ({bucketed ms: count}). Locust's own history CSV
  stamps rows in whole seconds and writes them 1-2 s apart under load, too coarse for a few seconds'
  window; these stamps are exact, and two histograms give any window's percentiles.
Totals are only exact with one Locust process: a master learns its workers' counts every few seconds.
"""

import argparse
import json
import os
import sys
import time
from typing import IO, Any

from locust import LoadTestShape, events
from locust.env import Environment

DEFAULT_START = 10
DEFAULT_STEP = 10
DEFAULT_SECONDS = 8


def _add_options(parser: Any, **_kwargs: Any) -> None:
    parser.add_argument("--step-start", type=int, default=DEFAULT_START, help="users in the first step")
    parser.add_argument("--step-users", type=int, default=DEFAULT_STEP, help="users added at each step")
    parser.add_argument(
        "--step-seconds", type=float, default=DEFAULT_SECONDS, help="how long each step lasts"
    )
    parser.add_argument(
        "--step-stop-file", default="", help="end the run at the next tick once this file exists"
    )
    parser.add_argument(
        "--step-log", default="", help="append each tick's time and totals here, as JSON lines"
    )


def _problem(options: argparse.Namespace) -> str | None:
    if options.step_start < 1 or options.step_users < 1:
        return "--step-start and --step-users must be at least 1"
    if options.step_seconds < 1:
        return "--step-seconds must be at least 1"
    if not options.num_users or options.num_users < options.step_start:
        return "--users (the ceiling) must be at least --step-start"
    return None


def _prepare(environment: Environment, **_kwargs: Any) -> None:
    options = environment.parsed_options
    if options is None:
        return
    problem = _problem(options)
    if problem is not None:
        # An exception would only be logged by Locust's event hook; exiting stops the run before any load.
        sys.exit(f"step shape: {problem}")
    # --reset-stats resets the totals at every spawning_complete, which with a shape is every step.
    # A search measures each step from one set of cumulative totals, so they must run unbroken.
    environment.reset_stats = False


# Registered by call, as the suite does: Locust leaves add_listener unannotated.
events.init_command_line_parser.add_listener(_add_options)  # type: ignore[no-untyped-call]
events.init.add_listener(_prepare)  # type: ignore[no-untyped-call]


class StepShape(LoadTestShape):
    use_common_options = True

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # unannotated in Locust
        self._log: IO[str] | None = None

    def _target(self, options: argparse.Namespace) -> int | None:
        if options.step_stop_file and os.path.exists(options.step_stop_file):
            return None
        elapsed: float = self.get_run_time()  # type: ignore[no-untyped-call]  # unannotated in Locust
        if options.run_time and elapsed >= options.run_time:
            return None
        users: int = options.step_start + int(elapsed // options.step_seconds) * options.step_users
        return users if users <= options.num_users else None

    def _record(self, path: str, target: int | None) -> None:
        assert self.runner is not None
        total = self.runner.stats.total
        if self._log is None:
            self._log = open(path, "a", encoding="utf-8")  # noqa: SIM115  # open for the whole run
        record = {
            "at": time.time(),
            "target": target,
            "users": self.runner.user_count,
            "requests": total.num_requests,
            "failures": total.num_failures,
            "response_times": total.response_times,
        }
        self._log.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._log.flush()  # the harness reads the log while the run goes on
        if target is None:
            self._log.close()
            self._log = None

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None, "Locust sets the runner before the first tick"
        options = self.runner.environment.parsed_options
        assert options is not None
        target = self._target(options)
        if options.step_log:
            self._record(options.step_log, target)
        return (target, float(options.spawn_rate)) if target is not None else None
