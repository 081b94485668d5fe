"""``RuntimeEncoder``: Python values -> IBM's Qiskit Runtime JSON."""

from __future__ import annotations

import json
import warnings
from typing import Any

from qruntime.errors import QRuntimeWarning
from qruntime.serialization.registry import DEFAULT_REGISTRY
from qruntime.serialization.settings import encode_settings


class RuntimeEncoder(json.JSONEncoder):
    """JSON encoder that writes IBM's ``{"__type__": T, "__value__": V}`` values.

    A value is looked up in the registry of tagged types first (circuits, arrays, results, ...).
    Other objects fall back as in IBM's encoder: an object with ``to_json()`` is sent as that
    string (tag ``to_json``), one with ``settings`` as its settings (tag ``settings``), and a
    callable as ``null`` with a :class:`~qruntime.errors.QRuntimeWarning`. Anything else raises
    ``TypeError``.

    Use it as IBM's: ``json.dumps(value, cls=RuntimeEncoder)``.
    """

    def default(self, o: Any) -> Any:
        """Return a JSON-encodable stand-in for ``o``."""
        entry = DEFAULT_REGISTRY.for_class(type(o))
        if entry is not None:
            return entry.envelope(o)
        if isinstance(o, type):
            return super().default(o)
        if hasattr(o, "to_json"):
            return {"__type__": "to_json", "__value__": o.to_json()}
        if hasattr(o, "settings"):
            return encode_settings(o)
        if callable(o):
            warnings.warn(
                f"Callable {o!r} is not JSON serializable and will be set to None.",
                QRuntimeWarning,
                stacklevel=2,
            )
            return None
        return super().default(o)


def encode(obj: Any) -> str:
    """Return ``obj`` as JSON text in IBM's wire format (``json.dumps`` with RuntimeEncoder)."""
    return json.dumps(obj, cls=RuntimeEncoder)
