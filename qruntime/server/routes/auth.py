"""Who is calling: the access token that ``loginWithToken`` issued, on every call after it.

IBM's clients send it as ``X-Access-Token`` (REST and the WebSocket upgrade alike); other
clients may send ``Authorization: Bearer <token>``.

A job's submission, stream and result each ask who the caller is, so the answer (the user and
their instances) is remembered for :data:`CALLER_TTL_SECONDS`, never past the token's expiry.
A logout through this server forgets it at once, even while another request is looking the
same token up; a change made elsewhere (the admin CLI disabling a user, revoking a membership,
a logout through another server) takes effect within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import HTTPConnection, Request

from qruntime.server.errors import Unauthorized
from qruntime.server.routes.blocking import blocking
from qruntime.store import Store
from qruntime.store.records import AuditAction, Instance, User

CALLER_TTL_SECONDS = 1.0
_MAX_REMEMBERED = 10_000

ACCESS_TOKEN_HEADER = "X-Access-Token"


@dataclass(frozen=True)
class Caller:
    """The user behind a request and the access token they sent."""

    user: User
    access_token: str
    instances: tuple[Instance, ...]
    """The instances the user may use, by hub, group and project."""
    expires_at: datetime
    """When the access token expires (the store's time, UTC)."""


def access_token_of(connection: HTTPConnection) -> str | None:
    """The access token a request or WebSocket upgrade carries, if any."""
    token = connection.headers.get(ACCESS_TOKEN_HEADER)
    if token:
        return token.strip()
    scheme, _, credentials = connection.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def client_address(connection: HTTPConnection) -> str | None:
    """The caller's network address, for the audit log: the peer's (a proxy's, if one is in
    front), since forwarded-for headers can be forged."""
    return connection.client.host if connection.client else None


async def audit(
    store: Store,
    request: HTTPConnection,
    actor: str,
    action: AuditAction,
    target: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record in the audit log that ``actor`` did ``action`` to ``target``, from where the
    request came."""
    await blocking(store.add_audit_entry, actor, action, target, details, client_address(request))


class Callers:
    """Who holds which access token, asked of the store and remembered for a moment."""

    def __init__(
        self,
        store: Store,
        ttl: float = CALLER_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._known: dict[str, tuple[float, Caller]] = {}
        # Counts forget() calls: a lookup that a logout overtook must not be remembered.
        self._forgotten = 0

    async def authenticate(self, connection: HTTPConnection) -> Caller:
        """The caller of a live access token; :class:`Unauthorized` otherwise."""
        token = access_token_of(connection)
        if token is None:
            raise Unauthorized(
                f"Missing access token: send the 'id' that POST /api/users/loginWithToken "
                f"returned in the {ACCESS_TOKEN_HEADER} header."
            )
        now = self._clock()
        known = self._known.get(token)
        if known is not None and known[0] > now and known[1].expires_at > self._store.now():
            return known[1]
        forgotten = self._forgotten
        access = await blocking(self._store.access, token)
        if access is None:
            self._known.pop(token, None)
            raise Unauthorized(
                "Invalid access token: it is unknown, expired or revoked. Log in again with "
                "POST /api/users/loginWithToken."
            )
        caller = Caller(access.user, token, tuple(access.instances), access.expires_at)
        if forgotten != self._forgotten:
            return caller  # a logout came while the store was asked: answer, but keep nothing
        if len(self._known) >= _MAX_REMEMBERED:
            self._known = {t: k for t, k in self._known.items() if k[0] > now}
        self._known[token] = (now + self._ttl, caller)
        return caller

    def forget(self, access_token: str) -> None:
        """Stop answering for a token (it was revoked here): at once, and also for lookups of
        it that are under way."""
        self._forgotten += 1
        self._known.pop(access_token, None)


class Authenticated:
    """A FastAPI dependency answering the :class:`Caller`, or 401 in IBM's error shape."""

    def __init__(self, callers: Callers) -> None:
        self._callers = callers

    async def __call__(self, request: Request) -> Caller:
        return await self._callers.authenticate(request)
