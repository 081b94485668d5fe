"""``Sandbox``: worker processes confined with bubblewrap (``bwrap``).

Uploaded programs are other people's Python; the worker that runs them sees only what it needs::

    sandbox = Sandbox.detect(hidden=[data_dir, keyfile])   # SandboxUnavailable: why not
    command = sandbox.wrap([python, "-m", "qruntime.execution.worker", ...])

Inside: no network (a network namespace with only its own loopback), its own process ids (the
server and other workers are invisible, ``/proc`` is its own), the system directories, the Python
installation and qruntime read-only, nothing else of the host's files (no data dir, no database,
no TLS key, no other worker's files), and a private writable ``/tmp`` that goes away with the
worker. The environment is the worker's own (:mod:`~qruntime.execution.process` passes no
credentials).

The sandbox wraps the whole worker, not each job, so jobs keep starting warm; a worker that ran an
uploaded program is replaced by a fresh one (see ``WorkerPool``), so no job sees another's
``/tmp``. Limits that bwrap does not set, the worker sets on itself at start
(:mod:`~qruntime.execution.confinement`): a process-count limit in a user namespace of its own,
and, when the server runs as root, it first becomes an unprivileged user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import qruntime
from qruntime.errors import QRuntimeError

SANDBOX_TMP = "/tmp"
"""The worker's private, writable directory (also its ``HOME`` and current directory)."""

DEFAULT_MAX_PROCESSES = 256
"""Processes and threads a sandboxed worker may have at once (Aer's threads count too)."""

DEFAULT_TMP_BYTES = 1 << 30
"""Size of a sandboxed worker's ``/tmp`` (it is memory, not disk)."""

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What of /etc a Python process reads: the dynamic linker's cache, names of users and groups,
# the time zone. Not the rest (keys, service configuration).
_ETC_ENTRIES = (
    "alternatives",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "nsswitch.conf",
    "passwd",
)
_UNPRIVILEGED_USER = "nobody"
# What a hidden file reads as inside (not /dev/null: device files do not open in a sandbox).
_HIDDEN_FILE = Path(__file__).with_name("hidden")
_CHECK_TIMEOUT = 60.0


class SandboxUnavailable(QRuntimeError):
    """bubblewrap is missing or cannot make a sandbox here; the message says why."""


