"""``/runtime/jobs``, ``/runtime/sessions`` and ``/runtime/logout``: submit, list, read,
cancel and delete jobs.

A user sees the jobs they submitted, through instances they still belong to; any other job
answers 404, as if it did not exist. Everyone shares ``ibm-q/open/main``, so membership alone
would show each open-plan user the inputs and results of all the others.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at run
# time, and they name ``CallerDep``, which is local to ``router``.

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from qruntime.errors import InputError
from qruntime.execution.limits import max_execution_time
from qruntime.server.body import json_body
from qruntime.server.context import ServiceContext
from qruntime.server.errors import Conflict, Forbidden, NotFound
from qruntime.server.routes.access import (
    MAX_OFFSET,
    default_instance,
    instance_named,
    job_not_found,
)
from qruntime.server.routes.auth import Authenticated, Caller
from qruntime.server.routes.blocking import blocking
from qruntime.server.routes.checks import JobChecks
from qruntime.server.routes.submission import job_request
from qruntime.server.routes.views import job_json, job_metrics_json
from qruntime.status import JOB_STATUS_HEADER, JobStatus
from qruntime.store import Store
from qruntime.store.instances import parse_instance
from qruntime.store.records import Job

MAX_PAGE = 200
"""The most jobs one page holds; clients page on with ``offset`` until ``count``."""

DEFAULT_PAGE = 10


def router(context: ServiceContext) -> APIRouter:
    """The ``/runtime/jobs`` and ``/runtime/sessions`` routes."""
    jobs = APIRouter(prefix="/runtime")
    store = context.store
    checks = JobChecks(context)
    CallerDep = Annotated[Caller, Depends(Authenticated(context.callers))]

    async def visible(job_id: str, caller: Caller) -> Job:
        return await visible_job(store, job_id, caller)

    @jobs.post("/jobs")
    async def submit(caller: CallerDep, request: Request) -> JSONResponse:
        """Run a program: 200 ``{"id", "backend"}`` once the job is stored as QUEUED; 429
        with ``Retry-After`` past the user's submission rate."""
        context.submissions.check(caller.user.id)
        wanted = job_request(await json_body(request))
        user = caller.user
        instance = (
            instance_named(caller.instances, *wanted.instance)
            if wanted.instance
            else default_instance(caller.instances)
        )
        program = await checks.program(wanted.program_id, user)
        if context.uploads_refused is not None and not program.is_builtin:
            raise Forbidden(
                f"Program {program.id!r} cannot run on this server: uploaded programs run only "
                f"in a sandbox, and there is none: {context.uploads_refused}"
            )
        backend = await checks.backend(wanted.backend, instance, program)
        await checks.inputs(program, wanted.params)
        job = await blocking(
            store.create_job,
            program_id=program.id,
            instance_id=instance.id,
            backend=backend.name,
            owner_id=user.id,
            params=wanted.params_text,
            log_level=wanted.log_level,
            tags=wanted.tags,
            session_id=wanted.session_id,
            start_session=wanted.start_session,
            max_execution_time=max_execution_time(
                program.max_execution_time,
                instance.plan.value,
                backend.simulator,
                program.is_public,
                requested=wanted.max_execution_time,
            ),
        )
        context.jobs.job_queued(job)
        return JSONResponse({"id": job.id, "backend": job.backend})

    @jobs.get("/jobs")
    async def list_jobs(
        caller: CallerDep,
        limit: Annotated[int, Query(ge=0)] = DEFAULT_PAGE,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        pending: bool | None = None,
        program: str | None = None,
        provider: str | None = None,
        backend: str | None = None,
        tags: Annotated[list[str] | None, Query()] = None,
        session_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        sort: str = "DESC",
    ) -> dict[str, Any]:
        """``{"jobs": [...], "count": exact total}``: the caller's jobs, newest first."""
        instances = caller.instances
        if provider:
            instances = (instance_named(instances, *parse_instance(provider)),)
        page, total = await blocking(
            store.list_jobs,
            instance_ids=[instance.id for instance in instances],
            owner_id=caller.user.id,
            pending=pending,
            program_id=program or None,
            backend=backend or None,
            tags=tags or None,
            session_id=session_id or None,
            created_after=utc(created_after, "created_after"),
            created_before=utc(created_before, "created_before"),
            limit=min(limit, MAX_PAGE),
            offset=offset,
            descending=sort.upper() != "ASC",
        )
        return {"jobs": [job_json(job) for job in page], "count": total}

    @jobs.get("/jobs/{job_id}")
    async def get_job(caller: CallerDep, job_id: str) -> dict[str, Any]:
        """The job, with ``status`` and ``state: {status, reason}``."""
        return job_json(await visible(job_id, caller))

    @jobs.get("/jobs/{job_id}/results")
    async def results(caller: CallerDep, job_id: str) -> Response:
        """204 while the job runs; then its result (completed) or error text (otherwise).

        The header ``X-Job-Status`` tells the job's status too (IBM's clients ignore it), so a
        client that finds the job finished needs no second request.
        """
        try:
            outcome = await blocking(store.job_result, job_id)
        except NotFound:
            raise job_not_found(job_id) from None
        check_visible(outcome.owner_id, outcome.instance_id, job_id, caller)
        status_header = {JOB_STATUS_HEADER: outcome.status.value}
        if not outcome.status.is_terminal():
            return Response(status_code=204, headers=status_header)
        if outcome.status is JobStatus.COMPLETED:
            return Response(
                outcome.result or "null", media_type="application/json", headers=status_header
            )
        text = outcome.error or outcome.reason or f"Job {job_id} was {outcome.status.lower()}."
        return PlainTextResponse(text, headers=status_header)

    @jobs.get("/jobs/{job_id}/interim_results")
    async def interim_results(caller: CallerDep, job_id: str) -> list[str]:
        """Every interim result as published (JSON text), newest first."""
        job = await visible(job_id, caller)
        published = await blocking(store.interim_results, job.id)
        return [result.payload for result in reversed(published)]

    @jobs.get("/jobs/{job_id}/logs")
    async def logs(caller: CallerDep, job_id: str) -> PlainTextResponse:
        """The job's log so far, as text."""
        job = await visible(job_id, caller)
        return PlainTextResponse(await blocking(store.job_log, job.id))

    @jobs.get("/jobs/{job_id}/metrics")
    async def metrics(caller: CallerDep, job_id: str) -> dict[str, Any]:
        """When the job was created, started and finished."""
        return job_metrics_json(await visible(job_id, caller))

    @jobs.post("/jobs/{job_id}/cancel", status_code=204)
    async def cancel(caller: CallerDep, job_id: str) -> Response:
        """Cancel a queued or running job; 409 if it has finished."""
        job = await visible(job_id, caller)
        if job.status.is_terminal():
            raise already_finished(job.id, job.status)
        if not await context.jobs.cancel(job.id):
            job = await blocking(store.get_job, job.id)
            raise already_finished(job.id, job.status)
        return Response(status_code=204)

    @jobs.delete("/jobs/{job_id}", status_code=204)
    async def delete_job(caller: CallerDep, job_id: str) -> Response:
        """Delete the job with its results; a queued or running one is cancelled first."""
        job = await visible(job_id, caller)
        if not job.status.is_terminal():
            await context.jobs.cancel(job.id)
        await blocking(store.delete_job, job.id)
        return Response(status_code=204)

    @jobs.delete("/sessions/{session_id}/close", status_code=204)
    async def close_session(caller: CallerDep, session_id: str) -> Response:
        """End a session (qiskit-ibm-runtime 0.5+): its device is free for other jobs; its jobs
        already submitted run on. Closing twice is fine; a session of someone else's is left
        alone (the clients ignore the answer, so it is 204 either way)."""
        _, owned = await blocking(
            store.list_jobs,
            owner_id=caller.user.id,
            instance_ids=[instance.id for instance in caller.instances],
            session_id=session_id,
            limit=1,
        )
        if owned:
            context.jobs.close_session(session_id)
        return Response(status_code=204)

    @jobs.post("/logout", status_code=204)
    async def clear_authorization_cache(caller: CallerDep) -> Response:
        """qiskit-ibmq-provider's ``runtime.logout()``, which asked IBM's server to forget the
        authorization it cached. The client goes on with the same access token, so it stays
        valid; nothing is cached here, so there is nothing to forget."""
        del caller
        return Response(status_code=204)

    return jobs


