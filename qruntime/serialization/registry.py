"""The registry of tagged types: the one table of what travels as ``{"__type__", "__value__"}``.

Each :class:`TaggedType` names its ``__type__`` tag, the Python classes it encodes and the
functions that encode and decode it. The encoder finds an entry by walking the object's class
hierarchy (so ``Parameter`` wins over ``ParameterExpression``), the decoder by the tag alone.

Classes are named as ``"module:Name"`` and resolved only once their module has been imported by
someone else: an object of a class cannot exist before its module is imported, so the registry
never imports SciPy or Aer just to ask whether an object is theirs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qruntime.serialization import (
    arrays,
    circuits,
    noise,
    parameters,
    results,
    scalars,
    settings,
)

Encode = Callable[[Any], Any]
"""Turns an object into a JSON value (which may hold further objects to encode)."""

Decode = Callable[[Any, Mapping[str, Any]], Any]
"""Turns a decoded ``__value__`` back into an object; also gets the whole envelope."""


@dataclass(frozen=True)
class TaggedType:
    """One kind of value on the wire.

    ``tag`` is the ``__type__``; ``None`` means the encoder writes the encoded value as is, with
    no envelope (NumPy scalars, for instance). ``classes`` are ``"module:Name"`` strings of the
    classes encoded this way; ``encode``/``decode`` may be ``None`` for a one-way entry, such as
    a legacy tag that is only read.
    """

    tag: str | None
    classes: tuple[str, ...] = ()
    encode: Encode | None = None
    decode: Decode | None = None

    def envelope(self, obj: Any) -> Any:
        """The wire form of ``obj``: ``{"__type__": tag, "__value__": encode(obj)}``."""
        assert self.encode is not None
        value = self.encode(obj)
        return value if self.tag is None else {"__type__": self.tag, "__value__": value}


class TypeRegistry:
    """Tagged types by ``__type__`` (for decoding) and by Python class (for encoding)."""

    def __init__(self, entries: Iterable[TaggedType] = ()) -> None:
        self._by_tag: dict[str, TaggedType] = {}
        self._unresolved: list[tuple[str, str, TaggedType]] = []
        self._by_class: dict[type, TaggedType] = {}
        self._lookups: dict[type, TaggedType | None] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: TaggedType) -> None:
        """Register ``entry``; a later entry for the same tag or class replaces the earlier."""
        if entry.tag is not None and entry.decode is not None:
            self._by_tag[entry.tag] = entry
        if entry.encode is not None:
            for spec in entry.classes:
                module, _, name = spec.partition(":")
                self._unresolved.append((module, name, entry))
        self._lookups.clear()

    def for_tag(self, tag: str) -> TaggedType | None:
        """The entry that decodes ``tag``, if any."""
        return self._by_tag.get(tag)

    def tags(self) -> list[str]:
        """Every tag the decoder accepts, sorted."""
        return sorted(self._by_tag)

    def for_class(self, cls: type) -> TaggedType | None:
        """The entry that encodes instances of ``cls``: the nearest registered base class."""
        try:
            return self._lookups[cls]
        except KeyError:
            pass
        self._resolve_imported()
        found = next((self._by_class[base] for base in cls.__mro__ if base in self._by_class), None)
        self._lookups[cls] = found
        return found

    def _resolve_imported(self) -> None:
        pending = []
        for module, name, entry in self._unresolved:
            cls = getattr(sys.modules[module], name, None) if module in sys.modules else None
            if isinstance(cls, type):
                self._by_class[cls] = entry
            else:
                pending.append((module, name, entry))
        self._unresolved = pending


def default_types() -> list[TaggedType]:
    """IBM's tagged types, the Qiskit 2 result containers, and the legacy tags still read."""
    return [
        TaggedType(
            "datetime", ("datetime:date",), scalars.encode_datetime, scalars.decode_datetime
        ),
        TaggedType(
            "complex",
            ("builtins:complex", "numpy:complexfloating"),
            scalars.encode_complex,
            scalars.decode_complex,
        ),
        TaggedType("ndarray", ("numpy:ndarray",), arrays.encode_ndarray, arrays.decode_ndarray),
        TaggedType(
            "set", ("builtins:set", "builtins:frozenset"), scalars.encode_set, scalars.decode_set
        ),
        TaggedType(None, ("numpy:integer",), scalars.encode_numpy_integer),
        TaggedType(None, ("numpy:floating",), scalars.encode_numpy_floating),
        TaggedType(None, ("numpy:bool_",), scalars.encode_numpy_bool),
        TaggedType(
            "Result", ("qiskit.result:Result",), results.encode_result, results.decode_result
        ),
        TaggedType("to_json", decode=_as_is),
        TaggedType(
            "QuantumCircuit",
            ("qiskit.circuit:QuantumCircuit",),
            circuits.encode_circuit,
            circuits.decode_circuit,
        ),
        TaggedType(
            "Parameter",
            ("qiskit.circuit:Parameter",),
            parameters.encode_parameter,
            parameters.decode_parameter,
        ),
        # A vector element would come back as a plain Parameter from the "Parameter" record,
        # which is not equal to the element; the expression record keeps the vector.
        TaggedType(
            "ParameterExpression",
            ("qiskit.circuit:ParameterExpression", "qiskit.circuit:ParameterVectorElement"),
            parameters.encode_expression,
            parameters.decode_expression,
        ),
        TaggedType(None, ("qiskit.circuit.parametertable:ParameterView",), list),
        TaggedType(
            "Instruction",
            ("qiskit.circuit:Instruction",),
            circuits.encode_instruction,
            circuits.decode_instruction,
        ),
        TaggedType(None, ("qiskit.transpiler:CouplingMap",), circuits.encode_coupling_map),
        TaggedType("settings", decode=settings.decode_settings),
        TaggedType(
            "spmatrix",
            ("scipy.sparse:spmatrix", "scipy.sparse:sparray"),
            arrays.encode_sparse,
            arrays.decode_sparse,
        ),
        TaggedType(
            "NoiseModel",
            ("qiskit_aer.noise:NoiseModel",),
            noise.encode_noise_model,
            noise.decode_noise_model,
        ),
        TaggedType(
            "BitArray",
            ("qiskit.primitives.containers:BitArray",),
            results.encode_bit_array,
            results.decode_bit_array,
        ),
        TaggedType(
            "DataBin",
            ("qiskit.primitives.containers:DataBin",),
            results.encode_data_bin,
            results.decode_data_bin,
        ),
        TaggedType(
            "PubResult",
            ("qiskit.primitives.containers:PubResult",),
            results.encode_pub_result,
            results.decode_pub_result,
        ),
        TaggedType(
            "SamplerPubResult",
            ("qiskit.primitives.containers:SamplerPubResult",),
            results.encode_pub_result,
            results.decode_pub_result,
        ),
        TaggedType(
            "PrimitiveResult",
            ("qiskit.primitives.containers:PrimitiveResult",),
            results.encode_primitive_result,
            results.decode_primitive_result,
        ),
        # Read only: qiskit-ibmq-provider 0.13/0.14 (spring 2021) wrote these two.
        TaggedType("array", decode=arrays.decode_legacy_array),
        TaggedType("result", decode=results.decode_result),
    ]


def _as_is(value: Any, envelope: Mapping[str, Any]) -> Any:
    # IBM's decoder hands back what to_json() produced; the program calls from_json() itself.
    return value


DEFAULT_REGISTRY = TypeRegistry(default_types())
"""The registry that :class:`RuntimeEncoder` and :class:`RuntimeDecoder` use."""
