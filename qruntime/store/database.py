"""Connecting to the database: URLs, engines, and read and write transactions.

SQLite (the default, one file in the data directory) runs in WAL mode with foreign keys on and
a busy timeout; every write transaction starts with ``BEGIN IMMEDIATE`` so that writers queue
on the database lock up front instead of failing half-way when a reader turns writer.
PostgreSQL is reached through psycopg 3; read transactions run at REPEATABLE READ so that a
page and its total count come from the same snapshot.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from qruntime.errors import InputError

SQLITE_FILE_NAME = "qruntime.db"
SQLITE_BUSY_TIMEOUT_S = 30.0
# The server calls the store from a thread pool; let that many threads hold a connection.
POOL_SIZE = 10
POOL_OVERFLOW = 30
_WRITE_OPTION = "qruntime_write"


def sqlite_url(data_dir: Path) -> str:
    """The URL of the default database: ``qruntime.db`` in the data directory."""
    return URL.create("sqlite", database=str(Path(data_dir) / SQLITE_FILE_NAME)).render_as_string()


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; ``postgresql://`` and ``postgres://`` mean psycopg 3.

    Raise :class:`InputError` for a URL that is not SQLite or PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(
            f"cannot read the database URL: {exc}; expected e.g. "
            "'postgresql+psycopg://user@host:5432/db' or 'sqlite:////path/qruntime.db'",
            field="database_url",
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise InputError(
                "an in-memory SQLite database cannot be shared between threads; "
                "give a file, e.g. 'sqlite:////path/qruntime.db'",
                field="database_url",
            )
    elif backend != "postgresql":
        raise InputError(
            f"unsupported database {backend!r}; use SQLite or PostgreSQL",
            field="database_url",
        )
    return parsed


class Database:
    """An engine with two ways in: :meth:`read` and :meth:`write`, each one transaction."""

    def __init__(self, url: str | URL) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url)
            self._reader = self.engine
        else:
            self.engine = create_engine(
                self.url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
            )
            self._reader = self.engine.execution_options(isolation_level="REPEATABLE READ")
        self._writer = self.engine.execution_options(**{_WRITE_OPTION: True})
        # SQLite has one writer at a time, and a writer that finds the file locked sleeps in
        # growing steps (up to 100 ms) before trying again. Threads of this process take turns
        # on a lock instead, so a write waits only as long as the one before it; other
        # processes (the admin CLI) still meet SQLite's busy timeout.
        self._write_turn: AbstractContextManager[object] = (
            threading.Lock() if self.is_sqlite else nullcontext()
        )

    @property
    def display_url(self) -> str:
        """The URL without its password, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in a read-only transaction (a consistent snapshot)."""
        with Session(self._reader, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction, committed at the end or rolled back on error."""
        with (
            self._write_turn,
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in a write transaction (for migrations, and for the writes that
        run for every interim result, where an ORM session costs more than the statements)."""
        with self._write_turn, self._writer.begin() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    assert database is not None  # normalize_url refuses in-memory databases
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN, not the driver (which would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        writes = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL mode (it stays so). Connections that create the database at the
    same moment can get SQLITE_BUSY here without SQLite's busy handler being asked, so retry
    until the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
