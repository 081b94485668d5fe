"""NumPy arrays and SciPy sparse matrices.

A numeric array travels as ``base64(zlib(.npy))``, written and read with ``allow_pickle=False``
so a payload can never smuggle in a pickle; an ``object`` array travels as nested lists, as in
IBM's encoder. A sparse matrix travels as ``base64(.npz)`` without zlib (the ``.npz`` is already
compressed).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from qruntime.serialization.binary import from_base64, to_base64

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def encode_ndarray(obj: np.ndarray[Any, Any]) -> str | Any:
    """``ndarray`` -> base64 of a compressed ``.npy``; an ``object`` array -> nested lists."""
    if obj.dtype == object:
        return obj.tolist()
    with io.BytesIO() as buffer:
        np.save(buffer, obj, allow_pickle=False)
        return to_base64(buffer.getvalue(), compress=True)


def decode_ndarray(value: Any, envelope: Mapping[str, Any]) -> np.ndarray[Any, Any]:
    """The inverse of :func:`encode_ndarray`; a list becomes an ``object`` array again."""
    if not isinstance(value, str):
        return np.array(value, dtype=object)
    data = from_base64(value, decompress=True)
    if not data.startswith(_NPY_MAGIC):
        raise ValueError("the data is not a .npy array (it lacks the NumPy file header)")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"the data is not a .npy array ({exc})") from exc
    if not isinstance(array, np.ndarray):
        raise ValueError(f"the data is not a .npy array but {type(array).__name__}")
    return array


def decode_legacy_array(value: Any, envelope: Mapping[str, Any]) -> np.ndarray[Any, Any]:
    """``{"__type__": "array"}`` (IBM's clients before mid-2021: ``tolist()``) -> ``ndarray``."""
    if not isinstance(value, list):
        raise ValueError(f"expected a (nested) list, got {type(value).__name__}")
    return np.asarray(value)


def encode_sparse(obj: Any) -> str:
    """SciPy sparse matrix or array -> base64 of ``scipy.sparse.save_npz``."""
    import scipy.sparse

    with io.BytesIO() as buffer:
        scipy.sparse.save_npz(buffer, obj)
        return to_base64(buffer.getvalue(), compress=False)


def decode_sparse(value: Any, envelope: Mapping[str, Any]) -> Any:
    """The inverse of :func:`encode_sparse`."""
    import scipy.sparse

    data = from_base64(value, decompress=False)
    if not data.startswith(_ZIP_MAGIC):
        raise ValueError("the data is not a scipy.sparse .npz file (it lacks the zip header)")
    try:
        return scipy.sparse.load_npz(io.BytesIO(data))
    except Exception as exc:  # zipfile, NumPy and SciPy each raise their own kinds here
        raise ValueError(f"the data is not a scipy.sparse .npz file ({exc})") from exc
