"""Scalars and small containers: ``datetime``, ``complex``, ``set`` and NumPy scalars."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import dateutil.parser
import numpy as np


def encode_datetime(obj: date) -> str:
    """``date`` or ``datetime`` -> ISO 8601 text."""
    return obj.isoformat()


def decode_datetime(value: Any, envelope: Mapping[str, Any]) -> datetime:
    """ISO 8601 text -> ``datetime`` (a ``date`` comes back as midnight, as in IBM's decoder)."""
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 string, got {type(value).__name__}")
    try:
        return dateutil.parser.parse(value)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{value!r} is not an ISO 8601 date and time ({exc})") from exc


def encode_complex(obj: complex) -> list[float]:
    """``complex`` -> ``[real, imag]``."""
    return [float(obj.real), float(obj.imag)]


def decode_complex(value: Any, envelope: Mapping[str, Any]) -> complex:
    """``[real, imag]`` -> ``complex``."""
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, int | float) and not isinstance(part, bool) for part in value)
    ):
        raise ValueError(f"expected [real, imag], two numbers, got {value!r}")
    return complex(value[0], value[1])


def encode_set(obj: set[Any] | frozenset[Any]) -> list[Any]:
    """``set`` -> list of its members."""
    return list(obj)


def decode_set(value: Any, envelope: Mapping[str, Any]) -> set[Any]:
    """List -> ``set``."""
    if not isinstance(value, list):
        raise ValueError(f"expected a list of members, got {type(value).__name__}")
    return set(value)


def encode_numpy_integer(obj: np.integer[Any]) -> int:
    """NumPy integer scalar -> plain ``int`` (IBM's encoder does this for ``int64``)."""
    return int(obj)


def encode_numpy_floating(obj: np.floating[Any]) -> float:
    """NumPy floating scalar -> plain ``float``."""
    return float(obj)


def encode_numpy_bool(obj: np.bool_) -> bool:
    """NumPy boolean scalar -> plain ``bool``."""
    return bool(obj)
