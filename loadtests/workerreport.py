"""Loaded beside the locustfile in distributed runs: the master's per-worker requests and CPU.

Locust's master only keeps the aggregate. Counting the stats each worker reports, from the
same moment the master resets its own (spawning complete, with --reset-stats), gives
per-worker totals that add up exactly to the aggregate, and each worker's reported CPU
shows whether any one of them, not just the sum, was the limit.
"""

import json
import os
from functools import partial
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _options(parser: Any) -> None:
    parser.add_argument("--worker-report-file", default="", help="where the master writes per-worker totals")


class _Ledger:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.workers: dict[str, dict[str, Any]] = {}

    def on_report(self, client_id: str, data: dict[str, Any]) -> None:
        entry = self.workers.setdefault(
            client_id, {"requests": 0, "failures": 0, "cpu_percent_peak": 0.0, "cpu_warning": False}
        )
        total = data.get("stats_total", {})
        entry["requests"] += int(total.get("num_requests", 0))
        entry["failures"] += int(total.get("num_failures", 0))
        runner = self.environment.runner
        node = runner.clients.get(client_id) if isinstance(runner, MasterRunner) else None
        if node is not None:
            entry["cpu_percent_peak"] = max(entry["cpu_percent_peak"], float(node.cpu_usage))
            entry["cpu_warning"] = entry["cpu_warning"] or bool(node.cpu_warning_emitted)

    def on_reset(self, **_: Any) -> None:
        # Only counts reset: the CPU peaks of the ramp still tell whether a worker struggled.
        for entry in self.workers.values():
            entry["requests"] = entry["failures"] = 0

    def write(self, path: str, **_: Any) -> None:
        document = {
            "workers": [{"id": worker_id, "host": worker_id.rsplit("_", 1)[0], **entry}
                        for worker_id, entry in sorted(self.workers.items())],
        }  # fmt: skip
        tmp = f"{path}.tmp"
        with open(tmp, "w") as handle:
            json.dump(document, handle, indent=2)
        os.replace(tmp, path)


@events.init.add_listener  # type: ignore[untyped-decorator]
def _init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    path = getattr(options, "worker_report_file", "") if options else ""
    if not path or not isinstance(environment.runner, MasterRunner):
        return
    ledger = _Ledger(environment)
    # Locust leaves add_listener unannotated.
    environment.events.worker_report.add_listener(ledger.on_report)  # type: ignore[no-untyped-call]
    environment.events.spawning_complete.add_listener(ledger.on_reset)  # type: ignore[no-untyped-call]
    environment.events.quitting.add_listener(partial(ledger.write, path))  # type: ignore[no-untyped-call]
