"""Circuit parameters and parameter expressions, as raw (uncompressed) QPY records.

A ``Parameter`` is QPY's PARAMETER record (name length, UUID, name). A ``ParameterExpression`` is
QPY's PARAMETER_EXPR record, whose expression body has had three encodings over the years, and the
record carries no version number. The decoder tells them apart by the body's first bytes:

- a SymPy ``srepr`` string (``Add(Symbol('a'), ...)``): IBM's 2021 clients, Qiskit Terra < 0.24;
- a SymEngine archive (starts with ``01 00``): later Terra with ``use_symengine``;
- QPY >= 13 replay records (35 bytes each: op code, operand type letter, ...): Qiskit >= 1.0, and
  what this encoder writes.

Qiskit has no public API for standalone expression records, so its private QPY readers are used
here, behind these few functions.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import struct
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from qiskit.circuit import Parameter, ParameterExpression
from qiskit.qpy.binary_io import value as qpy_value

from qruntime.serialization.binary import from_base64, to_base64
from qruntime.serialization.circuits import QPY_VERSION

_PARAMETER = struct.Struct("!H16s")  # QPY PARAMETER: name length, UUID bytes; then the name
_EXPRESSION = struct.Struct("!QQ")  # QPY PARAMETER_EXPR: symbol-map length, body length
_REPLAY_RECORD_SIZE = 35  # QPY PARAM_EXPR_ELEM_V13 "!Bc16sc16s"
_REPLAY_OPERAND_TYPES = frozenset(b"pfncisue")


def encode_parameter(obj: Parameter) -> str:
    """``Parameter`` -> base64 of its QPY PARAMETER record."""
    name = obj.name.encode("utf-8")
    return to_base64(_PARAMETER.pack(len(name), obj.uuid.bytes) + name, compress=False)


def decode_parameter(value: Any, envelope: Mapping[str, Any]) -> Parameter:
    """The inverse of :func:`encode_parameter` (same name, same UUID)."""
    data = from_base64(value, decompress=False)
    if len(data) < _PARAMETER.size:
        raise ValueError(f"{len(data)} bytes are too few for a QPY parameter record")
    name_size, uuid_bytes = _PARAMETER.unpack_from(data)
    if len(data) != _PARAMETER.size + name_size:
        raise ValueError(
            f"the QPY parameter record announces a {name_size}-byte name but holds "
            f"{len(data) - _PARAMETER.size} bytes"
        )
    name = data[_PARAMETER.size :].decode("utf-8")
    return Parameter(name, uuid=uuid.UUID(bytes=uuid_bytes))


def encode_expression(obj: ParameterExpression) -> str:
    """``ParameterExpression`` (or a vector element) -> base64 of its QPY PARAMETER_EXPR record."""
    with io.BytesIO() as buffer:
        qpy_value._write_parameter_expression(buffer, obj, False, version=QPY_VERSION)
        return to_base64(buffer.getvalue(), compress=False)


def decode_expression(value: Any, envelope: Mapping[str, Any]) -> ParameterExpression:
    """The inverse of :func:`encode_expression`, for every body encoding (see the module doc).

    An expression that is a single symbol comes back as that ``Parameter`` or
    ``ParameterVectorElement``, which is how IBM's old client sends parameters.
    """
    data = from_base64(value, decompress=False)
    if len(data) < _EXPRESSION.size:
        raise ValueError(f"{len(data)} bytes are too few for a QPY parameter expression record")
    _, body_size = _EXPRESSION.unpack_from(data)
    body = data[_EXPRESSION.size : _EXPRESSION.size + body_size]
    if len(body) != body_size:
        raise ValueError("the QPY parameter expression record is truncated")
    reader = _reader_for(body)
    buffer = io.BytesIO(data)
    try:
        expression = reader(buffer)
    except Exception as exc:  # the QPY readers fail with struct, key and QPY errors alike
        raise ValueError(
            f"the data is not a QPY parameter expression record ({type(exc).__name__}: {exc})"
        ) from exc
    if buffer.tell() != len(data):
        raise ValueError(f"{len(data) - buffer.tell()} bytes follow the parameter expression")
    if not isinstance(expression, ParameterExpression):
        raise ValueError(f"the record holds {type(expression).__name__}, not an expression")
    if not isinstance(expression, Parameter) and expression.is_symbol():
        (symbol,) = expression.parameters
        return symbol
    return expression


def _reader_for(body: bytes) -> Callable[[io.BytesIO], Any]:
    if not body:
        raise ValueError("the QPY parameter expression record has an empty body")
    if body[:1].isalpha():
        return functools.partial(
            qpy_value._read_parameter_expression_v3, vectors={}, use_symengine=False
        )
    if len(body) % _REPLAY_RECORD_SIZE == 0 and body[1:2] and body[1] in _REPLAY_OPERAND_TYPES:
        return functools.partial(
            qpy_value._read_parameter_expression_v13, vectors={}, version=QPY_VERSION
        )
    if importlib.util.find_spec("symengine") is None:
        raise ValueError(
            "the expression was written with SymEngine; install the 'symengine' package "
            "to decode it, or send it from a client that does not use SymEngine"
        )
    return functools.partial(
        qpy_value._read_parameter_expression_v3, vectors={}, use_symengine=True
    )
