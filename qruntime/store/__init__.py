"""The store: users, instances, programs, jobs and their output, and the audit log, in
SQLite or PostgreSQL.

    store = Store.open("sqlite:////home/me/.qruntime/qruntime.db")
    job = store.create_job(program_id="hello-world", instance_id=..., backend=..., ...)
    store.transition(job.id, JobStatus.RUNNING, expected_from=JobStatus.QUEUED)

Migrations run when a store is opened. See :class:`Store` for the operations.
"""

from __future__ import annotations

from qruntime.store._base import UNSET, Clock, Unset
from qruntime.store.audit import ADMIN_CLI
from qruntime.store.database import normalize_url, sqlite_url
from qruntime.store.errors import Conflict, InvalidTransition, LimitExceeded, NotFound, StoreError
from qruntime.store.instances import OPEN_INSTANCE, parse_instance
from qruntime.store.jobs import RESTART_REASON
from qruntime.store.output import DEFAULT_LOG_CAP_BYTES
from qruntime.store.records import (
    Access,
    ApiTokenInfo,
    AuditAction,
    AuditEntry,
    Instance,
    InterimResult,
    Job,
    JobResult,
    Plan,
    Program,
    QueuedJob,
    User,
)
from qruntime.store.store import Store

__all__ = [
    "ADMIN_CLI",
    "DEFAULT_LOG_CAP_BYTES",
    "OPEN_INSTANCE",
    "RESTART_REASON",
    "UNSET",
    "Access",
    "ApiTokenInfo",
    "AuditAction",
    "AuditEntry",
    "Clock",
    "Conflict",
    "Instance",
    "InterimResult",
    "InvalidTransition",
    "Job",
    "JobResult",
    "LimitExceeded",
    "NotFound",
    "Plan",
    "Program",
    "QueuedJob",
    "Store",
    "StoreError",
    "Unset",
    "User",
    "normalize_url",
    "parse_instance",
    "sqlite_url",
]
