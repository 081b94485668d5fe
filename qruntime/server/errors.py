"""Errors as IBM's API answered them: ``{"error": {"message": "...", "code": N}}``.

IBM's clients append both fields to the exception they raise, and retry POSTs on 5xx, so bad
input must never come back as a 500: every error qruntime raises on purpose maps to a 4xx here.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from qruntime.errors import InputError, ProgramNotFoundError, QRuntimeError

logger = logging.getLogger(__name__)


class APIError(QRuntimeError):
    """An error with the HTTP status it answers with, and any headers to send along."""

    def __init__(
        self, status_code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers = dict(headers or {})


class Unauthorized(APIError):
    def __init__(self, message: str = "Missing or invalid access token.") -> None:
        super().__init__(401, message)


class NotFound(APIError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class Conflict(APIError):
    def __init__(self, message: str) -> None:
        super().__init__(409, message)


class Forbidden(APIError):
    def __init__(self, message: str) -> None:
        super().__init__(403, message)


class PayloadTooLarge(APIError):
    """413: something the request carries is larger than the server accepts."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class TooManyRequests(APIError):
    """429 with ``Retry-After``: the whole seconds (at least 1) until a retry may succeed."""

    def __init__(self, message: str, retry_after: int) -> None:
        retry_after = max(1, retry_after)
        super().__init__(429, message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON body IBM's clients parse for every failed call."""
    return JSONResponse(
        status_code=status_code,
        content={"error": {"message": message, "code": status_code}},
        headers=headers,
    )


def status_for(exc: QRuntimeError) -> int:
    """The HTTP status of an error qruntime raised on purpose."""
    if isinstance(exc, APIError):
        return exc.status_code
    if isinstance(exc, ProgramNotFoundError):
        return 404
    if isinstance(exc, InputError):
        return 400
    return 400


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error in IBM's shape."""

    async def on_qruntime_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, QRuntimeError)
        headers = exc.headers if isinstance(exc, APIError) else None
        return error_response(status_for(exc), str(exc), headers)

    async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code, str(exc.detail))

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(400, _validation_message(exc.errors()))

    async def on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error", exc_info=exc)
        return error_response(500, "Internal server error; the server log has the details.")

    app.add_exception_handler(QRuntimeError, on_qruntime_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)


def _validation_message(errors: Any) -> str:
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "Invalid request: " + "; ".join(parts)
