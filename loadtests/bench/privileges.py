"""Running PostgreSQL as an unprivileged user when we are root, tied to our lifetime."""

import ctypes
import os
import pwd
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError

_PR_SET_PDEATHSIG = 1
UNPRIVILEGED_USER = "postgres"


@dataclass(frozen=True)
class RunAs:
    """Who the database server runs as; None fields mean "as we are"."""

    user: str | None
    uid: int | None
    gid: int | None


def database_user() -> RunAs:
    if os.geteuid() != 0:
        return RunAs(user=None, uid=None, gid=None)
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise BenchError(
            "running as root, and PostgreSQL refuses to run as root: create an unprivileged "
            f"'{UNPRIVILEGED_USER}' user (useradd --system {UNPRIVILEGED_USER}) or run as a normal user"
        ) from None
    return RunAs(user=UNPRIVILEGED_USER, uid=entry.pw_uid, gid=entry.pw_gid)


def hand_over(path: Path, run_as: RunAs) -> None:
    if run_as.uid is None or run_as.gid is None:
        return
    os.chown(path, run_as.uid, run_as.gid)


def die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A preexec_fn asking the kernel to signal the child when we die, even by SIGKILL.

    Popen runs preexec_fn after switching user, which matters: a change of
    credentials clears the parent-death signal.
    """

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return preexec
