"""The audit log: who logged in (or failed to), logged out, changed a program, or changed
accounts and instances with ``qruntime admin``; never jobs, which have their own records.

Entries are only ever added; nothing in qruntime changes or deletes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import String, or_, select

from qruntime.errors import InputError
from qruntime.store._base import StoreBase
from qruntime.store.models import AuditEntryRow
from qruntime.store.records import AuditAction, AuditEntry

ADMIN_CLI = "admin-cli"
"""The actor of the ``qruntime admin`` commands, which run on the store without logging in."""

DEFAULT_AUDIT_PAGE = 100
_MAX_TEXT = {
    name: cast(String, AuditEntryRow.__table__.c[name].type).length
    for name in ("actor", "target", "client")
}  # each column's length


def _entry(row: AuditEntryRow) -> AuditEntry:
    return AuditEntry(
        row.id, row.time, row.actor, row.action, row.target, dict(row.details), row.client
    )


def _clipped(field: str, value: str | None) -> str | None:
    """Names longer than their column are cut rather than lose the entry."""
    return None if value is None else value[: _MAX_TEXT[field]]


class Audit(StoreBase):
    """Writing and reading the audit log."""

    def add_audit_entry(
        self,
        actor: str | None,
        action: AuditAction,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
        client: str | None = None,
    ) -> AuditEntry:
        """Record that ``actor`` did ``action`` to ``target``, now.

        ``details`` must be JSON-serialisable and hold no secret: no token, not even a part
        of one, since the log is kept long after tokens are revoked.
        """
        with self._db.write() as session:
            row = AuditEntryRow(
                time=self._now(),
                actor=_clipped("actor", actor),
                action=AuditAction(action).value,
                target=_clipped("target", target),
                details=dict(details or {}),
                client=_clipped("client", client),
            )
            session.add(row)
            session.flush()
            return _entry(row)

    def audit_entries(
        self, *, limit: int | None = DEFAULT_AUDIT_PAGE, user: str | None = None
    ) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first (``None``: all of them); with ``user``,
        only those that user did or that were done to them."""
        if limit is not None and limit < 0:
            raise InputError(f"limit must be 0 or more, not {limit}", field="limit")
        query = select(AuditEntryRow)
        if user is not None:
            query = query.where(or_(AuditEntryRow.actor == user, AuditEntryRow.target == user))
        query = query.order_by(AuditEntryRow.time.desc(), AuditEntryRow.id.desc()).limit(limit)
        with self._db.read() as session:
            return [_entry(row) for row in session.scalars(query)]