async def visible_job(store: Store, job_id: str, caller: Caller) -> Job:
    """The job, if the caller submitted it in one of their instances; 404 otherwise."""
    try:
        job = await blocking(store.get_job, job_id)
    except NotFound:
        raise job_not_found(job_id) from None
    check_visible(job.owner_id, job.instance_id, job_id, caller)
    return job


def check_visible(owner_id: int, instance_id: int, job_id: str, caller: Caller) -> None:
    """404 unless the caller submitted the job, in an instance they still belong to."""
    if owner_id != caller.user.id:
        raise job_not_found(job_id)
    if instance_id not in {instance.id for instance in caller.instances}:
        raise job_not_found(job_id)


def already_finished(job_id: str, status: JobStatus) -> Conflict:
    """The 409 qiskit-ibm-runtime turns into ``RuntimeInvalidStateError``."""
    return Conflict(
        f"Job {job_id} cannot be cancelled: it has already finished ({status.value.capitalize()})."
    )


def utc(moment: datetime | None, field: str) -> datetime | None:
    """A query's timestamp in UTC; one without a zone is read as UTC, as the clients mean.
    ``InputError`` names ``field`` if the time is out of range once in UTC (year 1 or 9999)."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise InputError(
            f"'{field}' is out of range once in UTC: {moment.isoformat()}", field=field
        ) from None
