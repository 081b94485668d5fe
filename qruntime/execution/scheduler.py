"""``Scheduler``: which queued job runs next, and the bookkeeping of each run.

Fair share across instances: of the instances with a job that can start, the one whose recent run
time divided by its fair-share weight is least goes first; inside an instance, jobs start in the
order they were submitted. A device emulator runs one job at a time, as a device does; all jobs
together use at most as many workers as the pool has.

The store is the truth: a job becomes RUNNING in the store before a worker gets it, and its final
status is stored before subscribers hear that it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from starlette.concurrency import run_in_threadpool

from qruntime.backends import BackendCatalogue
from qruntime.errors import QRuntimeError
from qruntime.execution.events import JobEvents
from qruntime.execution.limits import max_execution_time
from qruntime.execution.messages import (
    InterimResult,
    JobRequest,
    LogOutput,
    ProgramRef,
    WorkerEvent,
)
from qruntime.execution.outcome import JobOutcome
from qruntime.status import JobStatus
from qruntime.store import Store
from qruntime.store.errors import InvalidTransition, LimitExceeded, NotFound
from qruntime.store.records import Instance, Job, Plan, Program

logger = logging.getLogger(__name__)

FAIR_SHARE_WINDOW = datetime.timedelta(hours=1)
"""How far back an instance's run time counts against it."""
QUEUE_POLL_SECONDS = 1.0
"""How often the queue is looked at when nothing wakes the scheduler."""


class Pool(Protocol):
    """The executor as the scheduler uses it (``WorkerPool``, or a Ray pool)."""

    size: int

    async def run(
        self,
        request: JobRequest,
        on_event: Callable[[WorkerEvent], Any],
        *,
        max_execution_time: float,
    ) -> JobOutcome: ...

    async def cancel(self, job_id: str) -> bool: ...


@dataclass
class _Running:
    job: Job
    simulator: bool
    task: asyncio.Task[None] | None = None


