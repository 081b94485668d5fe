"""The ideal simulators, under the names IBM gave them: Aer, one simulation method each."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

import qiskit_aer
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator

from qruntime.backends.configuration import simulator_configuration
from qruntime.backends.source import BackendInfo
from qruntime.errors import BackendNotFoundError
from qruntime.program.backend import BackendConfiguration, ProgramBackend


@dataclass(frozen=True)
class SimulatorSpec:
    """One simulator: its IBM name, the Aer method behind it and the qubits IBM advertised."""

    name: str
    method: str
    num_qubits: int
    description: str


SIMULATORS = (
    SimulatorSpec(
        "ibmq_qasm_simulator",
        "automatic",
        32,
        "General-purpose simulator: Aer picks the method that suits each circuit.",
    ),
    SimulatorSpec(
        "simulator_statevector",
        "statevector",
        32,
        "Schrödinger wavefunction simulator: exact, memory doubles with each qubit.",
    ),
    SimulatorSpec(
        "simulator_mps",
        "matrix_product_state",
        100,
        "Matrix product state simulator: fast for circuits with little entanglement.",
    ),
    SimulatorSpec(
        "simulator_stabilizer",
        "stabilizer",
        5000,
        "Clifford stabilizer simulator: Clifford gates only, thousands of qubits.",
    ),
    SimulatorSpec(
        "simulator_extended_stabilizer",
        "extended_stabilizer",
        63,
        "Extended stabilizer simulator: Clifford+T circuits, approximate.",
    ),
)
"""The simulators IBM offered in 2021, in the order IBM listed them."""


class _Simulator:
    """The parts of one simulator that are shared by its ``ProgramBackend``s."""

    def __init__(self, spec: SimulatorSpec) -> None:
        self.spec = spec
        self.aer = AerSimulator(method=spec.method)
        self.target = _ideal_target(self.aer, spec)
        self.configuration = simulator_configuration(
            name=spec.name,
            n_qubits=spec.num_qubits,
            basis=self.aer.configuration().basis_gates,
            version=qiskit_aer.__version__,
            description=spec.description,
            method=spec.method,
        )
        self.view = BackendConfiguration(self.configuration)


def _ideal_target(aer: Any, spec: SimulatorSpec) -> Target:
    """Return a target with every operation of ``aer`` on any qubits, and no coupling map.

    Aer's own target lists per-qubit properties for as many qubits as fit in memory; with
    operations that are global instead, the transpiler neither lays out nor routes, and a circuit
    keeps its width instead of growing to the advertised number of qubits.
    """
    source = aer.target
    target = Target(description=spec.description, num_qubits=spec.num_qubits)
    for name in source.operation_names:
        operation = source.operation_from_name(name)
        if isinstance(operation, type):
            target.add_instruction(operation, name=name)
        else:
            target.add_instruction(operation, None, name=name)
    return target


class SimulatorSource:
    """The ideal simulators of :data:`SIMULATORS`; each is built when first asked for."""

    def __init__(self, specs: tuple[SimulatorSpec, ...] = SIMULATORS) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._built: dict[str, _Simulator] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Return the simulators' names."""
        return list(self._specs)

    def info(self, name: str) -> BackendInfo:
        """Return what the catalogue lists about the simulator."""
        spec = self._spec(name)
        return BackendInfo(spec.name, True, "simulator", spec.num_qubits, spec.description)

    def configuration(self, name: str) -> dict[str, Any]:
        """Return the simulator's IBM configuration JSON."""
        return copy.deepcopy(self._simulator(name).configuration)

    def properties(self, name: str) -> None:
        """Return ``None``: simulators have no calibration properties."""
        self._spec(name)

    def program_backend(self, name: str) -> ProgramBackend:
        """Return a new ``ProgramBackend`` over the simulator's shared ``AerSimulator``."""
        simulator = self._simulator(name)
        return ProgramBackend(simulator.aer, simulator.view, target=simulator.target)

    def _spec(self, name: str) -> SimulatorSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise BackendNotFoundError(f"No simulator named {name!r}.", field="backend") from None

    def _simulator(self, name: str) -> _Simulator:
        spec = self._spec(name)
        with self._lock:
            simulator = self._built.get(name)
            if simulator is None:
                simulator = self._built[name] = _Simulator(spec)
            return simulator
