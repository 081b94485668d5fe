"""Who is calling: the access token that ``loginWithToken`` issued, on every call after it.

IBM's clients send it as ``X-Access-Token`` (REST and the WebSocket upgrade alike); other
clients may send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection, Request

from qruntime.server.errors import Unauthorized
from qruntime.server.routes.blocking import blocking
from qruntime.store import Store
from qruntime.store.records import User

ACCESS_TOKEN_HEADER = "X-Access-Token"


@dataclass(frozen=True)
class Caller:
    """The user behind a request and the access token they sent."""

    user: User
    access_token: str


def access_token_of(connection: HTTPConnection) -> str | None:
    """The access token a request or WebSocket upgrade carries, if any."""
    token = connection.headers.get(ACCESS_TOKEN_HEADER)
    if token:
        return token.strip()
    scheme, _, credentials = connection.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


async def authenticate(store: Store, connection: HTTPConnection) -> Caller:
    """The caller of a live access token; :class:`Unauthorized` otherwise."""
    token = access_token_of(connection)
    if token is None:
        raise Unauthorized(
            f"Missing access token: send the 'id' that POST /api/users/loginWithToken returned "
            f"in the {ACCESS_TOKEN_HEADER} header."
        )
    user = await blocking(store.user_by_access_token, token)
    if user is None:
        raise Unauthorized(
            "Invalid access token: it is unknown, expired or revoked. Log in again with "
            "POST /api/users/loginWithToken."
        )
    return Caller(user, token)


class Authenticated:
    """A FastAPI dependency answering the :class:`Caller`, or 401 in IBM's error shape."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def __call__(self, request: Request) -> Caller:
        return await authenticate(self._store, request)
