"""Bringing the schema to the newest revision, from code: no ``alembic.ini`` at run time.

On PostgreSQL the upgrade runs in one transaction under an advisory lock, so that servers
starting at the same moment take turns: the first migrates, the others find the schema
current. On SQLite the write transaction's ``BEGIN IMMEDIATE`` does the same.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from qruntime.store.database import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Any fixed 64-bit number, the same in every qruntime process ("qruntime" in ASCII).
_ADVISORY_LOCK_KEY = 0x7172756E74696D65


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration built in code, optionally bound to an open connection."""
    config = Config()
    # Config values pass through configparser interpolation, which treats % specially.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision that this version of qruntime knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at; None for an empty database."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database) -> None:
    """Apply every migration the database lacks; a current schema is left as it is."""
    with database.write_connection() as connection:
        if connection.dialect.name == "postgresql":
            # Released at commit; a second process waits here, then finds nothing to do.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        if current_revision(connection) == head_revision():
            return
        command.upgrade(alembic_config(connection), "head")
