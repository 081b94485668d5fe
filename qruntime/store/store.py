"""``Store``: the truth of the service. Every method is one short transaction and returns
frozen records, never objects tied to a database session."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import URL

from qruntime.settings import DEFAULT_MAX_INTERIM_RESULTS
from qruntime.store import migrate
from qruntime.store._base import Clock, utc_now
from qruntime.store.audit import Audit
from qruntime.store.database import Database, sqlite_url
from qruntime.store.instances import OPEN_INSTANCE, Instances
from qruntime.store.jobs import Jobs, read_job_result
from qruntime.store.output import JobOutput, read_interim_results
from qruntime.store.programs import Programs
from qruntime.store.records import Access, InterimResult, JobResult, Plan
from qruntime.store.users import Users


class Store(Users, Instances, Programs, Jobs, JobOutput, Audit):
    """Users and tokens, instances, programs, jobs and their output, and the audit log, in
    SQLite or PostgreSQL.

    Open one with :meth:`open`; it is safe to share between threads.
    """

    @classmethod
    def open(
        cls,
        url: str | URL,
        *,
        clock: Clock = utc_now,
        max_interim_results: int | None = DEFAULT_MAX_INTERIM_RESULTS,
    ) -> Store:
        """Connect, bring the schema to the newest revision, and make sure the instance
        ``ibm-q/open/main`` exists (plan ``open``).

        ``url`` is a SQLAlchemy URL: ``sqlite:////path/qruntime.db`` or
        ``postgresql+psycopg://user@host:5432/db`` (``postgresql://`` means the same).
        Several processes may open one database at the same moment.
        """
        database = Database(url)
        try:
            migrate.upgrade(database)
            store = cls(database, clock=clock, max_interim_results=max_interim_results)
            if store.get_instance(*OPEN_INSTANCE) is None:
                store.ensure_instance(*OPEN_INSTANCE, plan=Plan.OPEN)
        except BaseException:
            database.dispose()
            raise
        return store

    @classmethod
    def open_in(cls, data_dir: Path, *, clock: Clock = utc_now) -> Store:
        """Open the default SQLite store of a data directory (``DIR/qruntime.db``)."""
        return cls.open(sqlite_url(data_dir), clock=clock)

    def access(self, access_token: str) -> Access | None:
        """The user of a live access token, the instances they may use and when the token
        expires, read together; ``None`` where :meth:`user_by_access_token` would say so."""
        with self._db.read() as session:
            found = self._access_token_holder(session, access_token)
            if found is None:
                return None
            user, expires_at = found
            return Access(user, self._instances_of(session, user.id), expires_at)

    def job_messages(
        self, job_id: str, after_seq: int, payloads: bool = True
    ) -> tuple[JobResult, list[InterimResult]]:
        """What a job's stream sends, in one read: its status, result and owner, and the interim
        results after ``after_seq`` (not ``payloads``: the latest one's number only). The status
        is read first: once it is final, every interim result published before the end is
        stored too."""
        with self._db.read() as session:
            outcome = read_job_result(session, job_id)
            return outcome, read_interim_results(session, job_id, after_seq, payloads)

    def close(self) -> None:
        """Close the database connections."""
        self._db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
