"""IBM backend configuration JSON, as IBM's 2021 clients read it (wire protocol §1.3).

The clients build a backend object from each entry of ``devices/v/1``: ``online_date`` must parse
as ISO 8601, the fields of terra's ``QasmBackendConfiguration`` must be there
(:data:`REQUIRED_KEYS`) and qiskit-ibm-runtime also reads ``max_experiments``. They first try
``PulseBackendConfiguration.from_dict`` and fall back to the qasm one only on ``KeyError`` or
``TypeError``, so device snapshots lose their pulse-only fields (:data:`PULSE_ONLY_KEYS`): a
half-valid pulse configuration would fail in other ways and drop the backend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from qiskit.circuit import Gate, Parameter
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.providers import BackendV2

REQUIRED_KEYS = (
    "backend_name",
    "backend_version",
    "n_qubits",
    "basis_gates",
    "gates",
    "local",
    "simulator",
    "conditional",
    "open_pulse",
    "memory",
    "max_shots",
    "max_experiments",
    "coupling_map",
    "online_date",
    "input_allowed",
)
"""Keys every configuration has."""

PULSE_ONLY_KEYS = frozenset(
    {
        "acquisition_latency",
        "channel_bandwidth",
        "channels",
        "conditional_latency",
        "discriminators",
        "hamiltonian",
        "meas_kernels",
        "meas_levels",
        "meas_lo_range",
        "n_uchannels",
        "parametric_pulses",
        "pulse_num_channels",
        "pulse_num_qubits",
        "qubit_channel_mapping",
        "qubit_lo_range",
        "u_channel_lo",
        "uchannels_enabled",
    }
)
"""Fields of a device snapshot that only pulse-level access uses; configurations leave them out."""

INPUT_ALLOWED = ("job", "runtime")
DEFAULT_MAX_SHOTS = 100_000
DEFAULT_MAX_EXPERIMENTS = 300
DEFAULT_ONLINE_DATE = "2021-01-01T00:00:00Z"

# BackendV2 control flow and non-unitary operations that IBM never listed as basis gates.
_NOT_BASIS_GATES = frozenset(
    {
        "barrier",
        "measure",
        "if_else",
        "while_loop",
        "for_loop",
        "switch_case",
        "break_loop",
        "continue_loop",
        "box",
        "store",
    }
)

# Qiskit names gate parameters with Greek letters; OpenQASM 2 identifiers are ASCII.
_ASCII_PARAMETER_NAMES = {
    "\u03b8": "theta",
    "\u03d5": "phi",
    "\u03c6": "phi",
    "\u03bb": "lambda",
    "\u03b3": "gamma",
}


def backend_version(version: object) -> str:
    """Return ``version`` as the ``X.Y.Z`` terra's configuration requires (``0.0.0`` if none)."""
    numbers = re.findall(r"\d+", str(version or ""))
    return ".".join([*numbers, "0", "0", "0"][:3])


def gate_entries(names: Iterable[str]) -> list[dict[str, Any]]:
    """Return the ``gates`` entries of the standard gates among ``names``.

    Each is ``{"name", "parameters", "qasm_def"}``; the definition is an OpenQASM 2 ``opaque``
    declaration, since the backend executes the gate natively.
    """
    standard = get_standard_gate_name_mapping()
    entries = []
    for name in names:
        gate = standard.get(name)
        if isinstance(gate, Gate):
            entries.append(_gate_entry(name, gate))
    return entries


def _gate_entry(name: str, gate: Gate) -> dict[str, Any]:
    parameters = [
        _ASCII_PARAMETER_NAMES.get(param.name, f"p{index}")
        if isinstance(param, Parameter)
        else f"p{index}"
        for index, param in enumerate(gate.params)
    ]
    signature = f"({','.join(parameters)})" if parameters else ""
    qubits = ",".join(f"q{index}" for index in range(gate.num_qubits))
    return {
        "name": name,
        "parameters": parameters,
        "qasm_def": f"opaque {name}{signature} {qubits};",
    }


def basis_gates(operation_names: Iterable[str]) -> list[str]:
    """Return the names IBM would list as basis gates: no measure, barrier or control flow."""
    return sorted(set(operation_names) - _NOT_BASIS_GATES)


