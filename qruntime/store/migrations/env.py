"""Alembic environment: runs migrations on the connection that qruntime hands over.

qruntime applies migrations itself (:func:`qruntime.store.migrate.upgrade`), passing an open
connection in ``config.attributes["connection"]``; no ``alembic.ini`` is involved. For writing
a new revision, ``config.attributes["url"]`` may name a database instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from qruntime.store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("give a connection or a URL in the Alembic config's attributes")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


_main()
