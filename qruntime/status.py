"""A job's status, in the words of IBM's runtime API.

Statuses are stored and compared as these upper-case values; :func:`api_status` gives the mixed
case strings the service sends (``"Queued"``, ``"Cancelled - Ran too long"``), which every client
upper-cases before mapping.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Where a job is in its life: QUEUED -> RUNNING -> COMPLETED | FAILED | CANCELLED."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    def is_terminal(self) -> bool:
        """Whether the job is finished; a finished job never changes again."""
        return self in _TERMINAL

    def can_become(self, other: JobStatus) -> bool:
        """Whether a job in this status may move to ``other``."""
        return other in _NEXT[self]


JOB_STATUS_HEADER = "X-Job-Status"
"""qruntime's answer to ``GET .../results`` carries the job's status (a :class:`JobStatus`
value) in this header too, so that a client finding the job finished needs no second request.
IBM's clients ignore it."""

FINAL_ONLY_QUERY = "interim=false"
"""The query a qruntime client puts on a job's WebSocket URL when it waits for the final result
only: the service then sends no interim results on that socket. IBM's clients never send it."""

RAN_TOO_LONG = "Ran too long"
"""The reason of a job cancelled because it passed its max execution time."""

_TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
_NEXT: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset(_TERMINAL),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def api_status(status: JobStatus, reason: str | None = None) -> str:
    """The status string of IBM's job JSON: ``"Completed"``, ``"Cancelled - Ran too long"``."""
    text = status.value.capitalize()
    if status is JobStatus.CANCELLED and reason == RAN_TOO_LONG:
        return f"{text} - {RAN_TOO_LONG}"
    return text
