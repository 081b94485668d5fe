"""``Scheduler``: which queued job runs next, and the bookkeeping of each run.

Fair share across instances: of the instances with a job that can start, the one whose recent run
time divided by its fair-share weight is least goes first; inside an instance, jobs start in the
order they were submitted, and no more run at once than the instance's ``max_running``. A device
emulator runs one job at a time, as a device does; all jobs together use at most as many workers
as the pool has.

A session (qiskit-ibm-runtime's ``Session``: a first job with ``start_session``, later ones with
its ``session_id``) keeps the device emulator its jobs run on: between them, no other job starts
there, until the session is closed or has had no job queued or running for
``session_idle_seconds``.

The store is the truth: a job becomes RUNNING in the store before a worker gets it, and its final
status is stored before subscribers hear that it ended. Between looks at the store's queue (every
:data:`QUEUE_POLL_SECONDS`, for jobs another API server stored), jobs submitted here are handed in
directly, and the instances' recent run time is reused for as long; a job that was cancelled or
deleted meanwhile is simply not started, because it starts only if it is still QUEUED.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from qruntime.backends import BackendCatalogue
from qruntime.errors import QRuntimeError
from qruntime.execution.events import JobEvents
from qruntime.execution.interim import InterimWriter
from qruntime.execution.limits import max_execution_time
from qruntime.execution.messages import (
    InterimResult,
    JobLimits,
    JobRequest,
    LogOutput,
    ProgramRef,
    WorkerEvent,
)
from qruntime.execution.outcome import JobOutcome
from qruntime.offload import offload
from qruntime.status import JobStatus
from qruntime.store import Store
from qruntime.store.errors import InvalidTransition, NotFound
from qruntime.store.records import Instance, Job, Plan, Program, QueuedJob

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
        *,
        session_idle_seconds: float = 300.0,
    ) -> None:
        self._store = store
        self._session_idle_seconds = session_idle_seconds
        # device -> (the session holding it, when it last had a job running or finishing)
        self._held: dict[str, tuple[str, float]] = {}
        self._closed_sessions: set[str] = set()
        self._max_running: dict[int, int | None] = {}  # instance -> its cap, read with the queue
        self._pool = pool
        self._catalogue = catalogue
        self._events = events
        self._running: dict[str, _Running] = {}
        self._queue: dict[int, dict[str, QueuedJob]] = {}  # instance -> its jobs, FIFO
        self._simulators: dict[str, bool] = {}
        self._handed_in: set[str] = set()
        self._queue_read_at = -math.inf
        self._usage: dict[int, float] = {}
        self._usage_read_at = -math.inf
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> list[Job]:
        """Fail jobs a previous server left RUNNING, then start scheduling. Returns those jobs."""
        recovered = await offload(self._store.recover_after_restart)
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

    def job_queued(self, job: Job) -> None:
        """A job was stored as QUEUED: consider starting it."""
        queued = QueuedJob(job.id, job.instance_id, job.backend, job.created, job.session_id)
        self._queue.setdefault(job.instance_id, {})[job.id] = queued
        self._handed_in.add(job.id)
        self._wake.set()

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job: a queued one at once, a running one through the pool.

        Returns ``False`` if the job had already finished.
        """
        try:
            await offload(
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
        job = await offload(self._store.get_job, job_id)
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
        if time.monotonic() - self._queue_read_at >= QUEUE_POLL_SECONDS:
            await self._read_queue()
        busy_devices = {r.job.backend for r in self._running.values() if not r.simulator}
        self._release_idle_sessions()
        usage: dict[int, float] | None = None
        while free > 0:
            # Each instance's oldest job that can start; the instance with least use goes first.
            firsts = [
                first
                for instance_id, jobs in self._queue.items()
                if self._below_max_running(instance_id)
                and (first := self._first_startable(jobs, busy_devices)) is not None
            ]
            if not firsts:
                return
            if usage is None:
                usage = await self._weighted_usage({job.instance_id for job in firsts})
            job = min(firsts, key=lambda j: (usage.get(j.instance_id, 0.0), j.created, j.id))
            self._dequeue(job)
            simulator = self._is_simulator(job.backend)
            if not simulator:
                busy_devices.add(job.backend)
            if await self._mark_running(job, simulator):
                free -= 1
                # A started job counts as used share, so the next pick spreads across instances.
                usage[job.instance_id] = usage.get(job.instance_id, 0.0) + 1e-6
                self._usage[job.instance_id] = usage[job.instance_id]

    def _first_startable(
        self, jobs: dict[str, QueuedJob], busy_devices: set[str]
    ) -> QueuedJob | None:
        return next((job for job in jobs.values() if self._may_start(job, busy_devices)), None)

    def _below_max_running(self, instance_id: int) -> bool:
        """Whether the instance may start another job under its ``max_running`` (read with
        the queue, so a change takes effect within a poll interval)."""
        limit = self._max_running.get(instance_id)
        if limit is None:
            return True
        running = sum(1 for r in self._running.values() if r.job.instance_id == instance_id)
        return running < limit

    def _dequeue(self, job: QueuedJob) -> None:
        jobs = self._queue.get(job.instance_id, {})
        jobs.pop(job.id, None)
        if not jobs:
            self._queue.pop(job.instance_id, None)

    async def _read_queue(self) -> None:
        """Take the store's queue as the truth, keeping jobs handed in while it was read."""
        self._handed_in.clear()
        stored, instances = await offload(
            lambda: (self._store.queue(), self._store.list_instances())
        )
        self._max_running = {instance.id: instance.max_running for instance in instances}
        handed_in = [
            job
            for jobs in self._queue.values()
            for job in jobs.values()
            if job.id in self._handed_in
        ]
        queue: dict[int, dict[str, QueuedJob]] = {}
        for job in stored:
            queue.setdefault(job.instance_id, {})[job.id] = job
        for job in handed_in:
            queue.setdefault(job.instance_id, {}).setdefault(job.id, job)
        self._queue = queue
        self._queue_read_at = time.monotonic()

    def _may_start(self, job: QueuedJob, busy_devices: set[str]) -> bool:
        if self._is_simulator(job.backend):
            return True
        held = self._held.get(job.backend)
        if held is not None and held[0] != job.session_id:
            return False  # another session's device
        return job.backend not in busy_devices

    def close_session(self, session_id: str) -> None:
        """The session's device is free for other jobs again (its queued jobs still run)."""
        self._closed_sessions.add(session_id)
        for device, (holder, _) in list(self._held.items()):
            if holder == session_id:
                del self._held[device]
        self._wake.set()

    def _hold_for_session(self, job: Job) -> None:
        session = job.session_id
        if session and session not in self._closed_sessions and not self._is_simulator(job.backend):
            self._held[job.backend] = (session, time.monotonic())

    def _release_idle_sessions(self) -> None:
        if not self._held:
            return  # the common case: nothing to look through the queue for
        now = time.monotonic()
        active = {r.job.session_id for r in self._running.values()}
        active |= {job.session_id for jobs in self._queue.values() for job in jobs.values()}
        for device, (holder, since) in list(self._held.items()):
            if holder in active:
                self._held[device] = (holder, now)
            elif now - since >= self._session_idle_seconds:
                del self._held[device]

    def _is_simulator(self, backend: str) -> bool:
        simulator = self._simulators.get(backend)
        if simulator is None:
            try:
                simulator = self._catalogue.info(backend).simulator
            except QRuntimeError:
                return True  # an unknown backend fails in the worker with a clear message
            self._simulators[backend] = simulator
        return simulator

    async def _weighted_usage(self, instance_ids: set[int]) -> dict[int, float]:
        """Each instance's recent run time over its weight (read at most every poll interval);
        all zero when only one instance is waiting, since then there is nothing to share."""
        if len(instance_ids) == 1:
            return dict.fromkeys(instance_ids, 0.0)
        stale = time.monotonic() - self._usage_read_at >= QUEUE_POLL_SECONDS
        if stale or not instance_ids <= self._usage.keys():
            since = datetime.datetime.now(datetime.UTC) - FAIR_SHARE_WINDOW

            def read() -> dict[int, float]:
                seconds = self._store.runtime_since(instance_ids, since)
                weights = {i: self._store.instance(i).weight for i in instance_ids}
                return {i: seconds.get(i, 0.0) / max(weights[i], 1e-9) for i in instance_ids}

            self._usage = await offload(read)
            self._usage_read_at = time.monotonic()
        return {i: self._usage[i] for i in instance_ids}

    async def _mark_running(self, job: QueuedJob, simulator: bool) -> bool:
        try:
            running = await offload(
                self._store.transition, job.id, JobStatus.RUNNING, expected_from=JobStatus.QUEUED
            )
        except (InvalidTransition, NotFound):
            return False  # cancelled or deleted while we looked
        entry = _Running(running, simulator)
        self._running[job.id] = entry
        self._hold_for_session(running)
        entry.task = asyncio.create_task(self._run(entry), name=f"job-{job.id}")
        return True

    async def _run(self, entry: _Running) -> None:
        job = entry.job
        interim = InterimWriter(self._store, self._events, job.id)
        try:
            outcome = await self._execute(job, entry.simulator, interim)
            await self._finish(job.id, outcome, interim.count)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("job %s: the runtime failed", job.id)
            await self._finish(
                job.id,
                JobOutcome(job.id, JobStatus.FAILED, error=f"the runtime failed to run it: {exc}"),
                interim.count,
            )
        finally:
            self._running.pop(job.id, None)
            self._hold_for_session(job)  # the idle time counts from the end of its last job
            self._wake.set()

    async def _execute(self, job: Job, simulator: bool, interim: InterimWriter) -> JobOutcome:
        program = await offload(self._store.get_program, job.program_id)
        request = JobRequest(
            job_id=job.id,
            program=_program_ref(program),
            params=job.params,
            backend=job.backend,
            limits=JobLimits(interim_results=self._store.max_interim_results),
        )
        # Submission stores the effective limit; only a job stored some other way lacks one.
        limit = job.max_execution_time
        if limit is None:
            instance = await offload(self._store.instance, job.instance_id)
            limit = _max_execution_time(program, instance, simulator)

        async def on_event(event: WorkerEvent) -> None:
            if isinstance(event, InterimResult):
                await interim.add(event.payload)
            elif isinstance(event, LogOutput):
                await offload(self._store.append_log, job.id, event.text)

        try:
            return await self._pool.run(request, on_event, max_execution_time=limit)
        finally:
            await interim.flush()  # all of them stored before the job's end is

    async def _finish(self, job_id: str, outcome: JobOutcome, interim_count: int) -> None:
        """Store how the job ended, then tell its streams (``interim_count``: the interim
        results stored)."""
        error = outcome.error
        if outcome.traceback:
            error = f"{error}\n{outcome.traceback}" if error else outcome.traceback
        if outcome.status is JobStatus.CANCELLED and error is None:
            error = f"Job was cancelled ({outcome.reason})" if outcome.reason else None
        try:
            await asyncio.shield(
                offload(
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
            return
        # What was stored goes with the news, so streams that have the rest need no read.
        result = outcome.result if outcome.status is JobStatus.COMPLETED else None
        self._events.job_ended(job_id, result=result, interim_count=interim_count)


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
