"""``wss://.../runtime/stream/jobs/{id}``: a job's interim results and final result, live.

IBM's clients drop the first message after each connect as an acknowledgement, then hand every
later one to the user's callback, and take a close with code 1000 as "the job is finished"
(qiskit-ibm-runtime reads the status right after it). So: one ACK, the interim results stored
so far, the live ones, the final result of a completed job, and the close only once the final
status is stored. A reconnecting client gets everything again, from the start.

One addition IBM's clients ignore: the 1000 close carries the reason ``COMPLETED`` exactly when
the job completed and its last message was the final result, so qruntime's client needs no
further request for the status or the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from qruntime.execution.events import InterimEvent, JobEnded, JobEvent, Subscription
from qruntime.server.context import ServiceContext
from qruntime.server.errors import APIError, NotFound
from qruntime.server.routes.access import job_not_found
from qruntime.server.routes.blocking import blocking
from qruntime.server.routes.jobs import check_visible
from qruntime.status import FINAL_ONLY_QUERY, JobStatus
from qruntime.store import InterimResult, JobResult, Store

STORE_CHECK_SECONDS = 5.0
"""How long to wait for a live event before looking at the store again: events reach only the
subscribers in the process that runs the job, so the store is the fallback that always works."""

NORMAL_CLOSURE = 1000
APPLICATION_ERROR_BASE = 4000
"""Refusals close with 4000 + the HTTP status: 4401 bad token, 4404 no such job."""

_MAX_CLOSE_REASON = 120
RESULT_SENT = "COMPLETED"
"""The close reason that says: the job completed and the last message was its final result."""


def ack(job_id: str) -> str:
    """The first message, which the clients drop; IBM's service sent this text."""
    return f"Listening to results for job: {job_id}"


def router(context: ServiceContext) -> APIRouter:
    """The WebSocket route."""
    stream = APIRouter(prefix="/runtime/stream")

    @stream.websocket("/jobs/{job_id}")
    async def job_stream(websocket: WebSocket, job_id: str) -> None:
        """Stream a job's results; the access token comes on the upgrade request."""
        await websocket.accept()
        # Subscribed before the first read of the store, so that nothing published between
        # the two is missed; that read also says whose job it is.
        with context.events.subscribe(job_id) as subscription:
            try:
                caller = await context.callers.authenticate(websocket)
                interim = websocket.url.query != FINAL_ONLY_QUERY
                try:
                    first = await blocking(context.store.job_messages, job_id, -1, interim)
                except NotFound:
                    raise job_not_found(job_id) from None
                check_visible(first[0].owner_id, first[0].instance_id, job_id, caller)
            except APIError as refusal:
                # A close frame's reason holds at most 123 bytes.
                reason = str(refusal).encode()[:_MAX_CLOSE_REASON].decode(errors="ignore")
                await websocket.close(APPLICATION_ERROR_BASE + refusal.status_code, reason)
                return
            await websocket.send_text(ack(job_id))
            end = StreamEnd()
            messages = job_messages(
                context.store, job_id, subscription, end=end, first=first, interim=interim
            )
            if await send_until_disconnect(websocket, messages):
                await websocket.close(NORMAL_CLOSURE, RESULT_SENT if end.result_sent else "")

    return stream


@dataclass
class StreamEnd:
    """How a job's messages ended: whether the last one was the final result."""

    result_sent: bool = False


async def job_messages(
    store: Store,
    job_id: str,
    subscription: Subscription,
    check_seconds: float = STORE_CHECK_SECONDS,
    *,
    end: StreamEnd | None = None,
    first: tuple[JobResult, list[InterimResult]] | None = None,
    interim: bool = True,
) -> AsyncIterator[str]:
    """The job's interim results in order, then its final result if it completed.

    ``subscription`` must be taken before this starts, so that nothing published meanwhile is
    missed: the store is read first, and live events already read from it are skipped by their
    sequence number. Ends once the store holds a final status; ``end`` then says whether the
    final result was the last message. ``first``: the store's first answer, already read.
    Not ``interim``: the final result only (interim results are followed, not sent).
    """
    sent = -1
    events = aiter(subscription)
    waiting: asyncio.Future[JobEvent] | None = None
    live = True
    try:
        while True:
            if first is not None:
                (outcome, published), first = first, None
            else:
                outcome, published = await blocking(store.job_messages, job_id, sent, interim)
            for result in published:
                sent = result.seq
                if interim:
                    yield result.payload
            if outcome.status.is_terminal():
                if outcome.status is JobStatus.COMPLETED and outcome.result is not None:
                    yield outcome.result
                    if end is not None:
                        end.result_sent = True
                return
            while live:
                if waiting is None:
                    waiting = asyncio.ensure_future(anext(events))
                done, _ = await asyncio.wait({waiting}, timeout=check_seconds)
                if not done:
                    break
                finished, waiting = waiting, None
                try:
                    event = finished.result()
                except StopAsyncIteration:
                    live = False
                    break
                if isinstance(event, JobEnded) and event.interim_count == sent + 1:
                    # Every interim result is out, and the end says what was stored.
                    if event.result is not None:
                        yield event.result
                        if end is not None:
                            end.result_sent = True
                    return
                if not isinstance(event, InterimEvent) or event.seq > sent + 1:
                    break  # the end, or a gap: the store has the whole story
                if event.seq == sent + 1:
                    sent = event.seq
                    if interim:
                        yield event.payload
            if not live:
                await asyncio.sleep(check_seconds)
    finally:
        if waiting is not None:
            waiting.cancel()


async def send_until_disconnect(websocket: WebSocket, messages: AsyncIterator[str]) -> bool:
    """Send every message; False if the client went away first."""

    async def send_all() -> None:
        async for message in messages:
            await websocket.send_text(message)

    async def until_disconnect() -> None:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    sending = asyncio.ensure_future(send_all())
    listening = asyncio.ensure_future(until_disconnect())
    try:
        done, _ = await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sending, listening):
            task.cancel()
        await asyncio.gather(sending, listening, return_exceptions=True)
    if sending not in done:
        return False
    failure = sending.exception()
    if isinstance(failure, WebSocketDisconnect):
        return False
    if failure is not None:
        raise failure
    return True
