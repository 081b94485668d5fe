"""``ServiceContext``: what the API's routes work with, handed to them by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from qruntime.backends import BackendCatalogue
    from qruntime.execution.events import JobEvents
    from qruntime.server.ratelimit import SubmissionRateLimit
    from qruntime.server.routes.auth import Callers
    from qruntime.settings import Settings
    from qruntime.store import Job, Store


class JobQueue(Protocol):
    """The scheduler as the routes see it."""

    def job_queued(self, job: Job) -> None:
        """A job was stored as QUEUED: consider starting it."""

    def close_session(self, session_id: str) -> None:
        """A session ended: its device may run other jobs."""

    async def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; ``False`` if it had already finished."""


@dataclass(frozen=True)
class ServiceContext:
    """The parts of one running service."""

    settings: Settings
    store: Store
    catalogue: BackendCatalogue
    jobs: JobQueue
    events: JobEvents
    uploads_refused: str | None = None
    """Why uploaded programs may not run here (no sandbox), or ``None``."""
    callers: Callers = field(init=False)
    """Who the callers are (access token -> user and instances)."""
    submissions: SubmissionRateLimit = field(init=False)
    """How fast each user may submit jobs and upload programs (``settings.rate_limit``)."""

    def __post_init__(self) -> None:
        from qruntime.server.ratelimit import SubmissionRateLimit
        from qruntime.server.routes.auth import Callers  # the routes import this module

        object.__setattr__(self, "callers", Callers(self.store))
        limit = SubmissionRateLimit(self.settings.rate_limit, self.settings.rate_burst)
        object.__setattr__(self, "submissions", limit)
