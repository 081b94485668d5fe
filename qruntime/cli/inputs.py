"""Program inputs from the command line: a wire-format JSON file, QASM files, NAME=VALUE pairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qiskit import QuantumCircuit, qasm2, qasm3

from qruntime.errors import InputError
from qruntime.serialization import decode_inputs


def read_inputs(inputs_file: Path | None, circuits: list[Path], pairs: list[str]) -> dict[str, Any]:
    """Merge the inputs file, ``--circuit`` files and ``--input NAME=VALUE`` pairs (later wins)."""
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        try:
            text = inputs_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read inputs file {inputs_file}: {exc}", "inputs") from exc
        inputs.update(decode_inputs(text))
    if circuits:
        loaded_circuits = [read_circuit(path) for path in circuits]
        inputs["circuits"] = loaded_circuits[0] if len(loaded_circuits) == 1 else loaded_circuits
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"--input takes NAME=VALUE, not {pair!r}", "input")
        inputs[name] = _json_or_text(value)
    return inputs


def read_circuit(path: Path) -> QuantumCircuit:
    """Load an OpenQASM 2 or 3 file (told apart by its ``OPENQASM`` header)."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read circuit file {path}: {exc}", "circuits") from exc
    try:
        if _qasm_version(source) >= 3:
            circuit = qasm3.loads(source)
        else:
            circuit = qasm2.loads(source, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:  # the QASM parsers raise several unrelated types
        raise InputError(f"{path} is not a valid OpenQASM program: {exc}", "circuits") from exc
    circuit.name = path.stem  # results name each experiment after its circuit
    return circuit


def _qasm_version(source: str) -> int:
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.upper().startswith("OPENQASM"):
            version = stripped.split()[1].rstrip(";") if len(stripped.split()) > 1 else "2"
            return int(float(version))
    return 2


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