@dataclass(frozen=True)
class Sandbox:
    """How to start a process inside a bubblewrap sandbox.

    Args:
        bwrap: the ``bwrap`` executable.
        readable: directories the sandbox sees, read-only, at the same paths.
        hidden: paths that must stay out of sight even if they lie inside a readable directory
            (the data dir, the database file, the TLS key).
        user: ``(uid, gid)`` the worker becomes at start, when the server runs as root (root
            is exempt from the process-count limit); ``None``: it keeps the server's user.
        max_processes: the worker's process-count limit (``RLIMIT_NPROC`` in its own user
            namespace, so it counts only the sandbox's processes).
        tmp_bytes: the size of its private ``/tmp``.
    """

    bwrap: str
    readable: tuple[Path, ...]
    hidden: tuple[Path, ...] = ()
    user: tuple[int, int] | None = None
    max_processes: int = DEFAULT_MAX_PROCESSES
    tmp_bytes: int = DEFAULT_TMP_BYTES

    @classmethod
    def detect(
        cls,
        hidden: Iterable[Path] = (),
        *,
        max_processes: int = DEFAULT_MAX_PROCESSES,
        tmp_bytes: int = DEFAULT_TMP_BYTES,
    ) -> Sandbox:
        """A sandbox for this Python and qruntime, tried once before it is returned.

        Raises:
            SandboxUnavailable: ``bwrap`` is not installed, or could not start Python inside.
        """
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable(
                "bubblewrap is not installed (no 'bwrap' on PATH); install it, e.g. "
                "'apt-get install bubblewrap'"
            )
        sandbox = cls(
            bwrap,
            readable=_python_paths(),
            hidden=tuple(Path(path).resolve() for path in hidden),
            user=_unprivileged_user() if os.geteuid() == 0 else None,
            max_processes=max_processes,
            tmp_bytes=tmp_bytes,
        )
        sandbox.check()
        return sandbox

    def wrap(self, command: Sequence[str]) -> list[str]:
        """``command`` started inside the sandbox. File descriptors it inherits stay open."""
        args = [self.bwrap, "--die-with-parent"]
        args += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
        args += ["--unshare-cgroup-try"]
        if self.user is None:
            args += ["--unshare-user"]  # bwrap needs one to work without privileges
        else:
            # Run as root, bwrap makes the namespaces itself; the worker then needs only these
            # two capabilities, to become ``user`` (after which it has none).
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        args += self._filesystem()
        args += ["--chdir", SANDBOX_TMP, "--setenv", "HOME", SANDBOX_TMP]
        args += ["--setenv", "TMPDIR", SANDBOX_TMP, "--"]
        return args + list(command)

    def worker_arguments(self) -> list[str]:
        """What the worker is told, on its command line, to do to itself at start."""
        args = ["--own-user-namespace", "--max-processes", str(self.max_processes)]
        if self.user is not None:
            args += ["--run-as", f"{self.user[0]}:{self.user[1]}"]
        return args

    def check(self) -> None:
        """Start this Python in the sandbox and import qruntime; ``SandboxUnavailable`` if not."""
        probe = "import qruntime.execution.confinement as c, sys; c.confine(sys.argv[1:])"
        command = self.wrap([sys.executable, "-c", probe, *self.worker_arguments()])
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=_CHECK_TIMEOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"bubblewrap could not start a sandbox: {exc}") from exc
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()[-2000:]
            raise SandboxUnavailable(
                f"bubblewrap could not start a sandbox (exit status {done.returncode}): {output}"
            )

    def _filesystem(self) -> list[str]:
        binds: list[str] = []
        dirs: set[str] = set()
        for name in _SYSTEM_DIRS:
            path = Path(name)
            if path.is_symlink():
                binds += ["--symlink", os.readlink(path), name]
            elif path.is_dir():
                binds += ["--ro-bind", name, name]
        for entry in _ETC_ENTRIES:
            path = Path("/etc") / entry
            if path.exists():
                dirs.add("/etc")
                binds += ["--ro-bind", str(path), str(path)]
        for path in self.readable:
            dirs.update(str(parent) for parent in path.parents if str(parent) != "/")
            binds += ["--ro-bind", str(path), str(path)]
        for path in self.hidden:
            if not any(path.is_relative_to(readable) for readable in self.readable):
                continue
            if path.is_dir():
                binds += ["--tmpfs", str(path)]
            else:
                binds += ["--ro-bind", str(_HIDDEN_FILE), str(path)]
        # Directories bwrap would otherwise make for the binds above are root's alone (0700):
        # make them first, open to the unprivileged user the worker may become.
        made: list[str] = []
        for name in sorted(dirs, key=lambda d: d.count("/")):
            made_already = name == SANDBOX_TMP or any(
                name == system or name.startswith(system + "/") for system in _SYSTEM_DIRS
            )
            if not made_already:
                made += ["--perms", "0755", "--dir", name]
        tmp = ["--perms", "1777", "--size", str(self.tmp_bytes), "--tmpfs", SANDBOX_TMP]
        return ["--proc", "/proc", "--dev", "/dev", *tmp, *made, *binds]


def _python_paths() -> tuple[Path, ...]:
    """The directories this Python and qruntime are loaded from, outermost only."""
    candidates = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
        Path(qruntime.__file__).parent,  # an editable install keeps it outside site-packages
    }
    # Not sys.path[0]: the directory of whatever script started the server.
    candidates.update(Path(entry) for entry in sys.path[1:] if entry and Path(entry).is_dir())
    resolved = {path.resolve() for path in candidates if path.exists()}
    # Nothing over the sandbox's own /tmp, /proc or /dev; a checkout under /tmp is bound
    # inside its /tmp, read-only.
    resolved -= {
        path
        for path in resolved
        if Path(SANDBOX_TMP).is_relative_to(path)
        or any(path.is_relative_to(system) for system in ("/proc", "/dev"))
    }
    return tuple(
        sorted(
            path
            for path in resolved
            if not any(path != other and path.is_relative_to(other) for other in resolved)
        )
    )


def _unprivileged_user() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(_UNPRIVILEGED_USER)
    except KeyError:
        return (65534, 65534)
    return (entry.pw_uid, entry.pw_gid)
