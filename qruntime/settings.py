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
    session_idle_seconds: float = Field(default=300.0, gt=0)
    """How long a session keeps its device with none of its jobs queued or running."""
    executor: Literal["local", "ray"] = "local"
    tls: bool = True
    certfile: Path | None = None
    keyfile: Path | None = None
    access_token_ttl: int = Field(default=14 * 24 * 3600, gt=0)
    """Seconds an access token from ``loginWithToken`` lives (IBM's was 1209600, two weeks)."""

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
