"""Jobs: creation, lookup and listing, the status transitions, recovery, and usage.

The store owns the transition rule (:meth:`JobStatus.can_become`). A transition reads the job's
status under a row lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already excludes other writers) and then updates the row only where the status is still the
one read, so of two writers racing on one job exactly one wins and the other gets
:class:`InvalidTransition`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from qruntime.errors import InputError
from qruntime.status import JobStatus
from qruntime.store._base import StoreBase, aware, random_id, rowcount
from qruntime.store.errors import InvalidTransition, LimitExceeded, NotFound
from qruntime.store.models import InstanceRow, JobRow, JobTagRow, UserRow
from qruntime.store.records import Job, JobResult, QueuedJob

JOB_ID_LENGTH = 20
RESTART_REASON = "server restarted while the job was running"
_MAX_TAG_LENGTH = 200

_PENDING = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_FINISHED = tuple(status.value for status in JobStatus if status.is_terminal())


_JOBS = cast(Table, JobRow.__table__)
_JOB_TAGS = cast(Table, JobTagRow.__table__)
# One constant statement: the SET clause comes from the parameters, so SQLAlchemy compiles it
# once per set of columns instead of building a statement for every transition.
_UPDATE_JOB = update(_JOBS).where(
    _JOBS.c.id == bindparam("job_id"), _JOBS.c.status == bindparam("current_status")
)
_JOB_COLUMNS = tuple(
    column for column in JobRow.__table__.c if column.name not in ("result", "error")
)


def _job_query() -> Select[Any]:
    # A Core query (no ORM objects: a job is read on every request); results can be large, so
    # a job record leaves them out (see Store.job_result).
    return select(*_JOB_COLUMNS, InstanceRow.hub, InstanceRow.group, InstanceRow.project).join(
        InstanceRow, InstanceRow.id == JobRow.instance_id
    )


def _job(row: Row[Any]) -> Job:
    return Job(
        id=row.id,
        program_id=row.program_id,
        instance_id=row.instance_id,
        hub=row.hub,
        group=row.group,
        project=row.project,
        backend=row.backend,
        owner_id=row.owner_id,
        params=row.params,
        status=JobStatus(row.status),
        reason=row.reason,
        created=row.created,
        started=row.started,
        finished=row.finished,
        log_level=row.log_level,
        tags=tuple(row.tags),
        session_id=row.session_id,
        max_execution_time=row.max_execution_time,
    )


def _load_jobs(session: Session, query: Select[Any]) -> list[Job]:
    return [_job(row) for row in session.execute(query)]


def _load_job(session: Session, job_id: str) -> Job:
    jobs = _load_jobs(session, _job_query().where(JobRow.id == job_id))
    if not jobs:
        raise NotFound(f"no job with id {job_id!r}")
    return jobs[0]


def _unique_tags(tags: Iterable[str]) -> list[str]:
    unique: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag or len(tag) > _MAX_TAG_LENGTH:
            raise InputError(
                f"a job tag must be a string of 1 to {_MAX_TAG_LENGTH} characters, not {tag!r}",
                field="tags",
            )
        if tag not in unique:
            unique.append(tag)
    return unique


def read_job_result(session: Session, job_id: str) -> JobResult:
    """:meth:`Jobs.job_result` inside a read the caller holds."""
    jobs = _JOBS.c
    row = session.execute(
        select(
            jobs.status, jobs.reason, jobs.result, jobs.error, jobs.owner_id, jobs.instance_id
        ).where(jobs.id == job_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no job with id {job_id!r}")
    return JobResult(
        job_id,
        JobStatus(row.status),
        row.reason,
        row.result,
        row.error,
        row.owner_id,
        row.instance_id,
    )


class Jobs(StoreBase):
    """Job records and their lifecycle."""

    def create_job(
        self,
        *,
        program_id: str,
        instance_id: int,
        backend: str,
        owner_id: int,
        params: str,
        log_level: str | None = None,
        tags: Sequence[str] = (),
        session_id: str | None = None,
        start_session: bool = False,
        max_execution_time: int | None = None,
    ) -> Job:
        """Store a new job, QUEUED. ``params`` is the JSON text as the client sent it.

        ``start_session`` makes the job the first of a session: its id becomes the session id.
        Raise :class:`LimitExceeded` if the instance already has ``max_queued`` jobs queued.
        """
        unique_tags = _unique_tags(tags)
        job_id = random_id(JOB_ID_LENGTH)
        if start_session and session_id is None:
            session_id = job_id
        with self._db.write() as session:
            now = self._now()  # inside the write turn, so creation times follow commit order
            # Locking the instance row serialises job creation per instance, which is what
            # keeps the max_queued check and the insert together.
            instance = session.execute(
                select(
                    InstanceRow.hub, InstanceRow.group, InstanceRow.project, InstanceRow.max_queued
                )
                .where(InstanceRow.id == instance_id)
                .with_for_update()
            ).one_or_none()
            if instance is None:
                raise NotFound(f"no instance with id {instance_id}")
            if session.scalar(select(exists().where(UserRow.id == owner_id))) is not True:
                raise NotFound(f"no user with id {owner_id}")
            if instance.max_queued is not None:
                queued = session.scalar(
                    select(func.count())
                    .select_from(JobRow)
                    .where(
                        JobRow.instance_id == instance_id,
                        JobRow.status == JobStatus.QUEUED.value,
                    )
                )
                if (queued or 0) >= instance.max_queued:
                    raise LimitExceeded(
                        f"instance {instance.hub}/{instance.group}/{instance.project} already "
                        f"has {queued} jobs queued, its limit; submit again when some have "
                        "started, or ask an operator to raise max_queued"
                    )
            job = Job(
                id=job_id,
                program_id=program_id,
                instance_id=instance_id,
                hub=instance.hub,
                group=instance.group,
                project=instance.project,
                backend=backend,
                owner_id=owner_id,
                params=params,
                status=JobStatus.QUEUED,
                reason=None,
                created=now,
                started=None,
                finished=None,
                log_level=log_level,
                tags=tuple(unique_tags),
                session_id=session_id,
                max_execution_time=max_execution_time,
            )
            # The table's constant INSERT with the row as parameters: SQLAlchemy compiles it
            # once, where values() in the statement would cost a new cache key on every job.
            session.execute(
                insert(_JOBS),
                {
                    "id": job_id,
                    "program_id": program_id,
                    "instance_id": instance_id,
                    "backend": backend,
                    "owner_id": owner_id,
                    "params": params,
                    "status": JobStatus.QUEUED.value,
                    "reason": None,
                    "created": now,
                    "log_level": log_level,
                    "tags": unique_tags,
                    "session_id": session_id,
                    "max_execution_time": max_execution_time,
                    "interim_count": 0,
                    "log_chunks": 0,
                    "log_bytes": 0,
                    "log_truncated": False,
                },
            )
            if unique_tags:
                session.execute(
                    insert(_JOB_TAGS),
                    [{"job_id": job_id, "tag": tag} for tag in unique_tags],
                )
            return job

    def get_job(self, job_id: str) -> Job:
        """The job of that id; :class:`NotFound` if there is none."""
        with self._db.read() as session:
            return _load_job(session, job_id)

    def job_result(self, job_id: str) -> JobResult:
        """The job's status with its final result or error text (None while it runs)."""
        with self._db.read() as session:
            return read_job_result(session, job_id)

    def list_jobs(
        self,
        *,
        instance_ids: Collection[int] | None = None,
        owner_id: int | None = None,
        pending: bool | None = None,
        program_id: str | None = None,
        backend: str | None = None,
        tags: Sequence[str] | None = None,
        session_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        descending: bool = True,
    ) -> tuple[list[Job], int]:
        """A page of jobs matching every filter given, newest first unless ``descending`` is
        False, and the exact number of matching jobs regardless of ``limit`` and ``offset``.

        ``instance_ids`` keeps jobs of those instances, ``owner_id`` jobs of that user (both
        given: both apply). ``pending`` True keeps QUEUED and RUNNING jobs, False the finished
        ones. ``tags`` keeps jobs that carry all of them. ``created_after`` and
        ``created_before`` are exclusive bounds.
        """
        conditions: list[ColumnElement[bool]] = []
        if instance_ids is not None:
            conditions.append(JobRow.instance_id.in_(list(instance_ids)))
        if owner_id is not None:
            conditions.append(JobRow.owner_id == owner_id)
        if pending is not None:
            conditions.append(JobRow.status.in_(_PENDING if pending else _FINISHED))
        if program_id is not None:
            conditions.append(JobRow.program_id == program_id)
        if backend is not None:
            conditions.append(JobRow.backend == backend)
        for tag in tags or ():
            conditions.append(exists().where(JobTagRow.job_id == JobRow.id, JobTagRow.tag == tag))
        if session_id is not None:
            conditions.append(JobRow.session_id == session_id)
        if created_after is not None:
            conditions.append(JobRow.created > aware(created_after, "created_after"))
        if created_before is not None:
            conditions.append(JobRow.created < aware(created_before, "created_before"))
        order = (
            (JobRow.created.desc(), JobRow.id.desc()) if descending else (JobRow.created, JobRow.id)
        )
        with self._db.read() as session:
            total = session.scalar(select(func.count()).select_from(JobRow).where(*conditions))
            page = _job_query().where(*conditions).order_by(*order).offset(offset).limit(limit)
            return _load_jobs(session, page), int(total or 0)

    def transition(
        self,
        job_id: str,
        to_status: JobStatus,
        *,
        reason: str | None = None,
        result: str | None = None,
        error: str | None = None,
        expected_from: JobStatus | None = None,
    ) -> Job:
        """Move a job to ``to_status`` and return it as it now is.

        In one transaction: the status, the reason, ``started`` (for RUNNING) or ``finished``
        (for a final status), and the result or error text where given. Raise
        :class:`InvalidTransition` if the job is not in ``expected_from`` (when given) or its
        status cannot become ``to_status`` — a finished job never changes again.
        """
        to_status = JobStatus(to_status)
        now = self._now()
        with self._db.write() as session:
            status = session.scalar(
                select(JobRow.status).where(JobRow.id == job_id).with_for_update()
            )
            if status is None:
                raise NotFound(f"no job with id {job_id!r}")
            current = JobStatus(status)
            if expected_from is not None and current is not expected_from:
                raise InvalidTransition(
                    job_id, current, to_status, f"it was expected to be {expected_from.value}"
                )
            if not current.can_become(to_status):
                why = "a finished job never changes" if current.is_terminal() else "not allowed"
                raise InvalidTransition(job_id, current, to_status, why)
            values: dict[str, Any] = {"status": to_status.value, "reason": reason}
            if to_status is JobStatus.RUNNING:
                values["started"] = now
            if to_status.is_terminal():
                values["finished"] = now
            if result is not None:
                values["result"] = result
            if error is not None:
                values["error"] = error
            changed = session.execute(
                _UPDATE_JOB, {"job_id": job_id, "current_status": current.value, **values}
            )
            if rowcount(changed) != 1:
                # Only reachable if something bypassed the row lock; refuse rather than guess.
                raise InvalidTransition(job_id, current, to_status, "another writer changed it")
            return _load_job(session, job_id)

    def queued_jobs(self, limit: int | None = None) -> list[Job]:
        """QUEUED jobs in the order they were created (for the scheduler)."""
        return self._jobs_in(JobStatus.QUEUED, limit)

    def queue(self) -> list[QueuedJob]:
        """The QUEUED jobs, oldest first, without their inputs: what a scheduler chooses from."""
        with self._db.read() as session:
            rows = session.execute(
                select(
                    JobRow.id, JobRow.instance_id, JobRow.backend, JobRow.created, JobRow.session_id
                )
                .where(JobRow.status == JobStatus.QUEUED.value)
                .order_by(JobRow.created, JobRow.id)
            )
            return [QueuedJob(*row) for row in rows]

    def running_jobs(self) -> list[Job]:
        """RUNNING jobs in the order they were created."""
        return self._jobs_in(JobStatus.RUNNING, None)

    def _jobs_in(self, status: JobStatus, limit: int | None) -> list[Job]:
        with self._db.read() as session:
            query = (
                _job_query()
                .where(JobRow.status == status.value)
                .order_by(JobRow.created, JobRow.id)
                .limit(limit)
            )
            return _load_jobs(session, query)

    def recover_after_restart(self) -> list[Job]:
        """Fail every RUNNING job: nothing runs any more after a restart. QUEUED jobs stay.

        Return the jobs changed. With several servers over one PostgreSQL database, call this
        only when none of them is running jobs (at a whole-service start).
        """
        now = self._now()
        with self._db.write() as session:
            running = session.scalars(
                select(JobRow.id)
                .where(JobRow.status == JobStatus.RUNNING.value)
                .order_by(JobRow.created, JobRow.id)
                .with_for_update()
            ).all()
            if not running:
                return []
            session.execute(
                update(JobRow)
                .where(JobRow.id.in_(running), JobRow.status == JobStatus.RUNNING.value)
                .values(
                    status=JobStatus.FAILED.value,
                    reason=RESTART_REASON,
                    error=RESTART_REASON,
                    finished=now,
                )
                .execution_options(synchronize_session=False)
            )
            query = _job_query().where(JobRow.id.in_(running)).order_by(JobRow.created, JobRow.id)
            return _load_jobs(session, query)

    def delete_job(self, job_id: str) -> None:
        """Delete a job with its interim results and log."""
        with self._db.write() as session:
            deleted = session.execute(
                delete(JobRow)
                .where(JobRow.id == job_id)
                .execution_options(synchronize_session=False)
            )
            if rowcount(deleted) == 0:
                raise NotFound(f"no job with id {job_id!r}")

    def runtime_since(
        self,
        instance_ids: Collection[int],
        since: datetime,
        until: datetime | None = None,
    ) -> dict[int, float]:
        """Seconds of job run time per instance between ``since`` and ``until`` (default now),
        counting finished jobs and running ones that overlap the window (for fair share)."""
        since = aware(since, "since")
        end_of_window = self._now() if until is None else aware(until, "until")
        totals = dict.fromkeys(instance_ids, 0.0)
        if not totals:
            return totals
        with self._db.read() as session:
            rows = session.execute(
                select(JobRow.instance_id, JobRow.started, JobRow.finished).where(
                    JobRow.instance_id.in_(list(totals)),
                    JobRow.started.is_not(None),
                    JobRow.started < end_of_window,
                    (JobRow.finished.is_(None)) | (JobRow.finished > since),
                )
            )
            for instance_id, started, finished in rows:
                assert started is not None  # filtered above
                start = max(started, since)
                end = min(finished or end_of_window, end_of_window)
                if end > start:
                    totals[instance_id] += (end - start).total_seconds()
        return totals
