"""IBM's Qiskit Runtime wire format: ``RuntimeEncoder`` and ``RuntimeDecoder``.

Program inputs, interim results and final results travel as JSON in which every value that JSON
cannot hold is an object ``{"__type__": T, "__value__": V}``, exactly as IBM's clients
(qiskit-ibmq-provider 0.16-0.20, qiskit-ibm-runtime) write and read it:

==================  ===========================================================================
``__type__``        ``__value__``
==================  ===========================================================================
datetime            ISO 8601 text
complex             ``[real, imag]``
ndarray             base64(zlib(.npy)); an ``object`` array as nested lists
set                 list of members
Result              ``Result.to_dict()``
to_json             what the object's ``to_json()`` returned (decoded as is, not rebuilt)
QuantumCircuit      base64(zlib(QPY)); any QPY version Qiskit can load is read
Parameter           base64(QPY parameter record)
ParameterExpression base64(QPY parameter expression record), SymPy, SymEngine or replay body
Instruction         base64(zlib(QPY of a circuit holding just the instruction))
settings            an object's ``settings`` (+ ``__module__``, ``__class__``); allowlisted
spmatrix            base64(``scipy.sparse.save_npz``)
NoiseModel          ``NoiseModel.to_dict()``
BitArray, DataBin,  the shapes of qiskit-ibm-runtime's current encoder
PubResult, ...
==================  ===========================================================================

Callables become ``null`` with a warning. The decoder builds only registered tags and allowlisted
``settings`` classes, and reports what it cannot decode as :class:`~qruntime.errors.DecodeError`
naming the field.
"""

from __future__ import annotations

from typing import Any

from qruntime.serialization.decoder import RuntimeDecoder, decode, decode_inputs, decode_value
from qruntime.serialization.encoder import RuntimeEncoder, encode
from qruntime.serialization.settings import (
    SettingsFactory,
    allowed_settings_classes,
    register_settings_class,
)

__all__ = [
    "RuntimeDecoder",
    "RuntimeEncoder",
    "SettingsFactory",
    "allowed_settings_classes",
    "decode",
    "decode_inputs",
    "decode_value",
    "encode",
    "register_settings_class",
    "round_trip",
]


def round_trip(obj: Any, *, root: str = "value") -> Any:
    """Encode ``obj`` and decode it again, as the service does with program inputs.

    Use it to hand a program the inputs it would get after upload: what survives the wire, in
    the form it arrives. Errors name fields starting at ``root`` (say ``"inputs"``).
    """
    return decode(encode(obj), root=root)
