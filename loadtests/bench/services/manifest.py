"""Service manifests (service.toml): discovered, validated, and resolved to a command line.

A manifest is data, checked like data: an unknown key, a missing field, a wrong type or
a duplicate name is an error naming the file, never a silently skipped service.
"""

import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common.errors import BenchError
from bench.common.paths import REPO_ROOT

MANIFEST_NAME = "service.toml"
LANGUAGES = ("python", "go")
DEFAULT_VARIANT = "default"
# The server flags people use, as variants that change the server, not the app: gunicorn's native
# ASGI worker beside uvicorn-worker, uvicorn's own --workers, granian's runtime threads and workers.
# The servers comparison measures them, the fault suite restarts PostgreSQL under them.
SERVER_SETTINGS: dict[str, tuple[str, ...]] = {
    "fastapi-gunicorn": ("asgi-worker",),
    "fastapi-uvicorn": ("workers",),
    "fastapi-granian": ("runtime-threads", "workers"),
}
# Database variants are shared by every service that declares them; each only sets
# environment the app reads (docs/api.md), so they mean the same thing on every stack.
DATABASE_VARIANTS: dict[str, dict[str, str]] = {
    "pool": {"DB_STRATEGY": "pool"},
    "per-request": {"DB_STRATEGY": "per-request"},
    "asyncpg": {"DB_STRATEGY": "pool", "DB_DRIVER": "asyncpg"},
}
_TOP_KEYS = {
    "name": str,
    "language": str,
    "description": str,
    "command": list,
    "health_path": str,
    "default_workers": (int, str),
    "grace_seconds": (int, float),
    "startup_timeout": (int, float),
    "build": list,
    "aliases": list,
    "database_variants": list,
    "env": dict,
    "variants": dict,
    "app": str,
}
_REQUIRED = ("name", "language", "description", "command", "health_path", "database_variants")
_VARIANT_KEYS = {"description": str, "args": list, "env": dict, "app": str, "workers": int}
# An ASGI import target, "package.module:attribute".
_APP_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_PLACEHOLDERS = ("host", "port", "workers", "python", "root", "dir")


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    app: str | None = None  # replaces the manifest's `app` in the command (another ASGI app)
    # The variant's own default worker count (uvicorn --workers as a variant): a side's
    # @workers=N still wins, and the count reaches {workers}, pool sizing and the results alike.
    workers: int | None = None


@dataclass(frozen=True)
class Manifest:
    name: str
    language: str
    description: str
    directory: Path
    command: tuple[str, ...]
    health_path: str
    database_variants: tuple[str, ...]
    default_workers: int | str = 1
    grace_seconds: float = 10.0
    startup_timeout: float = 10.0
    build: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    variants: dict[str, Variant] = field(default_factory=dict)
    app: str | None = None  # the ASGI import target the command runs, if variants may swap it

    @property
    def variant_names(self) -> list[str]:
        return [DEFAULT_VARIANT, *self.database_variants, *self.variants]


@dataclass(frozen=True)
class Launch:
    """A manifest resolved for one run: exactly what will be executed."""

    service: str
    variant: str
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    workers: int
    health_path: str
    grace_seconds: float
    startup_timeout: float


def _check_type(path: Path, where: str, value: Any, expected: Any) -> None:
    if not isinstance(value, expected) or isinstance(value, bool):
        raise BenchError(f"{path}: {where} has the wrong type ({type(value).__name__})")


def _string_list(path: Path, where: str, value: list[Any]) -> tuple[str, ...]:
    if not all(isinstance(item, str) for item in value):
        raise BenchError(f"{path}: {where} must be a list of strings")
    return tuple(value)


def _string_map(path: Path, where: str, value: dict[str, Any]) -> dict[str, str]:
    if not all(isinstance(v, str) for v in value.values()):
        raise BenchError(f"{path}: every value of {where} must be a string")
    return dict(value)


