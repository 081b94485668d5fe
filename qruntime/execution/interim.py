"""``InterimWriter``: a running job's interim results on their way to the store and its streams.

A program that publishes every few milliseconds (vqe publishes each evaluation) would cost the
server one write transaction per result, more server time than the job's own step. So a result
is written at once when no write is under way, and otherwise together with everything else that
arrived meanwhile, in one transaction. Streams hear of each result after it is stored, in order,
so a late subscriber's replay and the live events neither miss nor repeat one.
"""

from __future__ import annotations

import asyncio
import logging

from qruntime.execution.events import JobEvents
from qruntime.offload import offload
from qruntime.store import Store

logger = logging.getLogger(__name__)

MAX_PENDING = 1000
"""Results a job may have waiting to be written before its worker's messages wait too."""


class InterimWriter:
    """Stores one job's interim results in order, batching those that arrive during a write."""

    def __init__(self, store: Store, events: JobEvents, job_id: str) -> None:
        self._store = store
        self._events = events
        self._job_id = job_id
        self._pending: list[str] = []
        self._writing: asyncio.Task[None] | None = None
        self.count = 0
        """How many of the job's interim results are stored."""

    async def add(self, payload: str) -> None:
        """Queue one result for the store; wait only while too many are waiting already."""
        self._pending.append(payload)
        if self._writing is None:
            self._writing = asyncio.create_task(self._write())
        if len(self._pending) >= MAX_PENDING:
            await self.flush()

    async def flush(self) -> None:
        """Return once every result added so far is stored (or refused, and logged so)."""
        while self._writing is not None:
            await asyncio.shield(self._writing)

    async def _write(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                added = await offload(self._store.add_interim_results, self._job_id, batch)
                for index, payload in enumerate(added.stored):
                    self._events.interim_result(self._job_id, added.first_seq + index, payload)
                if added.stored:  # writes are one after another: this is the newest
                    self.count = added.first_seq + len(added.stored)
                if added.refused:
                    reasons = "".join(f"{reason}\n" for reason in added.refused)
                    await offload(self._store.append_log, self._job_id, reasons)
        except Exception:
            self._pending.clear()
            logger.exception("job %s: interim results could not be stored", self._job_id)
        finally:
            self._writing = None
