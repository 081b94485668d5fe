"""Exceptions raised by the qruntime client.

    QRuntimeError
    └── RuntimeClientError               any client error; ``status_code`` if the server answered
        ├── RuntimeRequestError          an HTTP error with no more specific meaning (400, 413,
        │                                5xx), or no answer at all (``status_code`` None)
        ├── NotAuthorizedError           401/403: bad API token, or the plan/instance forbids it
        ├── RuntimeJobNotFound           no job of that id (404)
        ├── RuntimeProgramNotFound       no program of that id (404)
        ├── RuntimeDuplicateProgramError a program of that name already exists (409 on upload)
        ├── RuntimeInvalidStateError     the job's state does not allow it (409 on cancel, the
        │                                result of a cancelled job, streaming a finished job)
        ├── RuntimeJobFailureError       the job failed; the message holds the error text
        │   └── RuntimeJobMaxTimeoutError    it ran longer than its max execution time
        └── RuntimeJobTimeoutError       the job did not finish within the caller's timeout

The names are those of IBM's runtime clients, so code that catches them reads the same.
"""

from __future__ import annotations

from qruntime.errors import QRuntimeError


class RuntimeClientError(QRuntimeError):
    """Base class of the client's errors. ``status_code`` is the HTTP status, if there was one."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class RuntimeRequestError(RuntimeClientError):
    """The server refused a request for no more specific reason, or could not be reached."""


class NotAuthorizedError(RuntimeClientError):
    """The API token is not valid, or the account's plan or instance does not allow the request."""


class RuntimeJobNotFound(RuntimeClientError):
    """No job of that id is visible to this account."""


class RuntimeProgramNotFound(RuntimeClientError):
    """No program of that id is visible to this account."""


class RuntimeDuplicateProgramError(RuntimeClientError):
    """A program of that name already exists."""


class RuntimeInvalidStateError(RuntimeClientError):
    """The job is in a state that does not allow the operation."""


class RuntimeJobFailureError(RuntimeClientError):
    """The job failed. The message holds the error text the server recorded."""


class RuntimeJobMaxTimeoutError(RuntimeJobFailureError):
    """The job ran longer than its max execution time and was cancelled by the service."""


class RuntimeJobTimeoutError(RuntimeClientError, TimeoutError):
    """The job did not reach a final state within the time the caller was willing to wait."""
