"""Request bodies: JSON whatever the Content-Type, and a cap on their size.

IBM's clients send ``POST /programs`` and ``POST /jobs`` as ``data=json.dumps(...)`` with no
Content-Type, so bodies are parsed as JSON regardless of the header.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qruntime.errors import InputError
from qruntime.server.errors import error_response

MAX_BODY_BYTES = 64 * 1024 * 1024


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON; ``InputError`` if it is not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"The request body is not valid JSON: {exc}") from exc


class BodySizeLimit:
    """ASGI middleware answering 413 to a body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, f"The request body is larger than {self.limit} bytes; send less."
        )
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass
