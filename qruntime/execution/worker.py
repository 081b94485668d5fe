"""The worker process: warm up, say ``ready``, then run the jobs the pool sends, one at a time.

Started by :class:`~qruntime.execution.process.WorkerProcess` as
``python -m qruntime.execution.worker --fd N ...``. Warming up imports Qiskit, Aer, mthree, the
backend catalogue and the built-in programs, and runs one tiny circuit on each warm backend, so
that a job starts in milliseconds.

For each job it decodes and checks the inputs, builds the backend, captures the program's output
(:mod:`~qruntime.execution.capture`), calls ``main`` (:func:`~qruntime.execution.invocation.invoke`)
and sends the events, then ``result`` or ``failed``. SIGTERM ends the worker at once (its pool
sends it to cancel a job); it also exits when the pool closes its end of the socket or dies.
"""

from __future__ import annotations

import argparse
import ctypes
import faulthandler
import importlib
import linecache
import os
import resource
import signal
import socket
import sys
import threading
import time
import traceback
import types
from collections.abc import Sequence

from qruntime.backends import default_catalogue
from qruntime.errors import InputError, ProgramFailedError, QRuntimeError
from qruntime.execution import confinement
from qruntime.execution.capture import LogBuffer, captured_output
from qruntime.execution.channel import ChannelError, WorkerChannel
from qruntime.execution.invocation import check_backend_requirements, invoke
from qruntime.execution.messages import (
    InterimResult,
    JobFailed,
    JobRequest,
    JobResult,
    LogOutput,
    ProgramRef,
    Ready,
    Started,
)
from qruntime.execution.outcome import CPU_TIME_EXCEEDED, OUT_OF_MEMORY
from qruntime.program import LoadedProgram, ProgramMetadata, main_of, module_from_source
from qruntime.programs import builtin_program, builtin_programs
from qruntime.serialization import decode_inputs, encode

PROGRAM_FILENAME = "program.py"
"""The file name an uploaded program's frames show in its traceback."""

_WARM_UP_MODULES = ("qiskit", "qiskit_aer", "mthree")
_PR_SET_PDEATHSIG = 1


class Terminated(BaseException):
    """SIGTERM arrived: leave now (a ``BaseException``, so ``except Exception`` cannot keep a
    cancelled program running)."""


MAX_INTERIM_RESULT_BYTES = 1024 * 1024
"""The largest interim result a program may publish (its encoded JSON text); the store refuses
larger ones too. Big data belongs in the final result, which has no such limit."""


class InterimResultTooLarge(QRuntimeError):
    """``publish`` was given a message too large to send as one interim result."""


