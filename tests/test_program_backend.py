"""ProgramBackend: the backend a program's main() receives, used as IBM-era programs use it."""

from __future__ import annotations

import json

import mthree
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from qruntime.backends import BackendCatalogue
from qruntime.errors import InputError
from qruntime.program.backend import (
    IBM_ONLY_RUN_OPTIONS,
    BackendConfiguration,
    BackendName,
    ProgramBackend,
)
from tests.conftest import SIMULATOR_NAMES


@pytest.fixture
def simulator(catalogue: BackendCatalogue) -> ProgramBackend:
    return catalogue.get("ibmq_qasm_simulator")


@pytest.fixture
def bogota(catalogue: BackendCatalogue) -> ProgramBackend:
    return catalogue.get("ibmq_bogota")


def ghz(width: int) -> QuantumCircuit:
    circuit = QuantumCircuit(width)
    circuit.h(0)
    for qubit in range(width - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


def test_name_is_an_attribute_and_a_call(simulator: ProgramBackend) -> None:
    assert simulator.name == "ibmq_qasm_simulator"
    assert simulator.name() == "ibmq_qasm_simulator"
    assert type(simulator.name()) is str
    assert isinstance(simulator.name, BackendName)
    assert json.dumps({"backend": simulator.name}) == '{"backend": "ibmq_qasm_simulator"}'
    assert f"{simulator.name}" == "ibmq_qasm_simulator"


def test_ideal_simulator_runs_a_ghz_state_without_errors(simulator: ProgramBackend) -> None:
    compiled = transpile(ghz(3), simulator)
    result = simulator.run(compiled, shots=2000, seed_simulator=5).result()
    counts = result.get_counts()
    assert set(counts) == {"000", "111"}
    assert sum(counts.values()) == 2000
    assert result.backend_name == "ibmq_qasm_simulator"


def test_run_takes_a_list_and_returns_one_result_per_circuit(simulator: ProgramBackend) -> None:
    circuits = [ghz(2), ghz(3)]
    result = simulator.run(transpile(circuits, simulator), shots=100).result()
    assert [sum(counts.values()) for counts in result.get_counts()] == [100, 100]


def test_emulator_is_noisy(bogota: ProgramBackend) -> None:
    compiled = transpile(ghz(3), bogota, seed_transpiler=7)
    result = bogota.run(compiled, shots=4000, seed_simulator=3).result()
    counts = result.get_counts()
    assert set(counts) - {"000", "111"}, counts
    assert counts["000"] + counts["111"] > 3000
    assert result.backend_name == "ibmq_bogota"


def test_emulator_noise_model_option_is_used_as_given(bogota: ProgramBackend) -> None:
    compiled = transpile(ghz(3), bogota, seed_transpiler=7)
    counts = bogota.run(compiled, shots=1000, noise_model=NoiseModel()).result().get_counts()
    assert set(counts) == {"000", "111"}


def test_transpiling_to_an_emulator_respects_its_coupling_map_and_basis(
    bogota: ProgramBackend,
) -> None:
    config = bogota.configuration()
    edges = {tuple(edge) for edge in config.coupling_map}
    allowed = set(config.basis_gates) | {"measure", "barrier"}
    compiled = transpile(ghz(5), bogota, seed_transpiler=1, optimization_level=1)
    for instruction in compiled.data:
        assert instruction.operation.name in allowed
        if instruction.operation.num_qubits == 2:
            qubits = tuple(compiled.find_bit(qubit).index for qubit in instruction.qubits)
            assert qubits in edges
    assert compiled.count_ops().get("cx", 0) >= 4
    assert bogota.num_qubits == 5
    assert set(bogota.coupling_map.get_edges()) == edges


def test_transpiling_to_the_qasm_simulator_keeps_the_width(
    simulator: ProgramBackend,
) -> None:
    circuit = ghz(4)
    circuit.t(2)
    transpile(circuit, simulator)
    compiled = transpile(circuit, simulator, optimization_level=3)
    assert compiled.num_qubits == 4
    assert simulator.coupling_map is None
    assert simulator.num_qubits == 32
    manager = generate_preset_pass_manager(optimization_level=2, backend=simulator)
    assert manager.run(circuit).num_qubits == 4


@pytest.mark.parametrize("name", SIMULATOR_NAMES)
def test_every_simulator_runs_a_bell_state(catalogue: BackendCatalogue, name: str) -> None:
    backend = catalogue.get(name)
    compiled = transpile(ghz(2), backend)
    counts = backend.run(compiled, shots=200, seed_simulator=2).result().get_counts()
    assert set(counts) <= {"00", "11"}
    assert sum(counts.values()) == 200


def test_ibm_only_run_options_are_accepted_and_dropped(bogota: ProgramBackend) -> None:
    compiled = transpile(ghz(2), bogota, seed_transpiler=1)
    result = bogota.run(
        compiled,
        shots=64,
        memory=True,
        init_qubits=True,
        rep_delay=250e-6,
        rep_time=1000,
        meas_level=2,
        meas_return="single",
        qubit_lo_freq=[5e9] * 5,
        timeout=30,
        layout_method="sabre",
    ).result()
    assert len(result.get_memory()) == 64
    assert {"init_qubits", "rep_delay", "meas_level", "timeout"} <= IBM_ONLY_RUN_OPTIONS


def test_seed_simulator_passes_through(bogota: ProgramBackend) -> None:
    compiled = transpile(ghz(3), bogota, seed_transpiler=1)
    first = bogota.run(compiled, shots=500, seed_simulator=42).result().get_counts()
    second = bogota.run(compiled, shots=500, seed_simulator=42).result().get_counts()
    assert first == second


def test_run_limits(simulator: ProgramBackend) -> None:
    circuit = ghz(1)
    for shots in (0, 100_001, 2.5, "many"):
        with pytest.raises(InputError, match="shots"):
            simulator.run(circuit, shots=shots)
    assert simulator.max_circuits == 300
    with pytest.raises(InputError, match="max_experiments"):
        simulator.run([circuit] * 301)
    with pytest.raises(InputError, match="empty"):
        simulator.run([])
    assert sum(simulator.run(circuit, shots=10.0).result().get_counts().values()) == 10


def test_options_are_per_program_backend(catalogue: BackendCatalogue) -> None:
    mine = catalogue.get("ibmq_qasm_simulator")
    mine.set_options(shots=10)
    counts = mine.run(transpile(ghz(2), mine)).result().get_counts()
    assert sum(counts.values()) == 10
    other = catalogue.get("ibmq_qasm_simulator")
    assert other.options.shots == other.wrapped.options.shots == 1024


def test_configuration_reads_like_backend_v1(
    simulator: ProgramBackend, bogota: ProgramBackend
) -> None:
    config = simulator.configuration()
    assert isinstance(config, BackendConfiguration)
    assert config.backend_name == "ibmq_qasm_simulator"
    assert config.n_qubits == config.num_qubits == 32
    assert config.simulator is True
    assert config.coupling_map is None
    assert config.max_shots == 100_000
    assert "cx" in config.basis_gates
    with pytest.raises(AttributeError):
        config.n_qubits = 5
    config.basis_gates.append("mangled")
    assert "mangled" not in config.basis_gates
    with pytest.raises(AttributeError, match="no attribute 'hamiltonian'"):
        _ = config.hamiltonian

    device = bogota.configuration()
    assert device.simulator is False
    assert device.max_experiments == bogota.max_circuits == 900
    assert device.dt == pytest.approx(0.2222222e-9)
    assert device.gates[0].name == "id"
    assert device.to_dict()["dt"] == pytest.approx(0.2222222)


def test_properties_and_status(simulator: ProgramBackend, bogota: ProgramBackend) -> None:
    assert simulator.properties() is None
    properties = bogota.properties()
    assert properties.t1(0) > 0
    assert properties.faulty_qubits() == []
    status = bogota.status()
    assert (status.operational, status.pending_jobs, status.status_msg) == (True, 0, "active")
    assert status.to_dict()["backend_name"] == "ibmq_bogota"


@pytest.mark.filterwarnings("ignore:Treating CircuitInstruction as an iterable:DeprecationWarning")
def test_mthree_calibrates_and_mitigates_on_an_emulator(bogota: ProgramBackend) -> None:
    mitigation = mthree.M3Mitigation(bogota)
    mitigation.cals_from_system([0, 1, 2], shots=2000)
    compiled = transpile(ghz(3), bogota, seed_transpiler=3)
    counts = bogota.run(compiled, shots=2000, seed_simulator=9).result().get_counts()
    mapping = mthree.utils.final_measurement_mapping(compiled)
    corrected = mitigation.apply_correction(counts, mapping).nearest_probability_distribution()
    raw_good = (counts.get("000", 0) + counts.get("111", 0)) / 2000
    assert corrected.get("000", 0) + corrected.get("111", 0) > raw_good


def test_wraps_any_backend_v2() -> None:
    config = {
        "backend_name": "my_simulator",
        "backend_version": "1.2.3",
        "n_qubits": 4,
        "max_shots": 1000,
        "max_experiments": 5,
        "online_date": "2021-06-01T00:00:00Z",
    }
    backend = ProgramBackend(AerSimulator(), config)
    assert backend.name() == "my_simulator"
    assert backend.backend_version == "1.2.3"
    assert backend.online_date.year == 2021
    assert backend.max_circuits == 5
    assert backend.properties() is None
    result = backend.run(ghz(2), shots=20).result()
    assert result.backend_name == "my_simulator"
    assert sum(result.get_counts().values()) == 20
    assert "my_simulator" in repr(backend)
