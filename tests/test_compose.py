"""compose.yaml and the Dockerfiles, checked offline: a valid file, images running the manifests' commands."""

import json
import os
import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.common.paths import REPO_ROOT
from bench.services import manifest as manifests

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

COMPOSE_FILE = REPO_ROOT / "compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
INFRASTRUCTURE = {"postgres", "migrate", "seed"}
LOCUST_PREFIX = "locust-"
REQUIRED_VARIABLES = ("POSTGRES_USER", "POSTGRES_PASSWORD")
# The container values of the manifest placeholders (docs/containers.md).
IMAGE_PLACEHOLDERS = {
    "python": "/app/.venv/bin/python",
    "host": "0.0.0.0",
    "port": "8000",
    "dir": "/app",
    "root": "/app",
}
# default_workers = "cpu" has no honest in-container value (nproc ignores a --cpus quota),
# so images whose manifest says "cpu" default to this and take WORKERS from compose.
CPU_WORKERS_DEFAULT = 2


@cache
def compose_command() -> tuple[str, ...]:
    """`docker compose` when the plugin answers, else Debian's `docker-compose`."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return (docker, "compose")
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return (legacy,)
    pytest.fail(
        "neither `docker compose` nor `docker-compose` is installed: "
        "install Debian's docker-compose (apt-get install docker-compose) to validate compose.yaml"
    )


def run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The shell's own values would mask what the env file provides (or fails to).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "COMPOSE_"))}
    return subprocess.run(
        [
            *compose_command(),
            "--project-directory",
            str(REPO_ROOT),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@cache
def compose() -> dict[str, Any]:
    """compose.yaml as written, anchors and merge keys resolved, before interpolation."""
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def server_names() -> list[str]:
    return sorted(
        name for name in services() if name not in INFRASTRUCTURE and not name.startswith(LOCUST_PREFIX)
    )


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@pytest.mark.parametrize("profiles", [(), ("all",), ("load",), ("all", "load")])
def test_compose_config_is_valid_with_the_example_env(profiles: tuple[str, ...]) -> None:
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    proc = run_compose(ENV_EXAMPLE, *flags, "config", "-q")
    assert proc.returncode == 0, proc.stderr


def test_compose_config_names_the_missing_credentials(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    proc = run_compose(empty, "config", "-q")
    assert proc.returncode != 0, "compose.yaml must refuse to run without database credentials"
    assert any(name in proc.stderr for name in REQUIRED_VARIABLES), proc.stderr


def test_env_example_sets_every_variable_compose_reads() -> None:
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    missing = sorted(used - set(env_example()))
    assert not missing, f".env.example lacks {missing}"


def test_every_server_has_a_manifest_and_every_manifest_a_server() -> None:
    known = {m.name for m in manifests.services()}
    assert set(server_names()) == known


def test_servers_are_started_only_by_their_profiles() -> None:
    for name in server_names():
        assert sorted(services()[name]["profiles"]) == sorted([name, "all"]), name
    for name in services():
        if name.startswith(LOCUST_PREFIX) or name == "seed":
            assert services()[name]["profiles"] == ["load"], name
    published = [port for name in server_names() for port in services()[name]["ports"]]
    assert len(published) == len(set(published)), "two services publish the same host port"


def test_every_server_waits_for_the_database_and_the_migrations() -> None:
    for name in [*server_names(), "seed"]:
        depends_on = services()[name]["depends_on"]
        assert depends_on["postgres"] == {"condition": "service_healthy"}, name
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}, name


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stage(path: Path, target: str | None = None) -> list[tuple[str, str]]:
    """The instructions a build of `target` (default: the last stage) ends with, its parent
    stages' first: `FROM python-server AS fastapi-uvicorn` inherits python-server's USER."""
    instructions = dockerfile_instructions(path)
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    stages: dict[str, list[tuple[str, str]]] = {}
    bases: dict[str, str] = {}
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(instructions)
        words = instructions[start][1].split()
        name = words[2] if len(words) == 3 and words[1].upper() == "AS" else f"#{n}"
        stages[name], bases[name] = instructions[start:end], words[0]
    chosen = target if target is not None else list(stages)[-1]
    assert chosen in stages, f"{path}: no stage {target!r}"
    chain = [chosen]
    while bases[chain[-1]] in stages:
        chain.append(bases[chain[-1]])
    return [instruction for name in reversed(chain) for instruction in stages[name]]


def image_argv(path: Path, target: str | None = None) -> list[str]:
    """The stage's CMD as argv; a `sh -c "exec ..."` wrapper is unwrapped."""
    cmds = [rest for keyword, rest in stage(path, target) if keyword == "CMD" and rest.startswith("[")]
    assert cmds, f"{path}: the final stage has no CMD"
    argv = json.loads(cmds[-1])
    assert isinstance(argv, list), f"{path}: CMD must be a JSON array (exec form)"
    if argv[:2] == ["sh", "-c"]:
        assert len(argv) == 3, f"{path}: sh -c takes one script"
        script = shlex.split(argv[2])
        assert script[0] == "exec", f"{path}: the script must exec the server so it is PID 1"
        return script[1:]
    return [str(part) for part in argv]