class JobOutput:
    """A running job's way out: its interim results and log text, as messages, in order."""

    def __init__(self, channel: WorkerChannel, request: JobRequest) -> None:
        self._channel = channel
        self._job_id = request.job_id
        self._max_interim = request.limits.interim_results
        self._seq = 0
        self._dropping = False
        self._closed = False
        self._lock = threading.Lock()
        self.log = LogBuffer(self._send_log, request.limits.log_bytes)

    def started(self) -> None:
        """Tell the pool that ``main`` is about to be called."""
        self._channel.send(Started(self._job_id).to_json())

    def interim(self, payload: str) -> None:
        """Send one interim result (``UserMessenger``'s sink).

        Raise :class:`InterimResultTooLarge` (in the program, from ``publish``) for a payload
        over :data:`MAX_INTERIM_RESULT_BYTES`; the job's log says so too, in case the program
        catches it.
        """
        size = len(payload.encode("utf-8", "surrogatepass"))
        if size > MAX_INTERIM_RESULT_BYTES:
            message = (
                f"an interim result of {size} bytes was refused: one interim result may be at "
                f"most {MAX_INTERIM_RESULT_BYTES} bytes of encoded JSON; publish smaller "
                "messages, or return large data as the final result"
            )
            self.log.note(message)
            raise InterimResultTooLarge(message)
        with self._lock:
            if self._closed:
                return  # published by a thread that outlived its job
            if self._max_interim is not None and self._seq >= self._max_interim:
                if not self._dropping:
                    self._dropping = True
                    self.log.note(f"interim results beyond the first {self._max_interim} dropped")
                return
            self.log.flush()  # what was printed before the publish comes before it
            try:
                self._channel.send(InterimResult(self._job_id, self._seq, payload).to_json())
            except ChannelError as exc:
                raise QRuntimeError(
                    f"interim result {self._seq} is too large to send: {exc}"
                ) from None
            self._seq += 1

    def close(self) -> None:
        """End the job's output: whatever a leftover thread sends later is dropped."""
        with self._lock:
            self._closed = True
        self.log.close()

    def _send_log(self, text: str) -> None:
        self._channel.send(LogOutput(self._job_id, text).to_json())


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the worker process."""
    args = _arguments().parse_args(argv)
    channel = WorkerChannel(socket.socket(fileno=args.fd), args.max_frame_bytes)
    _exit_with_parent(args.parent_pid)
    if args.memory_limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (args.memory_limit, args.memory_limit))
    faulthandler.enable()
    signal.signal(signal.SIGTERM, _terminate)
    status = 0
    try:
        seconds = warm_up(args.warm_backend)
        channel.send(Ready(os.getpid(), round(seconds, 3)).to_json())
        serve(channel, args.memory_limit)
    except Terminated:
        pass
    except Exception:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # Not a normal exit: a thread a program left running must not keep the worker alive.
    os._exit(status)


def warm_up(backends: Sequence[str]) -> float:
    """Do the slow first-time work now: imports, built-in programs, a circuit on each backend."""
    start = time.perf_counter()
    for name in _WARM_UP_MODULES:
        importlib.import_module(name)
    for program in builtin_programs().values():
        program.loaded  # noqa: B018 -- imports the program's module
    from qiskit import QuantumCircuit, transpile

    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    for name in backends:
        backend = default_catalogue().get(name)
        encode(backend.run(transpile(bell, backend), shots=1).result())
    decode_inputs("{}")
    return time.perf_counter() - start


def serve(channel: WorkerChannel, memory_limit: int | None = None) -> None:
    """Run the jobs the pool sends, one at a time, until it closes its end."""
    while (data := channel.receive()) is not None:
        run_job(JobRequest.from_json(data), channel, memory_limit)


def run_job(request: JobRequest, channel: WorkerChannel, memory_limit: int | None = None) -> None:
    """Run one job, sending its events, then its result or its failure."""
    output = JobOutput(channel, request)
    try:
        with captured_output(output.log):
            end = _perform(request, output, memory_limit)
    finally:
        output.close()
        linecache.cache.pop(PROGRAM_FILENAME, None)
    try:
        channel.send(end.to_json())
    except ChannelError as exc:
        end = JobFailed(request.job_id, f"the program's result is too large to send: {exc}")
        channel.send(end.to_json())


def _perform(
    request: JobRequest, output: JobOutput, memory_limit: int | None
) -> JobResult | JobFailed:
    job_id, program_id = request.job_id, request.program.program_id
    cpu_seconds = request.limits.cpu_seconds
    try:
        program = load_program(request.program)
        inputs = decode_inputs(request.params)
        program.metadata.validate_inputs(inputs)
        backend = default_catalogue().get(request.backend)
        check_backend_requirements(program.metadata, backend)
        output.started()
        with confinement.cpu_time_limit(cpu_seconds, final=request.limits.last_job):
            result = invoke(program, backend, inputs, output.interim)
        return JobResult(job_id, result)
    except confinement.CpuTimeExceeded:
        return JobFailed(
            job_id,
            f"program {program_id!r} ran past its CPU-time limit ({cpu_seconds:g} s)",
            reason=CPU_TIME_EXCEEDED,
        )
    except InputError as exc:
        return JobFailed(job_id, str(exc))
    except ProgramFailedError as exc:
        if isinstance(exc.__cause__, MemoryError):
            return _out_of_memory(job_id, program_id, memory_limit, exc.traceback)
        return JobFailed(job_id, str(exc), exc.traceback)
    except MemoryError:
        return _out_of_memory(job_id, program_id, memory_limit, "")
    except SystemExit as exc:
        return JobFailed(
            job_id,
            f"program {program_id!r} called sys.exit({exc.code!r}); return from main instead",
            _frames_from(exc, PROGRAM_FILENAME),
        )
    except QRuntimeError as exc:
        return JobFailed(job_id, str(exc))
    except Exception as exc:
        return JobFailed(
            job_id,
            f"program {program_id!r} failed: {type(exc).__name__}: {exc}",
            traceback.format_exc(),
        )


def load_program(ref: ProgramRef) -> LoadedProgram:
    """A built-in program (imported at warm-up), or an uploaded one built from its source."""
    if ref.source is None or ref.metadata is None:
        return builtin_program(ref.program_id).loaded
    metadata = ProgramMetadata.from_dict(ref.metadata)
    # Lets tracebacks show the lines of a program that exists only as text.
    linecache.cache[PROGRAM_FILENAME] = (
        len(ref.source),
        None,
        ref.source.splitlines(keepends=True),
        PROGRAM_FILENAME,
    )
    try:
        module = module_from_source(ref.source, name=ref.program_id, filename=PROGRAM_FILENAME)
    except InputError:
        raise
    except Exception as exc:
        raise ProgramFailedError(
            f"program {ref.program_id!r} could not be loaded: {type(exc).__name__}: {exc}",
            traceback=_frames_from(exc, PROGRAM_FILENAME),
        ) from exc
    return LoadedProgram(ref.program_id, main_of(module), metadata)


def _out_of_memory(
    job_id: str, program_id: str, memory_limit: int | None, program_traceback: str
) -> JobFailed:
    limit = f" (the limit is {memory_limit / 2**20:.0f} MiB)" if memory_limit else ""
    return JobFailed(
        job_id,
        f"program {program_id!r} ran out of memory{limit}",
        program_traceback,
        reason=OUT_OF_MEMORY,
    )


def _frames_from(exc: BaseException, filename: str) -> str:
    """``exc``'s traceback from the first frame in ``filename`` on (all of it if none is)."""
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _terminate(signum: int, frame: types.FrameType | None) -> None:
    raise Terminated


def _exit_with_parent(parent_pid: int | None) -> None:
    """Have the kernel kill this worker if the server dies (Linux), so no job runs orphaned."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the request was made


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qruntime-worker", description="A qruntime worker.")
    parser.add_argument("--fd", type=int, required=True, help="the socket to the pool")
    parser.add_argument("--parent-pid", type=int, help="exit if this process is not the parent")
    parser.add_argument("--max-frame-bytes", type=int, required=True)
    parser.add_argument("--memory-limit", type=int, help="address-space limit in bytes")
    parser.add_argument("--warm-backend", action="append", default=[], help="a backend to warm")
    return parser


if __name__ == "__main__":
    main()
