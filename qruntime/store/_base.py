"""What every part of the :class:`~qruntime.store.Store` shares: the database and the clock."""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import CursorResult, Result

from qruntime.errors import InputError
from qruntime.settings import DEFAULT_MAX_INTERIM_RESULTS
from qruntime.store.database import Database
from qruntime.store.records import Program

Clock = Callable[[], datetime]
"""Returns the current time, tz-aware. Tests inject one to control expiry and run times."""

MAX_INTERIM_RESULT_BYTES = 1_048_576
"""The largest interim result a job may publish (its encoded JSON text, UTF-8): 1 MiB."""

_LOWER_ALNUM = string.ascii_lowercase + string.digits
_ALNUM = string.ascii_letters + string.digits


class Unset(Enum):
    """The type of :data:`UNSET`: an argument that was not given (None can be a value)."""

    UNSET = "UNSET"


UNSET = Unset.UNSET


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched."""
    return cast("CursorResult[Any]", result).rowcount


def aware(moment: datetime, field: str) -> datetime:
    """``moment`` if it is tz-aware; :class:`InputError` for a naive datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(
            f"{field} must be a tz-aware datetime (e.g. with tzinfo=UTC); got a naive {moment}",
            field=field,
        )
    return moment


def utc_now() -> datetime:
    return datetime.now(UTC)


def random_id(length: int, alphabet: str = _LOWER_ALNUM) -> str:
    """A random id from ``alphabet``; 20 lower-case letters and digits carry 103 bits."""
    # One read of the system's randomness, not one per character; bytes past the largest
    # multiple of the alphabet's size are skipped, so that every character is equally likely.
    size = len(alphabet)
    usable = 256 - 256 % size
    chosen: list[str] = []
    while len(chosen) < length:
        chosen += [alphabet[byte % size] for byte in secrets.token_bytes(length) if byte < usable]
    return "".join(chosen[:length])


def random_suffix(length: int = 10) -> str:
    """Mixed-case letters and digits, as in IBM's program ids (``my-prog-Ab3dE9xK2q``)."""
    return random_id(length, _ALNUM)


def token_hash(token: str) -> str:
    """SHA-256 of a token, hex. Tokens carry 256 random bits or more, so no salt or stretching
    is needed: nobody can guess their way to a preimage, and the lookup stays one index probe.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class StoreBase:
    """The database and the clock; the parts of the store are mixins over this."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock = utc_now,
        max_interim_results: int | None = DEFAULT_MAX_INTERIM_RESULTS,
    ) -> None:
        self._db = database
        self._clock = clock
        self.max_interim_results = max_interim_results
        """How many interim results one job may publish (``None``: no limit)."""
        self.max_interim_result_bytes = MAX_INTERIM_RESULT_BYTES
        # Built-in programs change only when a server starts (and upserts them), so they are
        # read once; every job reads its program.
        self._builtin_programs: dict[str, Program] = {}

    @property
    def database(self) -> Database:
        return self._db

    def now(self) -> datetime:
        """The store's current time (tz-aware UTC), by which tokens expire."""
        return self._now()

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the store's clock must return tz-aware datetimes")
        return now.astimezone(UTC)