def _parse_variant(path: Path, name: str, raw: Any) -> Variant:
    if not isinstance(raw, dict):
        raise BenchError(f"{path}: variants.{name} must be a table")
    unknown = set(raw) - set(_VARIANT_KEYS)
    if unknown:
        raise BenchError(f"{path}: variants.{name} has unknown keys {sorted(unknown)}")
    for key, expected in _VARIANT_KEYS.items():
        if key in raw:
            _check_type(path, f"variants.{name}.{key}", raw[key], expected)
    if "description" not in raw:
        raise BenchError(f"{path}: variants.{name} needs a description")
    if raw.get("workers", 1) < 1:
        raise BenchError(f"{path}: variants.{name}.workers must be a positive integer")
    app = raw.get("app")
    if app is not None and not _APP_TARGET.match(app):
        raise BenchError(f'{path}: variants.{name}.app must be an import target like "package.module:app"')
    return Variant(
        name=name,
        description=raw["description"],
        args=_string_list(path, f"variants.{name}.args", raw.get("args", [])),
        env=_string_map(path, f"variants.{name}.env", raw.get("env", {})),
        app=app,
        workers=raw.get("workers"),
    )


def _check_app(path: Path, app: str | None, command: tuple[str, ...], variants: dict[str, Variant]) -> None:
    """A variant may swap the app only for a manifest that names it, once, in its command."""
    if app is not None and command.count(app) != 1:
        raise BenchError(f"{path}: app {app!r} must appear exactly once in command")
    swapping = sorted(name for name, variant in variants.items() if variant.app is not None)
    if swapping and app is None:
        raise BenchError(f"{path}: variants {swapping} set app, but the manifest names no app")


def parse_manifest(path: Path) -> Manifest:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BenchError(f"{path}: cannot read manifest: {exc}") from None
    unknown = set(raw) - set(_TOP_KEYS)
    if unknown:
        raise BenchError(f"{path}: unknown keys {sorted(unknown)}")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise BenchError(f"{path}: missing required keys {missing}")
    for key, expected in _TOP_KEYS.items():
        if key in raw:
            _check_type(path, key, raw[key], expected)
    if raw["language"] not in LANGUAGES:
        raise BenchError(f"{path}: language must be one of {list(LANGUAGES)}")
    database_variants = _string_list(path, "database_variants", raw["database_variants"])
    bad = [v for v in database_variants if v not in DATABASE_VARIANTS]
    if bad:
        raise BenchError(f"{path}: unknown database variants {bad}; known: {list(DATABASE_VARIANTS)}")
    workers = raw.get("default_workers", 1)
    if (isinstance(workers, str) and workers != "cpu") or (isinstance(workers, int) and workers < 1):
        raise BenchError(f'{path}: default_workers must be a positive integer or "cpu"')
    variants = {name: _parse_variant(path, name, body) for name, body in raw.get("variants", {}).items()}
    clash = set(variants) & (set(DATABASE_VARIANTS) | {DEFAULT_VARIANT})
    if clash:
        raise BenchError(f"{path}: variant names {sorted(clash)} are reserved")
    command = _string_list(path, "command", raw["command"])
    if not command:
        raise BenchError(f"{path}: command is empty")
    _check_app(path, raw.get("app"), command, variants)
    if not raw["health_path"].startswith("/"):
        raise BenchError(f"{path}: health_path must start with /")
    return Manifest(
        name=raw["name"],
        language=raw["language"],
        description=raw["description"],
        directory=path.parent,
        command=command,
        health_path=raw["health_path"],
        database_variants=database_variants,
        default_workers=workers,
        grace_seconds=float(raw.get("grace_seconds", 10.0)),
        startup_timeout=float(raw.get("startup_timeout", 10.0)),
        build=_string_list(path, "build", raw.get("build", [])),
        aliases=_string_list(path, "aliases", raw.get("aliases", [])),
        env=_string_map(path, "env", raw.get("env", {})),
        variants=variants,
        app=raw.get("app"),
    )


