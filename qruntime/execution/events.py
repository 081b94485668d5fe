"""``JobEvents``: a job's interim results and its end, fanned out to live subscribers.

The store holds every interim result; this only tells subscribers (WebSocket streams) that
something new is there, in order and without waiting on the database. A subscriber that joins
late replays from the store, then follows the live events, skipping sequence numbers it already
sent.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True)
class InterimEvent:
    """Interim result number ``seq`` of a job, as its encoded text."""

    seq: int
    payload: str


@dataclass(frozen=True)
class JobEnded:
    """The job reached a final status, which is already stored.

    The process that ran the job also tells what it stored: the final ``result`` of a completed
    job and how many interim results there were, so that a subscriber that has them all needs
    no read of the store. ``None`` where it does not know (a cancel, another process).
    """

    result: str | None = None
    interim_count: int | None = None


JobEvent = InterimEvent | JobEnded


class Subscription:
    """The live events of one job, for one subscriber. Use as an async iterator; close it."""

    def __init__(self, events: JobEvents, job_id: str) -> None:
        self._events = events
        self.job_id = job_id
        self._queue: asyncio.Queue[JobEvent] = asyncio.Queue()

    def _put(self, event: JobEvent) -> None:
        self._queue.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[JobEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[JobEvent]:
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, JobEnded):
                return

    def close(self) -> None:
        self._events._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class JobEvents:
    """Fan-out of job events inside one server process. All methods run on the event loop."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, job_id: str) -> Subscription:
        """Start receiving ``job_id``'s events; subscribe *before* replaying from the store."""
        subscription = Subscription(self, job_id)
        self._subscribers[job_id].add(subscription)
        return subscription

    def interim_result(self, job_id: str, seq: int, payload: str) -> None:
        """Tell subscribers that interim result ``seq`` was stored."""
        for subscription in tuple(self._subscribers.get(job_id, ())):
            subscription._put(InterimEvent(seq, payload))

    def job_ended(
        self, job_id: str, result: str | None = None, interim_count: int | None = None
    ) -> None:
        """Tell subscribers that the job's final status is stored; they stop after this.

        ``result`` (a completed job's stored result) and ``interim_count`` may be given
        together when known; see :class:`JobEnded`.
        """
        event = JobEnded(result, interim_count)
        for subscription in tuple(self._subscribers.pop(job_id, ())):
            subscription._put(event)

    def subscriber_count(self, job_id: str) -> int:
        return len(self._subscribers.get(job_id, ()))

    def _unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.job_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.job_id]
