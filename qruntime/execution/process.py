"""``WorkerProcess``: the pool's handle on one worker process.

A worker is a fresh interpreter (``python -m qruntime.execution.worker``), not a fork: the server
runs threads (the event loop's executor, database drivers), and forking a process with threads
copies locks in whatever state they were. It talks to the pool over one end of a socket pair
passed as a file descriptor; its stdout and stderr (what escapes the per-job capture: C
extensions, a crash dump) are read here, logged, and the last lines kept for a crash report.

Each worker leads its own process group, so stopping it also stops any process its program
started, and a Ctrl-C meant for the server does not reach it before the server decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from qruntime.errors import QRuntimeError
from qruntime.execution.channel import DEFAULT_MAX_FRAME_BYTES, ChannelError, PoolChannel
from qruntime.execution.messages import (
    JobRequest,
    ProtocolError,
    Ready,
    WorkerMessage,
    parse_worker_message,
)
from qruntime.execution.sandbox import Sandbox

logger = logging.getLogger(__name__)

WORKER_MODULE = "qruntime.execution.worker"
CONFINED_WORKER_MODULE = "qruntime.execution.confined"
_TAIL_LINES = 60
_OUTPUT_CHUNK = 65536

# What a worker inherits of the server's environment. Everything else (database URLs, tokens,
# QISKIT_IBM_TOKEN, cloud credentials) stays out of reach of the programs it runs.
_INHERITED_ENV = {
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
    "CUDA_VISIBLE_DEVICES",
}
_INHERITED_ENV_PREFIXES = ("LC_", "OMP_", "OPENBLAS_", "MKL_")
# Aer's OpenMP threads otherwise spin for a while after each parallel region, taking the cores
# the server and the other workers need between a job's small circuits.
WORKER_DEFAULT_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


class WorkerStartError(QRuntimeError):
    """A worker process did not become ready; the message carries the end of its output."""


@dataclass(frozen=True)
class WorkerOptions:
    """How worker processes are started. See :class:`~qruntime.execution.pool.WorkerPool`."""

    memory_limit_bytes: int | None = None
    warm_backends: tuple[str, ...] = ("ibmq_qasm_simulator",)
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    start_timeout: float = 120.0
    env: Mapping[str, str] | None = None
    python: str = field(default_factory=lambda: sys.executable)
    sandbox: Sandbox | None = None
    threads: int | None = None
    """OpenMP threads (Aer's) per worker, unless the environment sets ``OMP_NUM_THREADS``."""

    def command(self, fd: int) -> list[str]:
        """The worker's command line, talking over file descriptor ``fd``."""
        if self.sandbox is None:
            command = [self.python, "-m", WORKER_MODULE, "--fd", str(fd)]
            command += ["--parent-pid", str(os.getpid())]  # in a sandbox, its parent is bwrap
        else:
            # It confines itself first, before its imports start any thread.
            command = [self.python, "-m", CONFINED_WORKER_MODULE]
            command += [*self.sandbox.worker_arguments(), "--", "--fd", str(fd)]
        command += ["--max-frame-bytes", str(self.max_frame_bytes)]
        if self.memory_limit_bytes is not None:
            command += ["--memory-limit", str(self.memory_limit_bytes)]
        for name in self.warm_backends:
            command += ["--warm-backend", name]
        return command if self.sandbox is None else self.sandbox.wrap(command)

    def environment(self) -> dict[str, str]:
        """The worker's environment: ``env`` if given, else the harmless part of this one's."""
        if self.env is not None:
            env = dict(self.env)
        else:
            env = WORKER_DEFAULT_ENV | {
                name: value
                for name, value in os.environ.items()
                if name in _INHERITED_ENV or name.startswith(_INHERITED_ENV_PREFIXES)
            }
        if self.threads is not None:
            env.setdefault("OMP_NUM_THREADS", str(self.threads))
        return env


class WorkerProcess:
    """A started, ready worker. Use :meth:`start`; then ``send`` jobs and ``receive`` messages."""

    def __init__(
        self, process: asyncio.subprocess.Process, channel: PoolChannel, sandboxed: bool = False
    ) -> None:
        self._process = process
        self._sandboxed = sandboxed
        self._channel = channel
        self._tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self._output = asyncio.create_task(self._read_output())
        self._stopping: asyncio.Task[int] | None = None
        self.ready: Ready | None = None

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the process ended (negative: the signal that ended it)."""
        returncode = self._process.returncode
        return None if returncode is None else self._status(returncode)

    def _status(self, returncode: int) -> int:
        # bwrap exits with 128 + N when the worker inside was killed by signal N.
        return 128 - returncode if self._sandboxed and returncode > 128 else returncode

    @classmethod
    async def start(cls, options: WorkerOptions) -> WorkerProcess:
        """Start a worker and return once it reported ready (its imports done).

        Raises:
            WorkerStartError: it exited, broke the protocol or took longer than
                ``options.start_timeout``; it is killed.
        """
        ours, theirs = socket.socketpair()
        try:
            channel = await PoolChannel.open(ours, options.max_frame_bytes)
        except BaseException:
            ours.close()
            theirs.close()
            raise
        try:
            process = await asyncio.create_subprocess_exec(
                *options.command(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=options.environment(),
                start_new_session=True,
            )
        except BaseException:
            channel.close()
            raise
        finally:
            theirs.close()
        worker = cls(process, channel, sandboxed=options.sandbox is not None)
        try:
            worker.ready = await worker._wait_ready(options.start_timeout)
        except BaseException:
            await worker.stop(grace=0)
            raise
        return worker

    async def send(self, request: JobRequest) -> None:
        """Hand the worker a job. ``ConnectionError`` if it has gone."""
        await self._channel.send(request.to_json())

    async def receive(self) -> WorkerMessage | None:
        """The next message, or ``None`` once the worker closed its end (it exited)."""
        data = await self._channel.receive()
        return None if data is None else parse_worker_message(data)

    async def stop(self, grace: float) -> int:
        """End the worker and everything it started: SIGTERM, then SIGKILL after ``grace``
        seconds. Safe to call again or concurrently; returns the exit status."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop(grace))
        return await asyncio.shield(self._stopping)

    async def exited(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to end; whether it did."""
        try:
            await asyncio.wait_for(asyncio.shield(self._process.wait()), timeout)
        except TimeoutError:
            return False
        return True

    async def wait(self) -> int:
        """Wait for the process to end, then for its output to be read; return its status."""
        returncode = await self._process.wait()
        self._signal_group(signal.SIGKILL)  # whatever the program left running
        with contextlib.suppress(TimeoutError):
            # A process the program started may hold the output pipe open after the kill.
            await asyncio.wait_for(asyncio.shield(self._output), 1.0)
        self._channel.close()
        return self._status(returncode)

    def output_tail(self) -> str:
        """The last lines the process wrote to its stdout or stderr since ``clear_output``."""
        return "".join(self._tail)

    def clear_output(self) -> None:
        self._tail.clear()

    async def _stop(self, grace: float) -> int:
        if self._process.returncode is None and grace > 0:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._process.wait(), grace)
        if self._process.returncode is None:
            self._signal_group(signal.SIGKILL)
        return await self.wait()

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    async def _read_output(self) -> None:
        stream = self._process.stdout
        assert stream is not None
        pending = b""
        while chunk := await stream.read(_OUTPUT_CHUNK):
            *lines, pending = (pending + chunk).split(b"\n")
            if len(pending) >= _OUTPUT_CHUNK:
                lines.append(pending)
                pending = b""
            for line in lines:
                self._note_output(line)
        if pending:
            self._note_output(pending)

    def _note_output(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        self._tail.append(text + "\n")
        logger.info("worker %d: %s", self._process.pid, text)

    async def _wait_ready(self, timeout: float) -> Ready:
        try:
            async with asyncio.timeout(timeout):
                first = await self.receive()
                if first is None:
                    await self._process.wait()
        except TimeoutError:
            raise WorkerStartError(self._failure(f"was not ready after {timeout:g} s")) from None
        except (ProtocolError, ChannelError) as exc:
            raise WorkerStartError(self._failure(f"broke the protocol: {exc}")) from exc
        if first is None:
            await self.wait()
            raise WorkerStartError(self._failure(f"exited with status {self.returncode}"))
        if not isinstance(first, Ready):
            raise WorkerStartError(self._failure(f"sent {first.TYPE!r} before 'ready'"))
        return first

    def _failure(self, what: str) -> str:
        tail = self.output_tail().strip()
        return f"worker process {self.pid} {what} while starting" + (
            f"; its output ends:\n{tail}" if tail else ""
        )
