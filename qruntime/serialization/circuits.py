"""Quantum circuits and standalone instructions, as QPY.

A circuit travels as ``base64(zlib(QPY))``; an instruction as the QPY of a circuit holding just
that instruction (IBM's clients since qiskit-ibmq-provider 0.19). The encoder of
qiskit-ibmq-provider 0.18 and older raised ``TypeError`` on instructions
(Qiskit/qiskit-ibm-provider#190), so no payload of its raw form exists to be read.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from typing import Any

import qiskit
from qiskit import qpy
from qiskit.circuit import Instruction, QuantumCircuit

from qruntime.errors import DecodeError
from qruntime.serialization.binary import from_base64, to_base64

# The newest QPY version that IBM's current client writes (its service reads no newer); every
# Qiskit 2.x that knows it can load the payload. ``qpy.load`` itself reads every older version.
QPY_VERSION = min(17, qpy.QPY_VERSION)


def encode_circuit(obj: QuantumCircuit) -> str:
    """``QuantumCircuit`` -> base64 of compressed QPY; metadata goes through RuntimeEncoder."""
    # Imported here: the encoder imports the registry, which imports this module.
    from qruntime.serialization.encoder import RuntimeEncoder

    with io.BytesIO() as buffer:
        qpy.dump(obj, buffer, metadata_serializer=RuntimeEncoder, version=QPY_VERSION)
        return to_base64(buffer.getvalue(), compress=True)


def decode_circuit(value: Any, envelope: Mapping[str, Any]) -> QuantumCircuit:
    """The inverse of :func:`encode_circuit`; reads any QPY version this Qiskit can load."""
    from qruntime.serialization.decoder import RuntimeDecoder

    data = from_base64(value, decompress=True)
    metadata_decoder = functools.partial(RuntimeDecoder, root="metadata")
    try:
        programs = qpy.load(io.BytesIO(data), metadata_deserializer=metadata_decoder)
    except DecodeError:
        raise
    except Exception as exc:  # QPY reports a broken file through many exception types
        raise ValueError(
            f"the data is not QPY that Qiskit {qiskit.__version__} can load "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if not programs or not isinstance(programs[0], QuantumCircuit):
        raise ValueError("the QPY data holds no circuit")
    circuit: QuantumCircuit = programs[0]
    return circuit


def encode_instruction(obj: Instruction) -> str:
    """``Instruction`` -> the QPY of a circuit holding only that instruction."""
    circuit = QuantumCircuit(obj.num_qubits, obj.num_clbits)
    circuit.append(obj, circuit.qubits, circuit.clbits)
    return encode_circuit(circuit)


def decode_instruction(value: Any, envelope: Mapping[str, Any]) -> Instruction:
    """The inverse of :func:`encode_instruction`: the first operation of the decoded circuit."""
    circuit = decode_circuit(value, envelope)
    if not circuit.data:
        raise ValueError("the QPY circuit holds no instruction")
    operation: Instruction = circuit.data[0].operation
    return operation


def encode_coupling_map(obj: Any) -> list[list[int]]:
    """``CouplingMap`` -> its edge list, a plain value (IBM's encoder does the same)."""
    return [list(edge) for edge in obj.get_edges()]
