"""``WorkerPool``: warm worker processes that run jobs, one job per worker at a time.

::

    pool = WorkerPool(size=2)
    await pool.start()                                   # returns once every worker is warm
    outcome = await pool.run(request, on_event, max_execution_time=60)
    await pool.cancel(request.job_id)                    # from elsewhere, while it runs
    await pool.close()

``run`` waits for an idle worker (first come, first served), sends the job and supervises it:
it races the job's end against a cancel request and the max execution time; a cancelled job's
worker is stopped (SIGTERM, then SIGKILL after ``cancel_grace``) and replaced. A worker that
dies, breaks the protocol, or ran out of memory fails its job with the reason and is replaced
by a new warm one; other jobs carry on. Events (interim results, log text) reach ``on_event``
in the order the program produced them, all before ``run`` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any

from qruntime.errors import QRuntimeError
from qruntime.execution.channel import DEFAULT_MAX_FRAME_BYTES, ChannelError
from qruntime.execution.messages import (
    InterimResult,
    JobFailed,
    JobRequest,
    JobResult,
    LogOutput,
    ProtocolError,
    Started,
    WorkerEvent,
    WorkerMessage,
)
from qruntime.execution.outcome import (
    CPU_TIME_EXCEEDED,
    OUT_OF_MEMORY,
    JobOutcome,
    describe_exit,
)
from qruntime.execution.process import WorkerOptions, WorkerProcess, WorkerStartError
from qruntime.execution.sandbox import Sandbox
from qruntime.status import RAN_TOO_LONG, JobStatus

logger = logging.getLogger(__name__)

EventCallback = Callable[[WorkerEvent], Awaitable[None] | None]
"""``on_event(event)``: called, and awaited if it returns an awaitable, for each event."""

_RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def threads_per_worker(workers: int) -> int:
    """The OpenMP threads each of ``workers`` workers gets by default: the workers share the
    cores, and more threads than that only make them wait on each other (Aer's small circuits
    gain little from threads anyway)."""
    return max(1, (os.cpu_count() or 1) // workers)


class PoolClosedError(QRuntimeError):
    """The pool was closed before the job could finish; the job did not end on its own."""


class _Job:
    """A job inside the pool, from ``run`` until its outcome."""

    def __init__(self, request: JobRequest, on_event: EventCallback | None) -> None:
        self.request = request
        self.on_event = on_event
        self.submitted = time.perf_counter()
        self.started: float | None = None
        self.next_seq = 0
        self.worker_pid: int | None = None
        self.waiting: asyncio.Future[_Worker | None] | None = None
        self.ended: asyncio.Future[JobOutcome] = asyncio.get_running_loop().create_future()
        self.stop_requested = asyncio.Event()
        self.stop_reason: str | None = None
        self.closing = False

    @property
    def job_id(self) -> str:
        return self.request.job_id

    def outcome(self, status: JobStatus, **details: Any) -> JobOutcome:
        latency = None if self.started is None else self.started - self.submitted
        return JobOutcome(
            self.job_id, status, worker_pid=self.worker_pid, start_latency=latency, **details
        )

    def end(self, outcome: JobOutcome) -> None:
        if not self.ended.done():
            self.ended.set_result(outcome)


class _Worker:
    """A worker process in the pool and the job it runs, if any."""

    def __init__(self, process: WorkerProcess) -> None:
        self.process = process
        self.job: _Job | None = None
        # Set once the pool decided to end the process: its messages no longer decide anything.
        self.stopping = False
        self.reader: asyncio.Task[None] | None = None


class WorkerPool:
    """A fixed number of warm worker processes that run jobs.

    Args:
        size: how many workers (and so jobs at once).
        memory_limit_bytes: each worker's address-space limit (``RLIMIT_AS``); a job that goes
            past it fails with the reason ``"worker ran out of memory"``. ``None``: no limit.
            A warm worker already maps about 2 GiB (threads' arenas), so allow for that.
        cancel_grace: seconds between SIGTERM and SIGKILL when a job is cancelled.
        start_timeout: seconds a worker may take to warm up.
        warm_backends: backends each worker builds and runs a circuit on while warming up.
        recycle_after_uploaded: replace a worker after it ran an uploaded program, so that one
            user's code never shares a process with the next job.
        max_message_bytes: the largest message (a result, say) a worker may send.
        env: the workers' environment; by default a part of this process's environment that
            holds no credentials (see :mod:`qruntime.execution.process`). Unless it sets
            ``OMP_NUM_THREADS``, each worker gets the cores divided by ``size``.
        sandbox: start each worker in this bubblewrap sandbox; ``None``: unconfined.
        job_cpu_seconds: the CPU time a job may use (all threads together); ``None``: its max
            execution time on every core. Past it the job fails with the reason
            ``CPU_TIME_EXCEEDED``.
        uploads_refused: why uploaded programs may not run here (say, no sandbox); their jobs
            then fail at once with this as the reason. ``None``: they run.
    """

    def __init__(
        self,
        size: int = 2,
        *,
        memory_limit_bytes: int | None = None,
        cancel_grace: float = 2.0,
        start_timeout: float = 120.0,
        warm_backends: Iterable[str] = ("ibmq_qasm_simulator",),
        recycle_after_uploaded: bool = True,
        max_message_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        env: Mapping[str, str] | None = None,
        sandbox: Sandbox | None = None,
        job_cpu_seconds: float | None = None,
        uploads_refused: str | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, not {size}")
        self.size = size
        self.job_cpu_seconds = job_cpu_seconds
        self.uploads_refused = uploads_refused
        self.cancel_grace = cancel_grace
        self.recycle_after_uploaded = recycle_after_uploaded
        self._options = WorkerOptions(
            memory_limit_bytes=memory_limit_bytes,
            warm_backends=tuple(warm_backends),
            max_frame_bytes=max_message_bytes,
            start_timeout=start_timeout,
            env=env,
            sandbox=sandbox,
            threads=threads_per_worker(size),
        )
        self._workers: set[_Worker] = set()
        self._idle: deque[_Worker] = deque()
        self._busy: set[_Worker] = set()
        self._waiters: deque[asyncio.Future[_Worker | None]] = deque()
        self._jobs: dict[str, _Job] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def idle_count(self) -> int:
        """Workers that are warm and waiting for a job."""
        return len(self._idle)

    @property
    def busy_count(self) -> int:
        """Workers running a job."""
        return len(self._busy)

    @property
    def worker_pids(self) -> list[int]:
        """The process ids of the live workers, idle and busy."""
        return sorted(worker.process.pid for worker in self._workers)

    async def start(self) -> None:
        """Start ``size`` workers; return when all are warm.

        Raises:
            WorkerStartError: a worker did not start (the others are stopped again).
        """
        if self._closed:
            raise PoolClosedError("the worker pool is closed")
        started = await asyncio.gather(
            *(self._spawn() for _ in range(self.size - len(self._workers))),
            return_exceptions=True,
        )
        failures = [item for item in started if isinstance(item, BaseException)]
        for item in started:
            if isinstance(item, _Worker):
                if failures:
                    await self._retire(item, grace=0)
                else:
                    self._release(item)
        if failures:
            raise failures[0]

    async def run(
        self,
        request: JobRequest,
        on_event: EventCallback | None = None,
        *,
        max_execution_time: float | None = None,
    ) -> JobOutcome:
        """Run a job on the next idle worker and return how it ended.

        ``max_execution_time`` (seconds) counts from the moment the worker gets the job; past
        it, the job is stopped and ends ``CANCELLED`` with the reason ``RAN_TOO_LONG``.

        Raises:
            PoolClosedError: the pool was closed before the job ended.
            ValueError: a job with this id is already in the pool.
        """
        if self._closed:
            raise PoolClosedError("the worker pool is closed")
        if request.job_id in self._jobs:
            raise ValueError(f"job {request.job_id!r} is already in the worker pool")
        if self.uploads_refused is not None and request.program.is_uploaded:
            reason = f"uploaded programs cannot run on this server: {self.uploads_refused}"
            return JobOutcome(request.job_id, JobStatus.FAILED, reason=reason, error=reason)
        request = self._with_cpu_limit(request, max_execution_time)
        job = _Job(request, on_event)
        self._jobs[job.job_id] = job
        try:
            worker = await self._acquire(job)
            if worker is None:
                if job.closing:
                    raise PoolClosedError("the worker pool was closed before the job started")
                return job.outcome(JobStatus.CANCELLED, reason=job.stop_reason)
            return await self._supervise(worker, job, max_execution_time)
        finally:
            del self._jobs[job.job_id]

    def _with_cpu_limit(self, request: JobRequest, max_execution_time: float | None) -> JobRequest:
        seconds = request.limits.cpu_seconds
        if seconds is None:
            seconds = self.job_cpu_seconds
        if seconds is None and max_execution_time is not None:
            seconds = max_execution_time * (os.cpu_count() or 1)
        last_job = self.recycle_after_uploaded and request.program.is_uploaded
        limits = dataclasses.replace(request.limits, cpu_seconds=seconds, last_job=last_job)
        return dataclasses.replace(request, limits=limits)

    async def cancel(self, job_id: str, reason: str | None = None) -> bool:
        """Stop a job waiting for or running on a worker; it ends ``CANCELLED`` with ``reason``.

        Returns at once (``run`` returns the outcome once the worker is stopped); ``False`` if
        the pool has no such job.
        """
        job = self._jobs.get(job_id)
        if job is None or job.ended.done():
            return False
        self._request_stop(job, reason)
        return True

    async def close(self) -> None:
        """Stop every worker and wait until all processes are gone.

        Jobs still waiting or running make their ``run`` raise :class:`PoolClosedError`.
        """
        if self._closed:
            return
        self._closed = True
        for job in list(self._jobs.values()):
            job.closing = True
            self._request_stop(job, "the worker pool was closed")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(
            *(self._retire(worker, self.cancel_grace) for worker in list(self._workers)),
            return_exceptions=True,
        )
        self._idle.clear()

    async def __aenter__(self) -> WorkerPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # Workers coming and going.

    async def _spawn(self) -> _Worker:
        worker = _Worker(await WorkerProcess.start(self._options))
        if self._closed:
            await worker.process.stop(grace=0)
            raise PoolClosedError("the worker pool was closed while a worker started")
        self._workers.add(worker)
        worker.reader = asyncio.create_task(self._read(worker))
        ready = worker.process.ready
        logger.info(
            "Worker %d is warm after %.2f s.",
            worker.process.pid,
            ready.warm_up_seconds if ready else 0,
        )
        return worker

    async def _replace(self) -> None:
        """Start a worker in place of one that ended; keep trying (less often) until one runs."""
        for attempt in itertools.count():
            try:
                worker = await self._spawn()
            except WorkerStartError as exc:
                delay = _RESTART_DELAYS[min(attempt, len(_RESTART_DELAYS) - 1)]
                logger.error("A replacement worker did not start (retry in %g s): %s", delay, exc)
                await asyncio.sleep(delay)
                continue
            self._release(worker)
            return

    def _release(self, worker: _Worker) -> None:
        """Give a worker that finished (or just started) to the next waiting job, or keep it."""
        if worker not in self._workers or worker.stopping:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._busy.add(worker)
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    async def _retire(self, worker: _Worker, grace: float) -> None:
        worker.stopping = True
        await worker.process.stop(grace)
        if worker.reader is not None:
            await asyncio.gather(worker.reader, return_exceptions=True)

    def _background(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # A job's way through a worker.

    async def _acquire(self, job: _Job) -> _Worker | None:
        if self._idle and not self._waiters:
            worker = self._idle.popleft()
            self._busy.add(worker)
            return worker
        waiter: asyncio.Future[_Worker | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        job.waiting = waiter
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and (handed := waiter.result()):
                self._busy.discard(handed)
                self._release(handed)
            raise
        finally:
            job.waiting = None
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    async def _supervise(
        self, worker: _Worker, job: _Job, max_execution_time: float | None
    ) -> JobOutcome:
        worker.job = job
        job.worker_pid = worker.process.pid
        worker.process.clear_output()
        try:
            with contextlib.suppress(ConnectionError):
                await worker.process.send(job.request)  # if it died, its reader says how
            stop = asyncio.ensure_future(job.stop_requested.wait())
            try:
                await asyncio.wait(
                    (job.ended, stop),
                    timeout=max_execution_time,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                stop.cancel()
            if job.ended.done():
                return job.ended.result()
            # Cancelled, or past its time: what the program sent so far is still delivered.
            reason = job.stop_reason if job.stop_requested.is_set() else RAN_TOO_LONG
            await self._retire(worker, self.cancel_grace)
            if job.closing:
                raise PoolClosedError("the worker pool was closed while the job ran")
            return job.outcome(JobStatus.CANCELLED, reason=reason)
        except asyncio.CancelledError:
            # Whoever awaited run() gave up on the job: it must not keep the worker busy.
            worker.stopping = True
            self._background(worker.process.stop(grace=0))
            raise
        finally:
            worker.job = None
            self._busy.discard(worker)
            if self._unfit_for_more(job):
                worker.stopping = True
                self._background(worker.process.stop(self.cancel_grace))
            self._release(worker)

    def _unfit_for_more(self, job: _Job) -> bool:
        """Whether the worker that ran ``job`` must not run another."""
        if job.request.limits.last_job:
            return True
        # After a MemoryError the interpreter may be left half-built (caches, imports).
        ended = job.ended.result() if job.ended.done() else None
        return ended is not None and ended.reason in (OUT_OF_MEMORY, CPU_TIME_EXCEEDED)

    def _request_stop(self, job: _Job, reason: str | None) -> None:
        if job.stop_requested.is_set():
            return
        job.stop_reason = reason
        job.stop_requested.set()
        if job.waiting is not None and not job.waiting.done():
            job.waiting.set_result(None)

    # What workers send.

    async def _read(self, worker: _Worker) -> None:
        """Deliver a worker's messages until it ends; then account for it."""
        broken: str | None = None
        try:
            while (message := await worker.process.receive()) is not None:
                await self._dispatch(worker, message)
        except (ProtocolError, ChannelError) as exc:
            broken = f"worker broke the protocol: {exc}"
            if not worker.stopping:
                logger.error("Worker %d: %s; stopping it.", worker.process.pid, broken)
        if broken is not None or not await worker.process.exited(self.cancel_grace):
            # Broken, or it closed its end but lives on: either way it cannot be trusted.
            await worker.process.stop(grace=0)
        returncode = await worker.process.wait()
        self._forget(worker)
        job = worker.job
        if job is not None and not worker.stopping:
            reason = broken or describe_exit(returncode)
            job.end(
                job.outcome(
                    JobStatus.FAILED,
                    reason=reason,
                    error=f"{reason}, while running program {job.request.program.program_id!r}",
                    traceback=worker.process.output_tail(),
                )
            )
        if not self._closed:
            self._background(self._replace())

    def _forget(self, worker: _Worker) -> None:
        self._workers.discard(worker)
        self._busy.discard(worker)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)

    async def _dispatch(self, worker: _Worker, message: WorkerMessage) -> None:
        job = worker.job
        if worker.stopping:
            # The job's end is decided; still hand on what the program produced before it.
            if job is not None and isinstance(message, InterimResult | LogOutput):
                await self._deliver(job, message)
            return
        if job is None or job.ended.done() or getattr(message, "job_id", None) != job.job_id:
            raise ProtocolError(f"unexpected {message.TYPE!r} message")
        if isinstance(message, Started):
            if job.started is not None:
                raise ProtocolError("'started' sent twice")
            job.started = time.perf_counter()
        elif isinstance(message, InterimResult):
            if message.seq != job.next_seq:
                raise ProtocolError(f"interim result {message.seq} came, {job.next_seq} expected")
            job.next_seq += 1
            await self._deliver(job, message)
        elif isinstance(message, LogOutput):
            await self._deliver(job, message)
        elif isinstance(message, JobResult):
            job.end(job.outcome(JobStatus.COMPLETED, result=message.payload))
        elif isinstance(message, JobFailed):
            job.end(
                job.outcome(
                    JobStatus.FAILED,
                    reason=message.reason,
                    error=message.message,
                    traceback=message.traceback,
                )
            )
        else:
            raise ProtocolError(f"unexpected {message.TYPE!r} message")

    async def _deliver(self, job: _Job, event: WorkerEvent) -> None:
        if job.on_event is None:
            return
        try:
            returned = job.on_event(event)
            if inspect.isawaitable(returned):
                await returned
        except Exception:
            logger.exception("on_event of job %s failed on a %s event", job.job_id, event.TYPE)
