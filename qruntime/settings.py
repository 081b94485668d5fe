"""``Settings``: how one qruntime service is configured, passed down from the command line.

Read once at start (``Settings.from_env`` for the environment's defaults, then command-line
options on top) and handed to every part; nothing deeper reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PORT = 8443
DEFAULT_RATE_LIMIT = 50.0
"""Job submissions (and program uploads) a second that each user may keep up: far above what a
person or a script waiting for its results needs, low enough that one user cannot flood the
store for everyone."""
DEFAULT_RATE_BURST = 2000
"""Submissions a user may make at once on top of the rate: a script that submits a couple of
thousand jobs in a loop (``benchmarks/service.py`` sends 2000 at about 120 a second) is not
slowed."""
DEFAULT_SESSION_IDLE_SECONDS = 300.0
"""How long a session keeps its device with none of its jobs queued or running."""
DEFAULT_ACCESS_TOKEN_TTL = 14 * 24 * 3600
"""Seconds an access token lives: two weeks, as IBM's did."""
DEFAULT_WORKER_PROCESSES = 256
"""Processes and threads a sandboxed worker may have at once (Aer's threads count too)."""
DEFAULT_WORKER_MEMORY = 8 * 1024**3
"""A worker's default address-space limit: a warm worker maps about 2 GiB before any job."""
DEFAULT_MAX_INTERIM_RESULTS = 10_000
"""Interim results one job may publish (the store's cap, and what its workers are told)."""
ADMIN_TOKEN_FILE = "admin-token"
"""Where in the data dir ``serve`` writes the API token of the first user it makes."""


def default_data_dir() -> Path:
    """``$QRUNTIME_DATA_DIR``, else ``~/.qruntime``."""
    return Path(os.environ.get("QRUNTIME_DATA_DIR") or Path.home() / ".qruntime")


class Settings(BaseModel):
    """Everything a running service needs to know about its set-up."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    """SQLAlchemy URL; ``None`` means SQLite in the data dir."""
    workers: int = Field(default=2, ge=1)
    session_idle_seconds: float = Field(default=DEFAULT_SESSION_IDLE_SECONDS, gt=0)
    """How long a session keeps its device with none of its jobs queued or running."""
    executor: Literal["local", "ray"] = "local"
    tls: bool = True
    certfile: Path | None = None
    keyfile: Path | None = None
    access_token_ttl: int = Field(default=DEFAULT_ACCESS_TOKEN_TTL, gt=0)
    """Seconds an access token from ``loginWithToken`` lives (IBM's was 1209600, two weeks)."""
    allow_unsandboxed: bool = False
    """Run uploaded programs even where bubblewrap cannot sandbox the workers."""
    worker_memory: int = Field(default=DEFAULT_WORKER_MEMORY, ge=0)
    """Each worker's address-space limit in bytes (a job past it fails: out of memory); 0: none."""
    worker_processes: int = Field(default=DEFAULT_WORKER_PROCESSES, ge=16)
    """Processes and threads a sandboxed worker may have at once."""
    job_cpu_time: float | None = Field(default=None, gt=0)
    """CPU seconds a job may use, all threads together; ``None``: its max execution time on
    every core."""
    rate_limit: float | None = Field(default=DEFAULT_RATE_LIMIT, gt=0)
    """Job submissions and program uploads a second each user may keep up (a token bucket per
    user, in this server process); ``None``: no limit."""
    rate_burst: int = Field(default=DEFAULT_RATE_BURST, ge=1)
    """How many submissions and uploads a user may make at once before ``rate_limit`` applies."""
    max_interim_results: int | None = Field(default=DEFAULT_MAX_INTERIM_RESULTS, ge=1)
    """Interim results one job may publish; later ones are dropped and the job's log says so.
    ``None``: no limit."""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults from ``QRUNTIME_DATA_DIR`` and ``QRUNTIME_DATABASE_URL``, then ``overrides``."""
        values: dict[str, object] = {}
        if os.environ.get("QRUNTIME_DATABASE_URL"):
            values["database_url"] = os.environ["QRUNTIME_DATABASE_URL"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL to use: the given one, or SQLite in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'qruntime.db'}"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"
