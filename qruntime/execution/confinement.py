"""What a sandboxed worker does to itself at start, and the CPU-time limit of each job.

At start, before any thread exists (:func:`confine`):

1. ``--run-as UID:GID`` (the server runs as root): drop to that user. Root is exempt from the
   process-count limit, and an unprivileged user reads only what is world-readable.
2. ``--own-user-namespace``: enter a user namespace of its own. The kernel counts a process-count
   limit per user *in a namespace*, so the limit then counts this sandbox's processes only: a
   fork bomb here takes nothing from other workers running as the same user.
3. ``--max-processes N``: that limit (``RLIMIT_NPROC``; threads count too).

Per job (:func:`cpu_time_limit`): ``RLIMIT_CPU`` set to the CPU time used so far plus the job's
allowance. At the soft limit the kernel sends SIGXCPU, which ends the job with
:class:`CpuTimeExceeded`; an uploaded program that ignores it meets the hard limit a little later,
and the kernel kills the worker.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import math
import os
import resource
import signal
import sys
import types
from collections.abc import Iterator, Sequence

_CLONE_NEWUSER = 0x10000000
_PR_SET_DUMPABLE = 4
_CAPABILITY_VERSION_3 = 0x20080522
_HARD_LIMIT_GRACE = 5  # seconds of CPU time between SIGXCPU and the kernel's SIGKILL


class CpuTimeExceeded(BaseException):
    """SIGXCPU: the job used up its CPU time (a ``BaseException``, so a program's
    ``except Exception`` does not swallow it)."""


class ConfinementError(RuntimeError):
    """The worker could not confine itself as asked; it must not run jobs."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's command-line options for confining itself."""
    parser.add_argument("--run-as", help="UID:GID to become first (the server runs as root)")
    parser.add_argument(
        "--own-user-namespace", action="store_true", help="enter a user namespace of its own"
    )
    parser.add_argument("--max-processes", type=int, help="process-count limit (RLIMIT_NPROC)")


def confine(argv: Sequence[str]) -> None:
    """Parse the options of :func:`add_arguments` from ``argv`` and apply them."""
    parser = argparse.ArgumentParser(prog="qruntime-confine")
    add_arguments(parser)
    apply(parser.parse_args(argv))


def apply(args: argparse.Namespace) -> None:
    """Confine this process as ``args`` say. Call it while the process has one thread.

    Raises:
        ConfinementError: a step failed (the process must exit rather than run unconfined).
    """
    try:
        if args.run_as:
            uid, gid = (int(part) for part in args.run_as.split(":"))
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        if args.own_user_namespace:
            _enter_user_namespace()
        if args.max_processes is not None:
            limit = args.max_processes
            resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    except (OSError, ValueError) as exc:
        raise ConfinementError(f"the worker could not confine itself: {exc}") from exc


@contextlib.contextmanager
def cpu_time_limit(seconds: float | None, *, final: bool) -> Iterator[None]:
    """Raise :class:`CpuTimeExceeded` in the main thread once the process used ``seconds`` more
    CPU time (all its threads together). ``final``: also set the hard limit, past which the
    kernel kills the process (for a worker that is replaced after this job anyway)."""
    if seconds is None:
        yield
        return
    used = _cpu_time_used()
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    limit = math.ceil(used + seconds)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    new_hard = limit + _HARD_LIMIT_GRACE if final else hard
    if hard != resource.RLIM_INFINITY:
        new_hard = min(new_hard, hard)
    previous = signal.signal(signal.SIGXCPU, _exceeded)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, new_hard))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
            resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
        signal.signal(signal.SIGXCPU, previous)


def _exceeded(signum: int, frame: types.FrameType | None) -> None:
    raise CpuTimeExceeded


def _cpu_time_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _enter_user_namespace() -> None:
    if not sys.platform.startswith("linux"):
        raise OSError("user namespaces need Linux")
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    # A process that changed its user is not "dumpable", and its /proc/self files are then
    # root's: it could not write its own id maps.
    libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    if libc.unshare(_CLONE_NEWUSER) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWUSER): {os.strerror(errno)}")
    # Keep the same ids inside, so files keep their owners.
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    # The new namespace's creator holds every capability in it; keep none.
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"capset: {os.strerror(errno)}")


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as file:
        file.write(text)
