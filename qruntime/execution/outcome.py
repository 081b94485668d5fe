"""``JobOutcome``: how a job run by the worker pool ended."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from qruntime.status import JobStatus

OUT_OF_MEMORY = "worker ran out of memory"
"""The reason of a job that failed because its worker hit its memory limit."""

CPU_TIME_EXCEEDED = "program ran past its CPU-time limit"
"""The reason of a job stopped by its CPU-time limit (:mod:`~qruntime.execution.confinement`)."""


@dataclass(frozen=True)
class JobOutcome:
    """The end of a job: its final ``status`` and what goes with it.

    Attributes:
        status: ``COMPLETED``, ``FAILED`` or ``CANCELLED``.
        reason: why, when not the plain case: ``RAN_TOO_LONG`` for a job past its max execution
            time, ``"worker died: killed by signal 9 (SIGKILL)"``, :data:`OUT_OF_MEMORY`, ...
        result: the final result, encoded in IBM's wire format (``COMPLETED`` only).
        error: a message for the user (``FAILED`` only).
        traceback: the program's traceback, from its ``main`` down, when there is one.
        worker_pid: the process that ran the job, if one was given it.
        start_latency: seconds from ``WorkerPool.run`` to the worker calling ``main``; ``None``
            if ``main`` was never called.
    """

    job_id: str
    status: JobStatus
    reason: str | None = None
    result: str | None = None
    error: str | None = None
    traceback: str = ""
    worker_pid: int | None = None
    start_latency: float | None = None


def describe_exit(returncode: int) -> str:
    """Why a worker process ended, for a job's reason: ``"worker died: exited with code 3"``."""
    if returncode < 0:
        try:
            name = f" ({signal.Signals(-returncode).name})"
        except ValueError:
            name = ""
        return f"worker died: killed by signal {-returncode}{name}"
    return f"worker died: exited with code {returncode}"
