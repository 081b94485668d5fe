"""Binary payloads inside JSON: base64 text, optionally zlib-compressed.

IBM's format carries NumPy arrays, QPY and ``.npz`` files as ``base64(zlib(bytes))`` or, for
parameters and sparse matrices, as ``base64(bytes)``. These helpers do both directions and turn
every way the text can be broken into a ``ValueError`` whose message a user can act on.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any


def to_base64(data: bytes, *, compress: bool) -> str:
    """Return ``data`` as base64 text, zlib-compressed first when ``compress`` is true."""
    if compress:
        data = zlib.compress(data)
    return base64.standard_b64encode(data).decode("ascii")


def from_base64(text: Any, *, decompress: bool) -> bytes:
    """Return the bytes that :func:`to_base64` turned into ``text``.

    Raises:
        ValueError: ``text`` is not a string, not base64, or (with ``decompress``) not zlib data.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a base64 string, got {type(text).__name__}")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"the value is not valid base64 ({exc})") from exc
    if decompress:
        try:
            data = zlib.decompress(data)
        except zlib.error as exc:
            raise ValueError(f"the value is not zlib-compressed data ({exc})") from exc
    return data
