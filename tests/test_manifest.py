"""A variant may swap the ASGI app a manifest's command runs (the ladder's `bare` rung)."""

from pathlib import Path

import pytest

from bench.common.errors import BenchError
from bench.services import manifest as manifests

# Starts real parts (PostgreSQL, servers, generators): not in `make test-fast`.
pytestmark = pytest.mark.slow

_COMMAND = 'command = ["{python}", "-m", "uvicorn", "taskapi.asgi:app", "--port", "{port}"]'


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "service.toml"
    path.write_text(
        'name = "demo"\nlanguage = "python"\ndescription = "demo"\nhealth_path = "/ping/"\n'
        f"database_variants = []\n{_COMMAND}\n{body}"
    )
    return path


def test_a_variant_swaps_the_app_and_nothing_else(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'app = "taskapi.asgi:app"\n[variants.bare]\ndescription = "bare"\napp = "taskapi.bare:app"\n'
        '[variants.log]\ndescription = "log"\nargs = ["--access-log"]\n',
    )
    manifest = manifests.parse_manifest(path)
    default = manifests.launch(manifest, "default", "127.0.0.1", 9000)
    bare = manifests.launch(manifest, "bare+log", "127.0.0.1", 9000)
    assert "taskapi.asgi:app" in default.argv
    assert bare.argv == tuple(
        "taskapi.bare:app" if part == "taskapi.asgi:app" else part for part in (*default.argv, "--access-log")
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[variants.bare]\ndescription = "b"\napp = "taskapi.bare:app"\n', "names no app"),
        ('app = "taskapi.other:app"\n', "must appear exactly once in command"),
        (
            'app = "taskapi.asgi:app"\n[variants.bare]\ndescription = "b"\napp = "not a target"\n',
            "import target",
        ),
    ],
)
def test_bad_app_settings_are_refused_with_the_file_named(tmp_path: Path, body: str, message: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(BenchError, match=message) as error:
        manifests.parse_manifest(path)
    assert str(path) in str(error.value)


def test_two_swapped_apps_in_one_variant_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'app = "taskapi.asgi:app"\n[variants.a]\ndescription = "a"\napp = "taskapi.a:app"\n'
        '[variants.b]\ndescription = "b"\napp = "taskapi.b:app"\n',
    )
    with pytest.raises(BenchError, match="names two apps"):
        manifests.launch(manifests.parse_manifest(path), "a+b", "127.0.0.1", 9000)


def test_every_python_service_has_a_tuned_variant_and_uvicorn_the_ladder() -> None:
    python = [m for m in manifests.services() if m.language == "python"]
    assert {m.name for m in python} == {"fastapi-uvicorn", "fastapi-granian", "fastapi-gunicorn"}
    for manifest in python:
        assert "tuned" in manifest.variant_names
    uvicorn = manifests.find("fastapi-uvicorn")
    bare = manifests.launch(uvicorn, "bare", "127.0.0.1", 9000)
    assert "taskapi.bare:app" in bare.argv
    assert "taskapi.asgi:app" not in bare.argv


def test_a_variant_fixes_its_worker_count_unless_the_side_says_otherwise(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[variants.workers]\ndescription = "w"\nargs = ["--workers", "{workers}"]\nworkers = 2\n'
        '[variants.log]\ndescription = "log"\nargs = ["--access-log"]\n',
    )
    manifest = manifests.parse_manifest(path)
    assert manifests.launch(manifest, "default", "127.0.0.1", 9000).workers == 1
    fixed = manifests.launch(manifest, "workers+log", "127.0.0.1", 9000)
    assert (fixed.workers, fixed.argv[-3:]) == (2, ("--workers", "2", "--access-log"))
    side = manifests.launch(manifest, "workers", "127.0.0.1", 9000, workers=3)
    assert (side.workers, side.argv[-2:]) == (3, ("--workers", "3"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[variants.w]\ndescription = "w"\nworkers = 0\n', "positive integer"),
        ('[variants.w]\ndescription = "w"\nworkers = "2"\n', "wrong type"),
    ],
)
def test_bad_variant_workers_are_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        manifests.parse_manifest(_write(tmp_path, body))


def test_two_variants_fixing_workers_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[variants.a]\ndescription = "a"\nworkers = 2\n[variants.b]\ndescription = "b"\nworkers = 3\n',
    )
    with pytest.raises(BenchError, match="sets workers twice"):
        manifests.launch(manifests.parse_manifest(path), "a+b", "127.0.0.1", 9000)
