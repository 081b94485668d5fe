"""Results: ``qiskit.result.Result`` and the primitive result containers of Qiskit 2.

The container shapes are those of qiskit-ibm-runtime's current encoder, so each side decodes the
other's output:

========================  ===================================================
``__type__``              ``__value__``
========================  ===================================================
``Result``                ``Result.to_dict()``
``BitArray``              ``{"array": ndarray (uint8), "num_bits": int}``
``DataBin``               ``{"field_names": [...], "shape": [...], "fields": {...}}``
``PubResult``             ``{"data": DataBin, "metadata": {...}}``
``SamplerPubResult``      ``{"data": DataBin, "metadata": {...}}``
``PrimitiveResult``       ``{"pub_results": [...], "metadata": {...}}``
========================  ===================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from qiskit.primitives.containers import (
    BitArray,
    DataBin,
    PrimitiveResult,
    PubResult,
    SamplerPubResult,
)
from qiskit.result import Result


def encode_result(obj: Result) -> dict[str, Any]:
    """``Result`` -> ``Result.to_dict()``."""
    as_dict: dict[str, Any] = obj.to_dict()
    return as_dict


def decode_result(value: Any, envelope: Mapping[str, Any]) -> Result:
    """``Result.to_dict()`` -> ``Result`` (also the ``"result"`` tag of clients before mid-2021)."""
    try:
        return Result.from_dict(_mapping(value, "Result.to_dict()"))
    except KeyError as exc:
        raise ValueError(f"Result.to_dict() lacks the key {exc}") from exc


def encode_bit_array(obj: BitArray) -> dict[str, Any]:
    """``BitArray`` -> its packed ``uint8`` array and number of bits."""
    return {"array": obj.array, "num_bits": obj.num_bits}


def decode_bit_array(value: Any, envelope: Mapping[str, Any]) -> BitArray:
    """The inverse of :func:`encode_bit_array`."""
    fields = _fields(value, "array", "num_bits")
    array = fields["array"]
    if not isinstance(array, np.ndarray):
        raise ValueError(f'"array" must be an ndarray, got {type(array).__name__}')
    return BitArray(array, _integer(fields["num_bits"], "num_bits"))


def encode_data_bin(obj: DataBin) -> dict[str, Any]:
    """``DataBin`` -> its field names, shape and fields."""
    return {"field_names": list(obj), "shape": obj.shape, "fields": dict(obj.items())}


def decode_data_bin(value: Any, envelope: Mapping[str, Any]) -> DataBin:
    """The inverse of :func:`encode_data_bin`."""
    fields = _fields(value, "shape", "fields")
    shape = fields["shape"] if fields["shape"] is not None else []
    if not isinstance(shape, list) or not all(isinstance(size, int) for size in shape):
        raise ValueError(f'"shape" must be a list of integers, got {shape!r}')
    return DataBin(shape=tuple(shape), **_mapping(fields["fields"], '"fields"'))


def encode_pub_result(obj: PubResult) -> dict[str, Any]:
    """``PubResult`` or ``SamplerPubResult`` -> its data bin and metadata."""
    return {"data": obj.data, "metadata": obj.metadata}


def decode_pub_result(value: Any, envelope: Mapping[str, Any]) -> PubResult:
    """The inverse of :func:`encode_pub_result`; the tag says which class to build."""
    fields = _fields(value, "data")
    data = fields["data"]
    if not isinstance(data, DataBin):
        raise ValueError(f'"data" must be a DataBin, got {type(data).__name__}')
    metadata = _mapping(fields.get("metadata") or {}, '"metadata"')
    result_class = SamplerPubResult if envelope["__type__"] == "SamplerPubResult" else PubResult
    return result_class(data, metadata)


def encode_primitive_result(obj: PrimitiveResult[Any]) -> dict[str, Any]:
    """``PrimitiveResult`` -> its pub results and metadata."""
    return {"pub_results": list(obj), "metadata": obj.metadata}


def decode_primitive_result(value: Any, envelope: Mapping[str, Any]) -> PrimitiveResult[Any]:
    """The inverse of :func:`encode_primitive_result`."""
    fields = _fields(value, "pub_results")
    pub_results = fields["pub_results"]
    if not isinstance(pub_results, list):
        raise ValueError(f'"pub_results" must be a list, got {type(pub_results).__name__}')
    return PrimitiveResult(pub_results, _mapping(fields.get("metadata") or {}, '"metadata"'))


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _fields(value: Any, *required: str) -> dict[str, Any]:
    fields = _mapping(value, "the value")
    missing = [name for name in required if name not in fields]
    if missing:
        raise ValueError(f"the value lacks {', '.join(repr(name) for name in missing)}")
    return fields


def _integer(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f'"{what}" must be an integer, got {value!r}')
    return value
