"""Exceptions raised by qruntime.

    QRuntimeError                   every error qruntime raises on purpose
    ├── InputError                  a user's input is wrong; says what, and what is allowed
    │   ├── DecodeError             a wire-format value cannot be decoded (names the field)
    │   ├── InvalidInputsError      program inputs do not match the program's parameter spec
    │   ├── BackendNotFoundError    no backend of that name (lists the names there are)
    │   └── ProgramNotFoundError    no program of that id (lists the built-in ones)
    └── ProgramFailedError          the program's ``main`` raised; carries the traceback text

``InputError`` subclasses ``ValueError`` so that callers written against plain Python keep working.
"""

from __future__ import annotations


class QRuntimeError(Exception):
    """Base class of every error qruntime raises on purpose."""


class QRuntimeWarning(UserWarning):
    """Something worked, but not as the user probably meant."""


class InputError(QRuntimeError, ValueError):
    """A user's input is wrong. ``field`` names the input when one is to blame."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DecodeError(InputError):
    """A value in IBM's wire format (``{"__type__", "__value__"}``) cannot be decoded."""


class InvalidInputsError(InputError):
    """Program inputs do not match the program's ``spec.parameters``."""


class BackendNotFoundError(InputError):
    """No backend of the requested name."""


class ProgramNotFoundError(InputError):
    """No program of the requested id."""


class ProgramFailedError(QRuntimeError):
    """The program's ``main`` raised. ``traceback`` is the formatted traceback of the program."""

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback
