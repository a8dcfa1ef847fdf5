"""The fastapi-load command line: one function per subcommand, a dispatch table, one error line."""

import argparse
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

from bench import manifest as manifests
from bench.database import STOCK_MAX_CONNECTIONS, open_database
from bench.errors import BenchError
from bench.migrate import migrate_down, migrate_up
from bench.paths import REPO_ROOT
from bench.seed import DEFAULT_TASKS
from bench.stack import StackOptions, prepared_database, start_service


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so every `with` block stops what it started.
    raise KeyboardInterrupt


def cmd_list(args: argparse.Namespace) -> int:
    for m in manifests.services():
        aliases = f" (also: {', '.join(m.aliases)})" if m.aliases else ""
        print(f"{m.name}{aliases}\n  {m.description}\n  variants: {', '.join(m.variant_names)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    options = StackOptions(
        service=args.service,
        variant=args.variant,
        port=args.port,
        workers=args.workers,
        pool_max=args.pool_max,
        max_connections=args.max_connections,
        seed=args.seed,
    )
    manifests.launch(manifests.find(args.service), args.variant, "127.0.0.1", 0)  # validate early
    logs = REPO_ROOT / ".run" / "logs"
    with (
        prepared_database(options.max_connections, options.seed) as database,
        start_service(options, database, logs) as running,
    ):
        where = "embedded PostgreSQL" if database.embedded else "DATABASE_URL"
        print(
            f"{running.manifest.name} [{running.launch.variant}] on {running.url} "
            f"({where}, {options.seed} tasks, started in {running.process.startup_seconds:.2f}s); "
            f"Ctrl-C to stop; server output in {running.process.log_path}",
            flush=True,
        )
        while running.process.process is not None and running.process.process.poll() is None:
            time.sleep(0.2)
    raise BenchError(f"{options.service} exited on its own; see {logs}")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastapi-load", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list services and their variants")
    serve = sub.add_parser("serve", help="database + one service in the foreground until Ctrl-C")
    _add_service_options(serve)
    serve.add_argument("--port", type=int, default=8000)
    migrate = sub.add_parser("migrate", help="apply or roll back migrations on DATABASE_URL")
    migrate.add_argument("direction", choices=["up", "down"])
    migrate.add_argument("--steps", type=int, default=1)
    migrate.add_argument("--max-connections", type=int, default=STOCK_MAX_CONNECTIONS)
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": cmd_list,
    "serve": cmd_serve,
    "migrate": cmd_migrate,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        return COMMANDS[args.command](args)
    except BenchError as exc:
        print(f"fastapi-load: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastapi-load: interrupted; everything started was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
