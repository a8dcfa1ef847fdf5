"""Every process the harness starts dies with it, however the harness itself ends.

Three layers, because each covers what the others cannot:
- a parent-death signal per child (Linux): the kernel signals the child when the harness
  dies, even by SIGKILL, when no Python code runs any more;
- a registry of what was started, so the last words ("everything started was stopped") are
  checked, and anything still alive is killed, before they are printed;
- `shielded_cleanup`: once an interrupt began unwinding, further SIGINT/SIGTERM are held off,
  so a second signal (a supervisor's TERM to the whole group reaches `uv run`, which forwards
  it again) cannot abort a stop half way and orphan a server.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from types import FrameType

import psutil

_PR_SET_PDEATHSIG = 1
_REAP_TIMEOUT_S = 5.0
_started: dict[int, psutil.Process] = {}


def die_with_parent(sig: signal.Signals, then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A preexec_fn asking the kernel to send `sig` to the child when the harness dies.

    Popen runs preexec_fn after switching user, which matters: a change of credentials
    clears the parent-death signal. The signal follows the thread that forked, so start
    long-lived children from the main thread. `then` runs next (say, CPU pinning).
    """

    def preexec() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if then is not None:
            then()

    return preexec


def stop_group(process: "subprocess.Popen[bytes]", timeout: float = _REAP_TIMEOUT_S) -> None:
    """SIGTERM to a child's whole process group, then SIGKILL if it has not gone within `timeout`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


def track(pid: int) -> None:
    """Remember a child (and, at each check, its descendants) until the harness exits."""
    for known in [p for p, proc in _started.items() if not _alive(proc)]:
        del _started[known]
    with contextlib.suppress(psutil.NoSuchProcess):
        _started[pid] = psutil.Process(pid)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def tracked() -> frozenset[int]:
    """The children tracked so far: what a caller started before, which its own reap must spare."""
    return frozenset(_started)


def _with_descendants(spare: frozenset[int] = frozenset()) -> list[psutil.Process]:
    found: dict[int, psutil.Process] = {}
    for pid, proc in _started.items():
        if pid in spare or not _alive(proc):
            continue
        found[proc.pid] = proc
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in proc.children(recursive=True):
                found[child.pid] = child
    return list(found.values())


def survivors(spare: frozenset[int] = frozenset()) -> list[psutil.Process]:
    """What the harness started that is still running (zombies do not count), apart from the
    children in `spare` and their descendants."""
    return [proc for proc in _with_descendants(spare) if _alive(proc)]


def reap(spare: frozenset[int] = frozenset()) -> list[str]:
    """Kill whatever the harness started that still runs, but the children in `spare` (started by
    whoever called the harness in-process, such as a test session's database); returns what
    could not be stopped."""
    left = survivors(spare)
    for proc in left:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.kill()
    _, alive = psutil.wait_procs(left, timeout=_REAP_TIMEOUT_S)
    return [f"{proc.pid} ({proc.name()})" for proc in alive if _alive(proc)]


def _hold_off(signum: int, frame: FrameType | None) -> None:
    print(
        f"fastapi-load: {signal.Signals(signum).name} while stopping; still stopping what was started",
        file=sys.stderr,
    )


def interrupt_once(signum: int, frame: FrameType | None) -> None:
    """SIGINT/SIGTERM handler: the first one unwinds like Ctrl-C (every `with` block stops what it
    started); later ones are held off until the unwinding is done."""
    signal.signal(signal.SIGINT, _hold_off)
    signal.signal(signal.SIGTERM, _hold_off)
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupts_unwind() -> Iterator[None]:
    """Install interrupt_once for the CLI's lifetime and restore the previous handlers after."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, interrupt_once)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
