"""The fastapi-load command line: one function per subcommand, a dispatch table, one error line."""

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.analysis.compare import compare_paths
from bench.analysis.console import console_summary, describe_curves
from bench.analysis.markdown import render_markdown
from bench.analysis.report import write_report
from bench.common import lifetime
from bench.common.durations import FORMS, duration_argument
from bench.common.errors import BenchError
from bench.common.paths import LOCUSTFILE, REPO_ROOT, RESULTS_DIR
from bench.common.results import COMPLETE
from bench.common.sides import SEPARATOR, Side, parse_side
from bench.database.migrate import migrate_down, migrate_up
from bench.database.seed import DEFAULT_TASKS
from bench.database.server import STOCK_MAX_CONNECTIONS, open_database
from bench.experiments import EXPERIMENTS, Profile, run_experiment
from bench.experiments import summary as experiment_summary
from bench.faults.suite import FAULTS, render_table, run_faults
from bench.load.scenarios import SCENARIOS
from bench.readme import regenerate
from bench.run.runner import RunRequest, run
from bench.run.summary import summary_table
from bench.services import manifest as manifests
from bench.services.stack import RunningService, StackOptions, prepared_database, start_service
from bench.services.verify import verify


def cmd_list(args: argparse.Namespace) -> int:
    for m in manifests.services():
        aliases = f" (also: {', '.join(m.aliases)})" if m.aliases else ""
        print(f"{m.name}{aliases}\n  {m.description}\n  variants: {', '.join(m.variant_names)}")
    return 0


SERVE_LOGS = REPO_ROOT / ".run" / "logs"


@contextlib.contextmanager
def _service_stack(args: argparse.Namespace, logs: Path, port: int | None = None) -> Iterator[RunningService]:
    """Database and one service from the shared service options (serve, verify, ui)."""
    options = StackOptions(
        service=args.service,
        variant=args.variant,
        port=port,
        workers=args.workers,
        pool_max=args.pool_max,
        max_connections=args.max_connections,
        seed=args.seed,
    )
    manifests.launch(manifests.find(args.service), args.variant, "127.0.0.1", 0)  # validate early
    with (
        prepared_database(options.max_connections, options.seed) as database,
        start_service(options, database, logs) as running,
    ):
        yield running


def cmd_serve(args: argparse.Namespace) -> int:
    with _service_stack(args, SERVE_LOGS, args.port) as running:
        where = "embedded PostgreSQL" if running.database.embedded else "DATABASE_URL"
        print(
            f"{running.manifest.name} [{running.launch.variant}] on {running.url} "
            f"({where}, {args.seed} tasks, started in {running.process.startup_seconds:.2f}s); "
            f"Ctrl-C to stop; server output in {running.process.log_path}",
            flush=True,
        )
        while running.process.process is not None and running.process.process.poll() is None:
            time.sleep(0.2)
    raise BenchError(f"{args.service} exited on its own; see {SERVE_LOGS}")


def cmd_verify(args: argparse.Namespace) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="fastapi-load-verify-") as logs,
        _service_stack(args, Path(logs)) as running,
    ):
        verify(running.url, running.manifest.name)
        print(f"{running.manifest.name} [{running.launch.variant}]: contract checks passed")
    return 0


def _split(values: list[str]) -> list[str]:
    return [part for value in values for part in value.replace(",", " ").split() if part]


def _fractions(text: str | None) -> tuple[float, ...]:
    """`25,50,75%`, `25,50,75` or `0.25,0.5`: fractions of capacity (a number above 2 is a percentage)."""
    values = []
    for part in _split([text or ""]):
        try:
            value = float(part.removesuffix("%"))
        except ValueError:
            raise BenchError(f"{part!r}: a rate is a fraction of capacity, such as 0.5 or 50%") from None
        values.append(value / 100 if part.endswith("%") or value > 2 else value)
    return tuple(values)


def _sides(names: list[str], variants: list[str]) -> tuple[Side, ...]:
    """SERVICE:VARIANT names one side, SERVICE:VARIANT@workers=N@pool-max=N one with its own settings;
    a SERVICE without a variant takes every --variant (with the settings given after it). Parsed here,
    once: the run carries typed sides from here on."""
    sides: list[Side] = []
    for name in names:
        head, at, settings = name.partition(SEPARATOR)
        service, colon, variant = head.partition(":")
        chosen = [variant] if colon else variants
        sides += [parse_side(f"{service}:{v}{at}{settings}") for v in chosen]
    return tuple(sides)


