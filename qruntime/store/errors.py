"""Exceptions raised by the store.

    QRuntimeError                     (qruntime.errors)
    └── StoreError                    the store refused an operation
        ├── NotFound                  no user, instance, program or job of that id
        ├── Conflict                  the operation clashes with what is stored (a taken name)
        │   └── InvalidTransition     a job cannot move from its status to the requested one
        └── LimitExceeded             an instance or job limit would be passed

Each says what was refused and why, in words a user or operator can act on.
"""

from __future__ import annotations

from qruntime.errors import QRuntimeError
from qruntime.status import JobStatus


class StoreError(QRuntimeError):
    """The store refused an operation; the message says what and why."""


class NotFound(StoreError, LookupError):
    """No user, instance, program or job of the given id."""


class Conflict(StoreError):
    """The operation clashes with what is stored, e.g. a user name that is taken."""


class InvalidTransition(Conflict):
    """A job cannot move from its current status to the requested one.

    ``current`` is the status the job had when the store looked, ``requested`` the one asked for.
    """

    def __init__(self, job_id: str, current: JobStatus, requested: JobStatus, why: str) -> None:
        super().__init__(
            f"job {job_id} is {current.value} and cannot become {requested.value}: {why}"
        )
        self.job_id = job_id
        self.current = current
        self.requested = requested


class LimitExceeded(StoreError):
    """A limit would be passed: an instance's queued jobs, or a job's interim results."""
