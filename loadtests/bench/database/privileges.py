"""Running PostgreSQL as an unprivileged user when we are root."""

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from bench.common.errors import BenchError

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