def _measuring(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings `run` and `saturate` share, from the options both parsers add."""
    return {
        "rounds": args.rounds, "window_s": args.window, "window_warmup_s": args.window_warmup,
        "looks": args.looks, "blocks": args.blocks, "views": ((getattr(args, "baseline", None), ()),),
        "connections": args.connections, "sides_up": args.sides_up, "open_loop_s": args.open_loop_seconds,
        "open_loop_repeats": args.open_loop_repeats,
        "workers": args.workers, "pool_max": args.pool_max, "max_connections": args.max_connections,
        "seed": args.seed, "cpus": args.cpus, "run_id": args.run_id,
        "results_dir": Path(args.results_dir), "progress": not args.quiet,
    }  # fmt: skip


def cmd_run(args: argparse.Namespace) -> int:
    services = _split(args.service)
    if services == ["all"]:
        services = [m.name for m in manifests.services()]
    variants = _split(args.variant or [manifests.DEFAULT_VARIANT])
    scenarios = _split(args.scenario or ["ping"])
    request = RunRequest(
        services=[name.partition(SEPARATOR)[0].partition(":")[0] for name in services],
        scenarios=scenarios,
        variants=variants,
        sides=() if args.target else _sides(services, variants),
        open_loop=_fractions(args.open_loop),
        curve=_fractions(args.curve),
        curve_scenarios=tuple(_split([args.curve_scenario])) if args.curve_scenario else (),
        calibrate=not args.no_calibration,
        calibration_s=args.calibration_seconds,
        order_seed=args.shuffle_seed,
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        warmup_s=args.warmup,
        repeat=args.repeat,
        locust_processes=args.locust_workers,
        external_workers=args.master,
        master_bind=args.master_bind,
        target=args.target,
        allow_remote=args.allow_remote,
        **_measuring(args),
    )
    outcome = run(request)
    if args.compare and (outcome.rounds is not None or any(c.document for c in outcome.cases)):
        comparison = compare_paths([outcome.run_dir], args.baseline)
        _, page = write_report(outcome.run_dir, args.baseline)
        print(console_summary(comparison, outcome.run_dir, page))
    else:
        print(summary_table(outcome))
        print(f"results: {outcome.run_dir}")
    return 0 if outcome.status == COMPLETE else 1


def cmd_compare(args: argparse.Namespace) -> int:
    print(render_markdown(compare_paths([Path(p) for p in args.paths], args.baseline)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    markdown, page = write_report(Path(args.run_dir), args.baseline)
    print(f"wrote {markdown} and {page}")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    profile = Profile(
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        warmup_s=args.warmup,
        repeat=args.repeat,
        cpus=args.cpus,
        rounds=args.rounds,
        window_s=args.window,
        looks=args.looks,
        blocks=args.blocks,
    )
    outcome = run_experiment(args.name, profile, Path(args.results_dir))
    print(experiment_summary(outcome))
    failed = [r for r in outcome.runs if r.status != COMPLETE]
    return 1 if failed else 0


def cmd_readme(args: argparse.Namespace) -> int:
    done = regenerate(results_dir=Path(args.results_dir))
    print(f"README regenerated from: {', '.join(done.measured) or 'no experiment results yet'}")
    if done.missing:
        print(f"not measured yet (no run in {args.results_dir} or docs/evidence): {', '.join(done.missing)}")
    return 0


def cmd_check_claims(args: argparse.Namespace) -> int:
    from bench.check_claims import CheckRequest, check_claims, render

    request = CheckRequest(tuple(_split(args.experiment or [])), args.rounds)
    checked = check_claims(request)
    print(render(checked))
    return 1 if any(c.outcome == "contradicted" for c in checked) else 0


def cmd_ui(args: argparse.Namespace) -> int:
    with _service_stack(args, SERVE_LOGS) as running:
        print(f"{running.manifest.name} on {running.url}; Locust UI on http://127.0.0.1:{args.web_port}")
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", running.url,
             "--web-host", "127.0.0.1", "--web-port", str(args.web_port)],
            cwd=REPO_ROOT, check=False,
        )  # fmt: skip
    return 0


def cmd_saturate(args: argparse.Namespace) -> int:
    """One side's own open-loop curve: capacity from rounds, then p99 at fractions of it, to the knee."""
    side = parse_side(f"{args.service}:{args.variant}")
    request = RunRequest(
        sides=(side,),
        scenarios=[args.scenario],
        repeat=0,
        curve=_fractions(args.curve),
        curve_scenarios=(args.scenario,),
        **_measuring(args),
    )
    outcome = run(request)
    for line in describe_curves(outcome.run_dir):
        print(line)
    print(f"results: {outcome.run_dir}")
    return 0 if outcome.status == COMPLETE else 1


def cmd_robustness(args: argparse.Namespace) -> int:
    results = run_faults(args.fault, args.stack)
    print(render_table(results))
    return 0 if all(r.passed for r in results) else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    with open_database(args.max_connections) as database:
        if args.direction == "up":
            print(f"applied: {migrate_up(database.url) or 'nothing (up to date)'}")
        else:
            print(f"rolled back: {migrate_down(database.url, args.steps) or 'nothing'}")
    return 0


def _add_service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", help="service name or alias (see `list`)")
    parser.add_argument(
        "--variant",
        default=manifests.DEFAULT_VARIANT,
        help="variant name(s) joined by +, e.g. per-request+access-log",
    )
    parser.add_argument("--workers", type=int, default=None, help="server processes")
    parser.add_argument("--pool-max", type=int, default=None, help="pool size per process")
    parser.add_argument(
        "--max-connections",
        type=int,
        default=STOCK_MAX_CONNECTIONS,
        help="embedded PostgreSQL's max_connections",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_TASKS, help="tasks to seed")


def _add_rounds_options(parser: argparse.ArgumentParser, default: bool = True) -> None:
    """Capacity rounds; an experiment's own settings stand unless a flag is given (default None)."""
    parser.add_argument(
        "--rounds",
        type=int,
        default=6 if default else None,
        help="capacity rounds (the most, with --looks): every side once per round in a shuffled "
        "order (wrk); 0 skips them",
    )
    parser.add_argument(
        "--looks",
        type=int,
        default=1 if default else None,
        help="adaptive rounds: look at the verdicts this many times, evenly spaced, and stop once every "
        "one is decided (each look takes a share of the 5%% error budget)",
    )
    parser.add_argument(
        "--blocks",
        type=int,
        default=1 if default else None,
        help="start every side afresh for each of this many blocks of rounds (process-start variance)",
    )
    parser.add_argument(
        "--window", type=duration_argument, default=2 if default else None, help="measured seconds per window"
    )
    if default:
        parser.add_argument(
            "--window-warmup", type=duration_argument, default=1, help="unmeasured wrk seconds before each"
        )
        parser.add_argument(
            "--connections", type=int, default=None, help="wrk connections (default: --users)"
        )
        parser.add_argument(
            "--sides-up",
            choices=["together", "alone"],
            default="together",
            help="together: every side up for the whole run; alone: each window starts its side",
        )
        parser.add_argument(
            "--open-loop-seconds", type=duration_argument, default=2, help="seconds per open-loop point"
        )
        parser.add_argument(
            "--open-loop-repeats",
            type=int,
            default=3,
            help="times each common open-loop rate is measured per side, in a fresh order each time "
            "(p99's interval comes from them)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastapi-load", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list services and their variants")
    serve = sub.add_parser("serve", help="database + one service in the foreground until Ctrl-C")
    _add_service_options(serve)
    serve.add_argument("--port", type=int, default=8000)
    verify_cmd = sub.add_parser("verify", help="start a service and check it against the contract")
    _add_service_options(verify_cmd)
    run_cmd = sub.add_parser("run", help="benchmark services: verify, warm up, load, measure, write results")
    run_cmd.add_argument(
        "service",
        nargs="+",
        help="service names or aliases, or `all`; SERVICE:VARIANT names one side (no cross product), "
        "SERVICE:VARIANT@workers=N@pool-max=N one with its own settings, in the same rotation",
    )
    run_cmd.add_argument(
        "--scenario",
        action="append",
        default=None,
        help=f"scenarios, comma-separated or repeated (default ping); known: {', '.join(SCENARIOS)}",
    )
    run_cmd.add_argument(
        "--variant",
        action="append",
        default=None,
        help="variants, comma-separated or repeated; each one a separate case",
    )
    run_cmd.add_argument("--users", type=int, default=50, help="concurrent Locust users")
    run_cmd.add_argument("--spawn-rate", type=float, default=25.0, help="users started per second")
    run_cmd.add_argument(
        "--duration", type=duration_argument, default=20, help=f"measured time after the ramp: {FORMS}"
    )
    run_cmd.add_argument(
        "--warmup", type=duration_argument, default=5, help=f"unmeasured load first: {FORMS}"
    )
    _add_rounds_options(run_cmd)
    run_cmd.add_argument(
        "--repeat", type=int, default=1, help="trials of the Locust pass (the user's view); 0 skips it"
    )
    run_cmd.add_argument(
        "--open-loop",
        default=None,
        metavar="RATES",
        help="open-loop latency at these fractions of the slowest side's capacity, e.g. 25,50,75,90%%",
    )
    run_cmd.add_argument(
        "--curve", default=None, metavar="RATES", help="each side's own curve at fractions of its capacity"
    )
    run_cmd.add_argument("--curve-scenario", default=None, help="scenarios of the own curves")
    run_cmd.add_argument(
        "--shuffle-seed",
        type=int,
        default=None,
        help="seed of the rounds' and the Locust pass's shuffled orders (default: a fresh one, recorded)",
    )
    run_cmd.add_argument("--no-calibration", action="store_true", help="skip Locust's top-rate calibration")
    run_cmd.add_argument(
        "--calibration-seconds", type=duration_argument, default=5, help="measured seconds of the calibration"
    )
    run_cmd.add_argument("--workers", type=int, default=None)
    run_cmd.add_argument("--pool-max", type=int, default=None)
    run_cmd.add_argument("--max-connections", type=int, default=STOCK_MAX_CONNECTIONS)
    run_cmd.add_argument("--seed", type=int, default=DEFAULT_TASKS)
    run_cmd.add_argument(
        "--cpus", default="auto", help="auto (split server/generator), none, or SERVER/GENERATOR such as 0/1"
    )
    run_cmd.add_argument(
        "--locust-workers",
        "--locust-processes",
        type=int,
        default=1,
        help="local Locust worker processes under one master (distributed on this machine)",
    )
    run_cmd.add_argument(
        "--master",
        type=int,
        default=0,
        metavar="N",
        help="run Locust as a master waiting for N workers started elsewhere (prints their command)",
    )
    run_cmd.add_argument(
        "--master-bind",
        default="127.0.0.1",
        help="address the master listens on for workers (a LAN address for other machines)",
    )
    run_cmd.add_argument(
        "--target", default=None, help="load a service already running at this URL instead of starting one"
    )
    run_cmd.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --target that is not loopback (only machines you own)",
    )
    run_cmd.add_argument("--run-id", default=None)
    run_cmd.add_argument("--results-dir", default=str(RESULTS_DIR))
    run_cmd.add_argument("--quiet", action="store_true", help="no live progress line")
    run_cmd.add_argument("--compare", action="store_true", help="end with the verdicts and write a report")
    run_cmd.add_argument(
        "--baseline",
        default=None,
        help="the side every ratio is against (default: each side against its own service's default, "
        "those against fastapi-uvicorn:default)",
    )
    compare = sub.add_parser("compare", help="compare result sets (run dirs, service/variant dirs or files)")
    compare.add_argument("paths", nargs="+")
    compare.add_argument(
        "--baseline",
        default=None,
        help="side to compare against (default: each side's own default, those against fastapi-uvicorn)",
    )
    report = sub.add_parser("report", help="write report.md and a self-contained report.html for a run")
    report.add_argument("run_dir")
    report.add_argument("--baseline", default=None)
    experiment = sub.add_parser("experiment", help="run one of the write-up's experiments")
    experiment.add_argument("name", help=f"one of: {', '.join(EXPERIMENTS)}")
    for flag, kind in (
        ("--users", int),
        ("--spawn-rate", float),
        ("--duration", duration_argument),
        ("--warmup", duration_argument),
        ("--repeat", int),
    ):
        experiment.add_argument(flag, type=kind, default=None, help="override every part's setting")
    experiment.add_argument("--cpus", default=None)
    _add_rounds_options(experiment, default=False)
    experiment.add_argument("--results-dir", default=str(RESULTS_DIR))
    checking = sub.add_parser(
        "check-claims", help="re-run the README's experiments here and judge each claim (docs/claims.json)"
    )
    checking.add_argument("--experiment", action="append", help="only this experiment's claims (repeatable)")
    checking.add_argument(
        "--rounds", type=int, default=None, help="rounds per part (default: each experiment's)"
    )
    readme = sub.add_parser("readme", help="regenerate the README's 'What it shows' from the newest runs")
    readme.add_argument("--results-dir", default=str(RESULTS_DIR))
    ui = sub.add_parser("ui", help="database + service + Locust's web UI, to explore by hand")
    _add_service_options(ui)
    ui.add_argument("--web-port", type=int, default=8089)
    sat = sub.add_parser(
        "saturate",
        help="one side's open-loop curve: p99 against offered load, past its capacity, to its knee",
    )
    _add_service_options(sat)
    sat.add_argument("--scenario", default="ping", choices=[n for n, s in SCENARIOS.items() if s.open_loop])
    _add_rounds_options(sat)
    sat.add_argument(
        "--curve", default="25,50,75,90,100,110,125%", metavar="RATES", help="fractions of its capacity"
    )
    sat.add_argument("--cpus", default="auto")
    sat.add_argument("--run-id", default=None)
    sat.add_argument("--results-dir", default=str(RESULTS_DIR))
    sat.add_argument("--quiet", action="store_true")
    robust = sub.add_parser("robustness", help="the fault suite: restarts, crashes, exhaustion, interrupts")
    robust.add_argument("--fault", action="append", choices=list(FAULTS), default=None)
    robust.add_argument("--stack", action="append", default=None, help="service name or alias")
    migrate = sub.add_parser("migrate", help="apply or roll back migrations on DATABASE_URL")
    migrate.add_argument("direction", choices=["up", "down"])
    migrate.add_argument("--steps", type=int, default=1)
    migrate.add_argument("--max-connections", type=int, default=STOCK_MAX_CONNECTIONS)
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": cmd_list,
    "serve": cmd_serve,
    "verify": cmd_verify,
    "run": cmd_run,
    "saturate": cmd_saturate,
    "compare": cmd_compare,
    "report": cmd_report,
    "experiment": cmd_experiment,
    "readme": cmd_readme,
    "check-claims": cmd_check_claims,
    "ui": cmd_ui,
    "robustness": cmd_robustness,
    "migrate": cmd_migrate,
}