def simulator_configuration(
    *,
    name: str,
    n_qubits: int,
    basis: Iterable[str],
    version: str,
    description: str,
    method: str,
) -> dict[str, Any]:
    """Return the configuration of an ideal simulator whose operations are ``basis``."""
    gates = basis_gates(basis)
    return {
        "backend_name": name,
        "backend_version": backend_version(version),
        "n_qubits": n_qubits,
        "basis_gates": gates,
        "gates": gate_entries(gates),
        "local": False,
        "simulator": True,
        "conditional": True,
        "open_pulse": False,
        "memory": True,
        "max_shots": DEFAULT_MAX_SHOTS,
        "max_experiments": DEFAULT_MAX_EXPERIMENTS,
        "coupling_map": None,
        "online_date": DEFAULT_ONLINE_DATE,
        "input_allowed": list(INPUT_ALLOWED),
        "description": description,
        "simulation_method": method,
    }


def device_configuration(snapshot: Mapping[str, Any], *, name: str) -> dict[str, Any]:
    """Return the configuration of an emulator of the device whose snapshot this is.

    The snapshot's fields are kept, less :data:`PULSE_ONLY_KEYS`; the emulator is remote
    (``local: false``), runs runtime programs, returns per-shot memory, and is no pulse backend.
    """
    config = {key: value for key, value in snapshot.items() if key not in PULSE_ONLY_KEYS}
    config.update(
        backend_name=name,
        backend_version=backend_version(snapshot.get("backend_version")),
        local=False,
        simulator=False,
        open_pulse=False,
        memory=True,
        input_allowed=list(INPUT_ALLOWED),
    )
    config.setdefault("conditional", False)
    config.setdefault("coupling_map", None)
    config["max_shots"] = int(snapshot.get("max_shots") or DEFAULT_MAX_SHOTS)
    config["max_experiments"] = int(snapshot.get("max_experiments") or DEFAULT_MAX_EXPERIMENTS)
    config["online_date"] = snapshot.get("online_date") or DEFAULT_ONLINE_DATE
    gates = config.get("gates") or gate_entries(config.get("basis_gates", []))
    config["gates"] = _complete_gates(gates)
    return config


def _complete_gates(gates: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Fill in what snapshots leave null: ``parameters`` and the ``qasm_def`` of standard gates.

    Snapshots also list ``measure`` and ``reset`` (and variants such as ``measure_2``) with no
    definition: they are not gates, and are left out.
    """
    standard = get_standard_gate_name_mapping()
    completed = []
    for gate in gates:
        entry = {**gate, "parameters": list(gate.get("parameters") or [])}
        if not entry.get("qasm_def"):
            definition = standard.get(entry["name"])
            if not isinstance(definition, Gate):
                continue
            entry["qasm_def"] = _gate_entry(entry["name"], definition)["qasm_def"]
        completed.append(entry)
    return completed


def target_configuration(
    backend: BackendV2, *, name: str, simulator: bool, description: str
) -> dict[str, Any]:
    """Return a configuration derived from any ``BackendV2``'s target (for plugin backends)."""
    target = backend.target
    coupling = target.build_coupling_map()
    names = list(target.operation_names)
    online = backend.online_date
    return {
        "backend_name": name,
        "backend_version": backend_version(backend.backend_version),
        "n_qubits": int(target.num_qubits or 0),
        "basis_gates": basis_gates(names),
        "gates": gate_entries(basis_gates(names)),
        "local": False,
        "simulator": simulator,
        "conditional": "if_else" in names,
        "open_pulse": False,
        "memory": True,
        "max_shots": DEFAULT_MAX_SHOTS,
        "max_experiments": int(backend.max_circuits or DEFAULT_MAX_EXPERIMENTS),
        "coupling_map": sorted(map(list, coupling.get_edges())) if coupling else None,
        "online_date": online.isoformat() if online else DEFAULT_ONLINE_DATE,
        "input_allowed": list(INPUT_ALLOWED),
        "description": description,
    }


def queue_status(version: str, pending_jobs: int = 0) -> dict[str, Any]:
    """Return the body of IBM's ``devices/{name}/queue/status``."""
    return {
        "state": True,
        "status": "active",
        "lengthQueue": pending_jobs,
        "backend_version": version,
    }
