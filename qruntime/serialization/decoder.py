"""``RuntimeDecoder``: IBM's Qiskit Runtime JSON -> Python values, with errors that name the field.

Decoding runs in two steps: plain JSON parsing, then a walk over the parsed value that decodes
every ``{"__type__", "__value__"}`` object, innermost first (as IBM's ``object_hook`` did). The walk
knows where it is, so a value that cannot be decoded raises
:class:`~qruntime.errors.DecodeError` naming its place, such as
``inputs["circuits"][1]: cannot decode QuantumCircuit: ...``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from qruntime.errors import DecodeError
from qruntime.serialization.registry import DEFAULT_REGISTRY, TypeRegistry


class RuntimeDecoder(json.JSONDecoder):
    """JSON decoder that reads IBM's ``{"__type__": T, "__value__": V}`` values.

    Use it as IBM's: ``json.loads(text, cls=RuntimeDecoder)``. Text that is not JSON raises
    ``json.JSONDecodeError`` as with any JSON decoder (IBM's ``ResultDecoder`` relies on that);
    a tagged value that cannot be decoded raises :class:`~qruntime.errors.DecodeError`, whose
    field path starts at ``root``.
    """

    def __init__(self, *args: Any, root: str = "value", **kwargs: Any) -> None:
        kwargs.pop("encoding", None)  # passed by some old callers of json.loads
        super().__init__(*args, **kwargs)
        self.root = root

    def decode(self, s: str, *args: Any, **kwargs: Any) -> Any:
        """Parse ``s`` and decode every tagged value in it."""
        return decode_value(super().decode(s, *args, **kwargs), root=self.root)


def decode(text: str | bytes, *, root: str = "value") -> Any:
    """Decode JSON text in IBM's wire format.

    Raises:
        DecodeError: the text is not JSON, or a tagged value in it cannot be decoded. The message
            and ``field`` name the place, starting at ``root``.
    """
    try:
        parsed = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise DecodeError(f"{root}: the text is not valid JSON ({exc})", field=root) from exc
    tagged = "__type__" in text if isinstance(text, str) else b"__type__" in text
    if not tagged:
        return parsed  # plain JSON (a counts dict, a Result.to_dict()): nothing to walk
    return decode_value(parsed, root=root)


def decode_inputs(data: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """Decode a program's inputs (JSON text, or the already parsed ``params`` object).

    Error messages name the input, e.g. ``inputs["circuits"][1]: cannot decode ...``.
    """
    decoded = (
        decode(data, root="inputs")
        if isinstance(data, str | bytes)
        else decode_value(data, root="inputs")
    )
    if not isinstance(decoded, dict):
        raise DecodeError(
            "inputs: expected a JSON object of input names to values, "
            f"got {type(decoded).__name__}",
            field="inputs",
        )
    return dict(decoded)


def decode_value(data: Any, *, root: str = "value") -> Any:
    """Decode the tagged values inside an already parsed JSON value.

    ``data`` is not modified; the result shares with it the lists and dicts that held nothing to
    decode.

    Raises:
        DecodeError: a tagged value cannot be decoded; the message and ``field`` name its place.
    """
    try:
        return _Walk(DEFAULT_REGISTRY).value(data)
    except _FieldError as err:
        field = root + "".join(reversed(err.segments))
        raise DecodeError(f"{field}: {err.message}", field=field) from err.__cause__


class _FieldError(Exception):
    """A failure deep in the walk; each level adds its path segment on the way out."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.segments: list[str] = []


class _Walk:
    def __init__(self, registry: TypeRegistry) -> None:
        self._registry = registry

    def value(self, node: Any) -> Any:
        if isinstance(node, dict):
            return self._tagged(node) if "__type__" in node else self._dict(node)
        if isinstance(node, list):
            return self._list(node)
        return node

    def _dict(self, node: dict[Any, Any]) -> dict[Any, Any]:
        result = node
        for key, item in node.items():
            if not isinstance(item, dict | list):
                continue
            try:
                decoded = self.value(item)
            except _FieldError as err:
                err.segments.append(f"[{_key(key)}]")
                raise
            if decoded is not item:
                if result is node:
                    result = dict(node)
                result[key] = decoded
        return result

    def _list(self, node: list[Any]) -> list[Any]:
        result = node
        for index, item in enumerate(node):
            if not isinstance(item, dict | list):
                continue
            try:
                decoded = self.value(item)
            except _FieldError as err:
                err.segments.append(f"[{index}]")
                raise
            if decoded is not item:
                if result is node:
                    result = list(node)
                result[index] = decoded
        return result

    def _tagged(self, node: dict[Any, Any]) -> Any:
        tag = node["__type__"]
        entry = self._registry.for_tag(tag) if isinstance(tag, str) else None
        if entry is None or entry.decode is None:
            raise _FieldError(
                f"unknown __type__ {tag!r}; the known types are {', '.join(self._registry.tags())}"
            )
        if "__value__" not in node:
            raise _FieldError(f"cannot decode {tag}: the object has no __value__")
        value = self.value(node["__value__"])
        try:
            return entry.decode(value, node)
        except Exception as exc:  # the one place where any decoding failure becomes a DecodeError
            raise _FieldError(f"cannot decode {tag}: {_reason(exc)}") from exc


def _key(key: Any) -> str:
    return json.dumps(key) if isinstance(key, str) else repr(key)


def _reason(exc: BaseException) -> str:
    # Decoders raise ValueError with a message written for users; anything else gets its type.
    if isinstance(exc, ValueError) and type(exc).__module__ in ("builtins", "qruntime.errors"):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
