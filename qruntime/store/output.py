"""What a job says while it runs: interim results (numbered from 0) and its log.

Both take the job's row lock first (an UPDATE of a counter on the job row, or ``SELECT ... FOR
UPDATE``), so concurrent writers of one job queue behind each other and sequence numbers come
out gap-free and in order, on PostgreSQL as on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from qruntime.store._base import StoreBase
from qruntime.store.errors import LimitExceeded, NotFound
from qruntime.store.models import InterimResultRow, JobLogChunkRow, JobRow
from qruntime.store.records import InterimResult

# Core tables for the reads every stream makes (no ORM state to build).
_JOBS = cast(Table, JobRow.__table__)
_INTERIM = cast(Table, InterimResultRow.__table__)
# The statements of add_interim_results, built once.
_COUNT_INTERIM = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job"))
    .values(interim_count=_JOBS.c.interim_count + bindparam("added"))
    .returning(_JOBS.c.interim_count)
)
_SET_INTERIM_COUNT = (
    update(_JOBS).where(_JOBS.c.id == bindparam("job")).values(interim_count=bindparam("count"))
)
_INSERT_INTERIM = insert(_INTERIM)

DEFAULT_LOG_CAP_BYTES = 1_048_576


@dataclass(frozen=True)
class AddedInterimResults:
    """What :meth:`JobOutput.add_interim_results` did: it stored ``stored``, numbered from
    ``first_seq`` on, and did not store the rest, for the reasons in ``refused``."""

    first_seq: int
    stored: list[str]
    refused: list[str]


def truncation_mark(cap_bytes: int) -> str:
    """The line that ends a log cut at ``cap_bytes`` bytes."""
    return f"... [log truncated at {cap_bytes} bytes]\n"


def read_interim_results(
    session: Session, job_id: str, after_seq: int | None = None, payloads: bool = True
) -> list[InterimResult]:
    """A job's interim results (after ``after_seq``), inside a read the caller holds. Not
    ``payloads``: only the latest one's sequence number, with an empty payload (for a stream
    that follows the results without sending them)."""
    interim = _INTERIM.c
    if not payloads:
        latest = select(func.max(interim.seq)).where(interim.job_id == job_id)
        if after_seq is not None:
            latest = latest.where(interim.seq > after_seq)
        seq = session.scalar(latest)
        return [] if seq is None else [InterimResult(seq, "")]
    query = select(interim.seq, interim.payload).where(interim.job_id == job_id)
    if after_seq is not None:
        query = query.where(interim.seq > after_seq)
    rows = session.execute(query.order_by(interim.seq))
    return [InterimResult(seq, payload) for seq, payload in rows]


class JobOutput(StoreBase):
    """Interim results and logs of jobs.

    Output is accepted even after a job finished: a worker's last messages may land after a
    cancellation, and they still belong to the job.
    """

    def add_interim_result(self, job_id: str, payload: str) -> int:
        """Append an interim result (the JSON text as published); return its sequence number.

        Raise :class:`LimitExceeded` past the store's ``max_interim_results`` per job, or for
        a payload over ``max_interim_result_bytes``.
        """
        added = self.add_interim_results(job_id, [payload])
        if added.refused:
            raise LimitExceeded(added.refused[0])
        return added.first_seq

    def add_interim_results(self, job_id: str, payloads: Sequence[str]) -> AddedInterimResults:
        """Append interim results in order, in one transaction (a running job's that arrived
        together). Those over ``max_interim_result_bytes``, and all past
        ``max_interim_results`` for the job, are not stored: the answer says why."""
        refused: list[str] = []
        kept: list[str] = []
        for payload in payloads:
            # A character is at most 4 bytes: only text that might be too long is encoded.
            too_long = len(payload) * 4 > self.max_interim_result_bytes
            size = len(payload.encode("utf-8", "surrogatepass")) if too_long else 0
            if size > self.max_interim_result_bytes:
                refused.append(
                    f"job {job_id} published an interim result of {size} bytes; one interim "
                    f"result may be at most {self.max_interim_result_bytes} bytes: publish less "
                    "at a time"
                )
            else:
                kept.append(payload)
        if not kept:
            return AddedInterimResults(0, [], refused)
        # Core statements on a plain connection: this runs for every interim result of every
        # running job, and the ORM's unit of work cost more than the writes themselves.
        with self._db.write_connection() as connection:
            count = connection.scalar(_COUNT_INTERIM, {"job": job_id, "added": len(kept)})
            if count is None:
                raise NotFound(f"no job with id {job_id!r}")
            first = count - len(kept)
            cap = self.max_interim_results
            if cap is not None and count > cap:
                refused.append(
                    f"job {job_id} published more than {cap} interim results, the limit per "
                    "job; publish fewer, larger interim results"
                )
                kept = kept[: max(cap - first, 0)]
                connection.execute(_SET_INTERIM_COUNT, {"job": job_id, "count": first + len(kept)})
            if kept:
                now = self._now()
                connection.execute(
                    _INSERT_INTERIM,
                    [
                        {"job_id": job_id, "seq": first + index, "payload": payload, "created": now}
                        for index, payload in enumerate(kept)
                    ],
                )
        return AddedInterimResults(first, kept, refused)

    def interim_results(self, job_id: str, after_seq: int | None = None) -> list[InterimResult]:
        """A job's interim results in order; only those after ``after_seq`` if given."""
        with self._db.read() as session:
            if session.scalar(select(_JOBS.c.id).where(_JOBS.c.id == job_id)) is None:
                raise NotFound(f"no job with id {job_id!r}")
            return read_interim_results(session, job_id, after_seq)

    def append_log(self, job_id: str, text: str, cap_bytes: int = DEFAULT_LOG_CAP_BYTES) -> bool:
        """Append to a job's log, keeping at most its first ``cap_bytes`` bytes (UTF-8).

        The write that reaches the cap keeps what fits and adds one line saying the log was
        truncated; later writes are dropped. Return False if any of ``text`` was dropped.
        """
        if not text:
            return True
        with self._db.write() as session:
            state = session.execute(
                select(JobRow.log_chunks, JobRow.log_bytes, JobRow.log_truncated)
                .where(JobRow.id == job_id)
                .with_for_update()
            ).one_or_none()
            if state is None:
                raise NotFound(f"no job with id {job_id!r}")
            chunks, size, truncated = state
            if truncated:
                return False
            data = text.encode("utf-8")
            room = max(cap_bytes - size, 0)
            if len(data) <= room:
                piece, kept, truncated = text, len(data), False
            else:
                # Cut at a byte boundary without splitting a character.
                kept_text = data[:room].decode("utf-8", errors="ignore")
                kept = len(kept_text.encode("utf-8"))
                ends_line = (
                    kept_text.endswith("\n")
                    if kept_text
                    else self._log_ends_line(session, job_id, chunks)
                )
                piece = kept_text + ("" if ends_line else "\n") + truncation_mark(cap_bytes)
                truncated = True
            session.add(JobLogChunkRow(job_id=job_id, seq=chunks, text=piece))
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(log_chunks=chunks + 1, log_bytes=size + kept, log_truncated=truncated)
                .execution_options(synchronize_session=False)
            )
            return not truncated

    def job_log(self, job_id: str) -> str:
        """A job's log so far ("" if it wrote none)."""
        with self._db.read() as session:
            if session.scalar(select(JobRow.id).where(JobRow.id == job_id)) is None:
                raise NotFound(f"no job with id {job_id!r}")
            texts = session.scalars(
                select(JobLogChunkRow.text)
                .where(JobLogChunkRow.job_id == job_id)
                .order_by(JobLogChunkRow.seq)
            )
            return "".join(texts)

    @staticmethod
    def _log_ends_line(session: Session, job_id: str, chunks: int) -> bool:
        if chunks == 0:
            return True
        last = session.scalar(
            select(JobLogChunkRow.text).where(
                JobLogChunkRow.job_id == job_id, JobLogChunkRow.seq == chunks - 1
            )
        )
        return last is None or last.endswith("\n")