class Scheduler:
    """Starts queued jobs on the pool, fairly, and records how each ends."""

    def __init__(
        self,
        store: Store,
        pool: Pool,
        catalogue: BackendCatalogue,
        events: JobEvents,
    ) -> None:
        self._store = store
        self._pool = pool
        self._catalogue = catalogue
        self._events = events
        self._running: dict[str, _Running] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> list[Job]:
        """Fail jobs a previous server left RUNNING, then start scheduling. Returns those jobs."""
        recovered = await run_in_threadpool(self._store.recover_after_restart)
        for job in recovered:
            logger.warning("job %s: %s", job.id, job.reason)
        self._loop_task = asyncio.create_task(self._schedule_forever(), name="qruntime-scheduler")
        self._wake.set()
        return recovered

    async def close(self) -> None:
        """Stop scheduling. Jobs still running stay RUNNING; the next start fails them."""
        self._closing = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        tasks = [r.task for r in self._running.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def running_count(self) -> int:
        return len(self._running)

    def job_queued(self, job_id: str) -> None:
        """A job was stored as QUEUED: look at the queue again."""
        self._wake.set()

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job: a queued one at once, a running one through the pool.

        Returns ``False`` if the job had already finished.
        """
        try:
            await run_in_threadpool(
                self._store.transition,
                job_id,
                JobStatus.CANCELLED,
                expected_from=JobStatus.QUEUED,
            )
        except InvalidTransition:
            pass  # not queued (any more): running, or finished
        else:
            self._events.job_ended(job_id)
            return True
        if job_id in self._running:
            return await self._pool.cancel(job_id)
        job = await run_in_threadpool(self._store.get_job, job_id)
        return not job.status.is_terminal()

    async def _schedule_forever(self) -> None:
        while not self._closing:
            # Besides being woken, look at the queue now and then: jobs another API server put
            # in a shared database, or a look that failed, are not left waiting.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=QUEUE_POLL_SECONDS)
            self._wake.clear()
            try:
                await self._start_what_can_start()
            except Exception:  # the loop must survive a database hiccup; the next wake retries
                logger.exception("scheduling failed")

    async def _start_what_can_start(self) -> None:
        free = self._pool.size - len(self._running)
        if free <= 0:
            return
        queued = await run_in_threadpool(self._store.queued_jobs)
        busy_devices = {r.job.backend for r in self._running.values() if not r.simulator}
        startable = [job for job in queued if self._may_start(job, busy_devices)]
        if not startable:
            return
        usage = await self._weighted_usage({job.instance_id for job in startable})
        while free > 0 and startable:
            job = min(startable, key=lambda j: (usage[j.instance_id], j.created, j.id))
            startable.remove(job)
            simulator = self._is_simulator(job.backend)
            if not simulator:
                busy_devices.add(job.backend)
                startable = [j for j in startable if j.backend != job.backend]
            if await self._mark_running(job, simulator):
                free -= 1
                # A started job counts as used share, so the next pick spreads across instances.
                usage[job.instance_id] += 1e-6

    def _may_start(self, job: Job, busy_devices: set[str]) -> bool:
        return job.backend not in busy_devices or self._is_simulator(job.backend)

    def _is_simulator(self, backend: str) -> bool:
        try:
            return self._catalogue.info(backend).simulator
        except QRuntimeError:
            return True  # an unknown backend fails in the worker with a clear message

    async def _weighted_usage(self, instance_ids: set[int]) -> dict[int, float]:
        since = datetime.datetime.now(datetime.UTC) - FAIR_SHARE_WINDOW
        seconds = await run_in_threadpool(self._store.runtime_since, instance_ids, since)
        instances = await run_in_threadpool(lambda: [self._store.instance(i) for i in instance_ids])
        return {i.id: seconds.get(i.id, 0.0) / max(i.weight, 1e-9) for i in instances}

    async def _mark_running(self, job: Job, simulator: bool) -> bool:
        try:
            running = await run_in_threadpool(
                self._store.transition, job.id, JobStatus.RUNNING, expected_from=JobStatus.QUEUED
            )
        except (InvalidTransition, NotFound):
            return False  # cancelled or deleted while we looked
        entry = _Running(running, simulator)
        self._running[job.id] = entry
        entry.task = asyncio.create_task(self._run(entry), name=f"job-{job.id}")
        return True

    async def _run(self, entry: _Running) -> None:
        job = entry.job
        try:
            outcome = await self._execute(job, entry.simulator)
            await self._finish(job.id, outcome)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("job %s: the runtime failed", job.id)
            await self._finish(
                job.id,
                JobOutcome(job.id, JobStatus.FAILED, error=f"the runtime failed to run it: {exc}"),
            )
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    async def _execute(self, job: Job, simulator: bool) -> JobOutcome:
        program = await run_in_threadpool(self._store.get_program, job.program_id)
        request = JobRequest(
            job_id=job.id, program=_program_ref(program), params=job.params, backend=job.backend
        )
        # Submission stores the effective limit; only a job stored some other way lacks one.
        limit = job.max_execution_time
        if limit is None:
            instance = await run_in_threadpool(self._store.instance, job.instance_id)
            limit = _max_execution_time(program, instance, simulator)

        async def on_event(event: WorkerEvent) -> None:
            if isinstance(event, InterimResult):
                try:
                    seq = await run_in_threadpool(
                        self._store.add_interim_result, job.id, event.payload
                    )
                except LimitExceeded as exc:
                    await run_in_threadpool(self._store.append_log, job.id, f"{exc}\n")
                    return
                self._events.interim_result(job.id, seq, event.payload)
            elif isinstance(event, LogOutput):
                await run_in_threadpool(self._store.append_log, job.id, event.text)

        return await self._pool.run(request, on_event, max_execution_time=limit)

    async def _finish(self, job_id: str, outcome: JobOutcome) -> None:
        error = outcome.error
        if outcome.traceback:
            error = f"{error}\n{outcome.traceback}" if error else outcome.traceback
        if outcome.status is JobStatus.CANCELLED and error is None:
            error = f"Job was cancelled ({outcome.reason})" if outcome.reason else None
        try:
            await asyncio.shield(
                run_in_threadpool(
                    self._store.transition,
                    job_id,
                    outcome.status,
                    reason=outcome.reason,
                    result=outcome.result,
                    error=error,
                )
            )
        except (InvalidTransition, NotFound) as exc:
            logger.warning("job %s: outcome %s not stored: %s", job_id, outcome.status, exc)
        self._events.job_ended(job_id)


def _program_ref(program: Program) -> ProgramRef:
    if program.is_builtin:
        return ProgramRef(program_id=program.id)
    metadata = {
        "name": program.name,
        "description": program.description,
        "max_execution_time": program.max_execution_time,
        "spec": program.spec,
    }
    return ProgramRef(program_id=program.id, source=program.source, metadata=metadata)


def _max_execution_time(program: Program, instance: Instance, simulator: bool) -> int:
    plan: Literal["open", "premium"] = "premium" if instance.plan is Plan.PREMIUM else "open"
    return max_execution_time(
        program.max_execution_time,
        plan,
        simulator,
        program.is_public or program.is_builtin,
    )
