"""Turning the text of a result or interim result into Python values."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from qruntime.serialization import decode_value


class SupportsDecode(Protocol):
    """Anything with ``decode(text)``: IBM's ``ResultDecoder`` classes and their subclasses."""

    def decode(self, data: str, /) -> Any: ...


Decoder = SupportsDecode | Callable[[str], Any]
"""A result decoder: a class or object with ``decode(text)``, or a function of the text."""


class ResultDecoder:
    """The default decoder, as IBM's: the wire format's JSON, or the text itself if not JSON."""

    @classmethod
    def decode(cls, data: str) -> Any:
        """Decode ``data``; text that is not JSON is returned as it is, empty text as ``None``."""
        if not data:
            return None
        try:
            parsed = json.loads(data)
        except ValueError:
            return data
        return decode_value(parsed, root="result")


def decode_with(decoder: Decoder | None, data: str) -> Any:
    """Decode ``data`` with ``decoder`` (the default :class:`ResultDecoder` when ``None``)."""
    if decoder is None:
        return ResultDecoder.decode(data)
    method = getattr(decoder, "decode", None)
    if callable(method):
        return method(data)
    if callable(decoder):
        return decoder(data)
    raise TypeError(f"a decoder needs a decode(text) method or must be callable, not {decoder!r}")
