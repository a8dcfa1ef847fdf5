"""Building a service before it runs (gin's binary); a missing toolchain is one clear line."""

import shutil
import subprocess

from bench.common.errors import BenchError
from bench.services.manifest import Manifest

_TOOLCHAIN_HINTS = {"go": "install Go (https://go.dev/dl/) and put `go` on PATH"}


def build(manifest: Manifest) -> None:
    if not manifest.build:
        return
    tool = manifest.build[0]
    if shutil.which(tool) is None:
        hint = _TOOLCHAIN_HINTS.get(tool, f"install {tool}")
        raise BenchError(f"{manifest.name} needs `{tool}` to build, and it is not on PATH: {hint}")
    proc = subprocess.run(
        list(manifest.build), cwd=manifest.directory, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise BenchError(f"building {manifest.name} failed: {' | '.join(tail)}")