def _crash_report() -> Path:
    """The traceback of an unexpected error, kept for the bug report rather than shown as the message."""
    path = SERVE_LOGS / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(traceback.format_exc())
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A caller that runs main() in-process (a test) may have children of its own tracked already.
    theirs = lifetime.tracked()
    with lifetime.interrupts_unwind():
        try:
            return COMMANDS[args.command](args)
        except BenchError as exc:
            left = lifetime.reap(theirs)
            stuck = f" (and could not stop: {', '.join(left)})" if left else ""
            print(f"fastapi-load: error: {exc}{stuck}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            left = lifetime.reap(theirs)
            if left:
                print(f"fastapi-load: interrupted; could not stop: {', '.join(left)}", file=sys.stderr)
            else:
                print("fastapi-load: interrupted; everything started was stopped", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # Output piped into `head` and closed early: not an error worth a traceback.
            sys.stderr.close()
            return 0
        except Exception as exc:  # the last line of defence: a bug still gets one clear line
            left = lifetime.reap(theirs)
            crash = _crash_report()
            stuck = f"; could not stop: {', '.join(left)}" if left else ""
            print(
                f"fastapi-load: internal error: {type(exc).__name__}: {exc} (a bug; the traceback is in "
                f"{crash}){stuck}",
                file=sys.stderr,
            )
            return 3


if __name__ == "__main__":
    sys.exit(main())
