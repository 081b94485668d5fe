"""Running jobs: warm worker processes, the messages they exchange with the server, and limits.

The server's scheduler hands a :class:`JobRequest` to a :class:`WorkerPool` and gets a
:class:`JobOutcome` back; on the way, each interim result and each piece of log text reaches its
``on_event`` callback. Worker processes never see the server's credentials and send JSON only,
never pickles (see :mod:`qruntime.execution.messages`).
"""

from qruntime.execution.messages import (
    InterimResult,
    JobLimits,
    JobRequest,
    LogOutput,
    ProgramRef,
    WorkerEvent,
)
from qruntime.execution.outcome import OUT_OF_MEMORY, JobOutcome
from qruntime.execution.pool import EventCallback, PoolClosedError, WorkerPool
from qruntime.execution.process import WorkerStartError

__all__ = [
    "OUT_OF_MEMORY",
    "EventCallback",
    "InterimResult",
    "JobLimits",
    "JobOutcome",
    "JobRequest",
    "LogOutput",
    "PoolClosedError",
    "ProgramRef",
    "WorkerEvent",
    "WorkerPool",
    "WorkerStartError",
]