def image_env(path: Path, target: str | None = None) -> dict[str, str]:
    env = {}
    for keyword, rest in stage(path, target):
        if keyword == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def expected_argv(manifest: manifests.Manifest) -> list[str]:
    default = manifest.default_workers if isinstance(manifest.default_workers, int) else CPU_WORKERS_DEFAULT
    values = {**IMAGE_PLACEHOLDERS, "workers": f"${{WORKERS:-{default}}}"}
    return [part.format(**values) for part in manifest.command]


@pytest.mark.parametrize("name", server_names())
def test_image_runs_the_manifest_command(name: str) -> None:
    manifest = manifests.find(name)
    service = services()[name]
    dockerfile = REPO_ROOT / service["build"]["dockerfile"]
    target = service["build"].get("target")
    assert service["build"]["context"] == ".", "the build context is the repository root"
    assert image_argv(dockerfile, target) == expected_argv(manifest)
    if any("{workers}" in part for part in manifest.command):
        assert "WORKERS" in service["environment"], f"{name}: compose should set WORKERS"
    env = image_env(dockerfile, target)
    assert {k: env.get(k) for k in manifest.env} == manifest.env, f"{dockerfile}: the manifest's [env]"
    for key, value in manifest.env.items():
        if key in service["environment"]:
            assert service["environment"][key] in (value, f"${{{key}:-{value}}}"), f"{name}: {key} default"
    built = stage(dockerfile, target)
    assert ("EXPOSE", IMAGE_PLACEHOLDERS["port"]) in built
    assert any(keyword == "HEALTHCHECK" and manifest.health_path in rest for keyword, rest in built)
    users = [rest for keyword, rest in built if keyword == "USER"]
    assert users, f"{dockerfile}: the final stage sets no USER"
    assert not users[-1].startswith(("root", "0")), f"{dockerfile}: the server must not run as root"


def test_python_images_share_one_dockerfile() -> None:
    """One build for the shared app: the servers differ in their final stage only."""
    python = [name for name in server_names() if manifests.find(name).language == "python"]
    builds = {name: services()[name]["build"] for name in python}
    assert len({build["dockerfile"] for build in builds.values()}) == 1, builds
    targets = [build.get("target") for build in builds.values()]
    assert None not in targets, "each server names its stage"
    assert len(set(targets)) == len(targets), "one stage per server"
    dockerfiles = sorted(p for d in ("services", "go-gin") for p in (REPO_ROOT / d).glob("**/Dockerfile"))
    assert len(dockerfiles) == 2, f"one Dockerfile for Python, one for Go: {dockerfiles}"


def strings(node: Any, key: str = "") -> list[tuple[str, str]]:
    """Every (mapping key, string) in the file; list items carry their list's key."""
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in strings(v, str(k))]
    if isinstance(node, list):
        return [pair for item in node for pair in strings(item, key)]
    return [(key, node)] if isinstance(node, str) else []


def test_compose_holds_no_literal_password() -> None:
    assert env_example()["POSTGRES_PASSWORD"] not in COMPOSE_FILE.read_text()
    reference = re.compile(r"\$\{POSTGRES_PASSWORD(:\?[^}]*)?\}")  # required, never a default
    url_password = re.compile(r"://(?:\$\{[^}]*\}|[^:@/]*):(\$\{[^}]*\}|[^@/]*)@")
    slots = [value for key, value in strings(compose()) if "PASSWORD" in key.upper()]
    slots += [m.group(1) for _, value in strings(compose()) for m in url_password.finditer(value)]
    assert len(slots) >= 3, "fewer password slots than expected: has the file changed shape?"
    for slot in slots:
        assert reference.fullmatch(slot), f"a password in compose.yaml is not ${{POSTGRES_PASSWORD}}: {slot}"
