"""What the store hands out: frozen records, detached from any database session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from qruntime.status import JobStatus


class Plan(StrEnum):
    """An instance's plan: ``open`` runs simulators only, ``premium`` every backend and uploads."""

    OPEN = "open"
    PREMIUM = "premium"


@dataclass(frozen=True)
class User:
    """An account. A disabled user's tokens are refused."""

    id: int
    name: str
    is_admin: bool
    disabled: bool
    created: datetime


@dataclass(frozen=True)
class ApiTokenInfo:
    """An API token as an operator sees it: never the token, only its first characters."""

    id: int
    user_id: int
    prefix: str
    created: datetime
    revoked: datetime | None


@dataclass(frozen=True)
class Instance:
    """A hub/group/project: where jobs are charged, with its plan, fair-share weight and limits."""

    id: int
    hub: str
    group: str
    project: str
    plan: Plan
    weight: float
    max_queued: int | None
    max_running: int | None

    @property
    def name(self) -> str:
        """``hub/group/project``, as IBM writes an instance."""
        return f"{self.hub}/{self.group}/{self.project}"


@dataclass(frozen=True)
class Program:
    """A runtime program. ``owner_id`` is None for the built-in programs."""

    id: str
    name: str
    source: str
    spec: dict[str, Any]
    description: str
    max_execution_time: int
    owner_id: int | None
    is_public: bool
    created: datetime
    updated: datetime

    @property
    def is_builtin(self) -> bool:
        return self.owner_id is None


@dataclass(frozen=True)
class Job:
    """A job, without its result (see :meth:`Store.job_result`).

    ``params`` is the JSON text the client sent, never decoded by the store.
    """

    id: str
    program_id: str
    instance_id: int
    hub: str
    group: str
    project: str
    backend: str
    owner_id: int
    params: str
    status: JobStatus
    reason: str | None
    created: datetime
    started: datetime | None
    finished: datetime | None
    log_level: str | None
    tags: tuple[str, ...]
    session_id: str | None
    max_execution_time: int | None

    @property
    def instance_name(self) -> str:
        return f"{self.hub}/{self.group}/{self.project}"


class QueuedJob(NamedTuple):
    """What the scheduler needs of a queued job to choose the next one to run."""

    id: str
    instance_id: int
    backend: str
    created: datetime
    session_id: str | None = None


@dataclass(frozen=True)
class JobResult:
    """A job's outcome: ``result`` of a completed job, ``error`` of a failed or cancelled one."""

    job_id: str
    status: JobStatus
    reason: str | None
    result: str | None
    error: str | None
    owner_id: int
    instance_id: int


class InterimResult(NamedTuple):
    """One interim result: its sequence number (from 0) and the payload as published."""

    seq: int
    payload: str


class Access(NamedTuple):
    """What a live access token grants: its user, their instances, and when it expires."""

    user: User
    instances: list[Instance]
    expires_at: datetime


class AuditAction(StrEnum):
    """What an audit-log entry records. The administrators' actions are named after the
    ``qruntime admin`` commands that do them."""

    LOGIN = "login"
    LOGIN_FAILED = "login-failed"
    LOGOUT = "logout"
    UPLOAD_PROGRAM = "upload-program"
    UPDATE_PROGRAM = "update-program"
    DELETE_PROGRAM = "delete-program"
    MAKE_PROGRAM_PUBLIC = "make-program-public"
    MAKE_PROGRAM_PRIVATE = "make-program-private"
    CREATE_USER = "create-user"
    DISABLE_USER = "disable-user"
    ENABLE_USER = "enable-user"
    ROTATE_TOKEN = "rotate-token"
    CREATE_INSTANCE = "create-instance"
    SET_INSTANCE = "set-instance"
    GRANT = "grant"
    REVOKE = "revoke"


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log.

    ``actor`` is the user's name, ``"admin-cli"`` for the ``qruntime admin`` commands, or None
    when nobody is known (a login with an unknown token). ``target`` names what was acted on
    (a user, a program id, an instance); ``details`` never holds a token or other secret.
    ``client`` is the caller's network address, where there is one.
    """

    id: int
    time: datetime
    actor: str | None
    action: str
    target: str | None
    details: dict[str, Any]
    client: str | None