def discover(root: Path = REPO_ROOT) -> dict[str, Manifest]:
    """Every service.toml under services/ and at the top level, keyed by name and alias."""
    paths = sorted([*root.glob(f"services/*/{MANIFEST_NAME}"), *root.glob(f"*/{MANIFEST_NAME}")])
    by_name: dict[str, Manifest] = {}
    owner: dict[str, Path] = {}
    for path in paths:
        manifest = parse_manifest(path)
        for key in (manifest.name, *manifest.aliases):
            if key in owner:
                raise BenchError(f"{path}: service name {key!r} already used by {owner[key]}")
            owner[key] = path
            by_name[key] = manifest
    return by_name


def services(root: Path = REPO_ROOT) -> list[Manifest]:
    """Each manifest once, in name order."""
    unique = {m.name: m for m in discover(root).values()}
    return [unique[name] for name in sorted(unique)]


def find(name: str, root: Path = REPO_ROOT) -> Manifest:
    known = discover(root)
    if name not in known:
        names = ", ".join(m.name for m in services(root))
        raise BenchError(f"unknown service {name!r}; known services: {names}")
    return known[name]


def _split_variant(manifest: Manifest, spec: str) -> tuple[str | None, list[Variant]]:
    database: str | None = None
    server: list[Variant] = []
    for part in [p for p in spec.split("+") if p and p != DEFAULT_VARIANT]:
        if part in manifest.database_variants:
            if database is not None:
                raise BenchError(f"variant {spec!r} names two database variants")
            database = part
        elif part in manifest.variants:
            server.append(manifest.variants[part])
        else:
            raise BenchError(
                f"unknown variant {part!r} for {manifest.name}; known variants: "
                + ", ".join(manifest.variant_names)
                + " (combine with +, e.g. per-request+access-log)"
            )
    return database, server


def resolve_workers(manifest: Manifest, workers: int | None, cpus: int) -> int:
    if workers is not None:
        if workers < 1:
            raise BenchError("workers must be at least 1")
        return workers
    if manifest.default_workers == "cpu":
        return cpus
    return int(manifest.default_workers)


def launch(
    manifest: Manifest,
    variant: str,
    host: str,
    port: int,
    workers: int | None = None,
    cpus: int | None = None,
) -> Launch:
    """Resolve the command and environment; the database URL and pool size are added later."""
    database, server = _split_variant(manifest, variant)
    fixed = [v for v in server if v.workers is not None]
    if len(fixed) > 1:
        raise BenchError(f"variant {variant!r} sets workers twice: {', '.join(v.name for v in fixed)}")
    if workers is None and fixed:
        workers = fixed[0].workers
    count = resolve_workers(manifest, workers, cpus or os.cpu_count() or 1)
    values = {
        "host": host,
        "port": str(port),
        "workers": str(count),
        "python": sys.executable,
        "root": str(REPO_ROOT),
        "dir": str(manifest.directory),
    }
    try:
        argv = [part.format(**values) for part in manifest.command]
        extra = [arg.format(**values) for v in server for arg in v.args]
    except (KeyError, IndexError, ValueError) as exc:
        raise BenchError(
            f"{manifest.directory / MANIFEST_NAME}: bad placeholder {exc}; "
            f"allowed: {', '.join('{' + p + '}' for p in _PLACEHOLDERS)}"
        ) from None
    swapped = [v.app for v in server if v.app is not None]
    if len(swapped) > 1:
        raise BenchError(f"variant {variant!r} names two apps: {', '.join(swapped)}")
    if swapped:
        argv = [swapped[0] if part == manifest.app else part for part in argv]
    env = dict(manifest.env)
    if database is not None:
        env.update(DATABASE_VARIANTS[database])
    for v in server:
        env.update(v.env)
    return Launch(
        service=manifest.name,
        variant=variant or DEFAULT_VARIANT,
        argv=(*argv, *extra),
        env=env,
        cwd=manifest.directory,
        workers=count,
        health_path=manifest.health_path,
        grace_seconds=manifest.grace_seconds,
        startup_timeout=manifest.startup_timeout,
    )
