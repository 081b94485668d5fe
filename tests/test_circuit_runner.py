"""circuit-runner: every input of IBM's program, on real Aer simulators and device emulators."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit import Parameter
from qiskit.exceptions import QiskitError
from qiskit.quantum_info import hellinger_fidelity
from qiskit.result import QuasiDistribution, Result
from qiskit_aer import AerSimulator

import qruntime.programs.circuit_runner as circuit_runner
from qruntime.backends import default_catalogue
from qruntime.errors import InputError, QRuntimeError
from qruntime.program import ProgramBackend, UserMessenger
from qruntime.programs.circuit_runner.program import main
from qruntime.programs.circuit_runner.transpilation import pass_managers

METADATA = Path(circuit_runner.__file__).with_name("metadata.json")
SEEDS = {"seed_transpiler": 11, "seed_simulator": 1234}


@pytest.fixture(scope="module")
def catalogue() -> Any:
    return default_catalogue()


@pytest.fixture(scope="module")
def bogota(catalogue: Any) -> Any:
    return catalogue.get("ibmq_bogota")


@pytest.fixture(scope="module")
def simulator(catalogue: Any) -> Any:
    return catalogue.get("ibmq_qasm_simulator")


@pytest.fixture
def run(bogota: Any) -> Callable[..., dict[str, Any]]:
    """Run circuit-runner on the bogota emulator; check it publishes nothing and returns JSON."""

    def run_on(circuits: Any, backend: Any = None, **inputs: Any) -> dict[str, Any]:
        published: list[str] = []
        output = main(backend or bogota, UserMessenger(sink=published.append), circuits, **inputs)
        assert published == []
        json.dumps(output)
        return output

    return run_on


def ghz(num_qubits: int, name: str = "ghz") -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits, name=name)
    circuit.h(0)
    for qubit in range(num_qubits - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure_all()
    return circuit


def ideal_ghz(num_qubits: int) -> dict[str, float]:
    return {"0" * num_qubits: 0.5, "1" * num_qubits: 0.5}


def quasi_bitstrings(experiment: dict[str, Any]) -> dict[str, float]:
    """What IBM's ``RunnerResult.get_quasiprobabilities`` made of an experiment."""
    width = len(experiment["header"]["final_measurement_mapping"])
    return {
        format(int(key, 16), f"0{width}b"): value
        for key, value in experiment["data"]["quasiprobabilities"].items()
    }


# --- the seed's example and the result format -------------------------------------------------


def test_seed_example_gives_noisy_counts_that_result_from_dict_rebuilds(
    run: Callable[..., dict[str, Any]],
) -> None:
    output = run(ghz(3), optimization_level=3, **SEEDS)
    result = Result.from_dict(output)
    counts = result.get_counts()
    assert sum(counts.values()) == 1024
    assert set(counts) > {"000", "111"}, "an emulator of a noisy device gives other outcomes too"
    assert counts["000"] + counts["111"] > 800
    assert result.results[0].header["name"] == "ghz"


def test_an_ideal_simulator_gives_only_the_ideal_outcomes(
    run: Callable[..., dict[str, Any]], simulator: Any
) -> None:
    counts = Result.from_dict(run(ghz(3), backend=simulator, **SEEDS)).get_counts()
    assert set(counts) == {"000", "111"}


def test_several_circuits_and_openqasm_sources(run: Callable[..., dict[str, Any]]) -> None:
    circuits = [ghz(2, "bell"), qasm2.dumps(ghz(3, "three")), qasm3.dumps(ghz(4, "four"))]
    result = Result.from_dict(run(circuits, shots=100, **SEEDS))
    assert [len(next(iter(c))) for c in result.get_counts()] == [2, 3, 4]


# --- measurement error mitigation -------------------------------------------------------------


def test_mitigation_brings_the_distribution_closer_to_the_ideal(
    run: Callable[..., dict[str, Any]],
) -> None:
    output = run(ghz(4), shots=4000, measurement_error_mitigation=True, **SEEDS)
    experiment = output["results"][0]
    raw = Result.from_dict(output).get_counts()
    quasi = quasi_bitstrings(experiment)
    mitigated = QuasiDistribution(quasi).nearest_probability_distribution()
    raw_fidelity = hellinger_fidelity(raw, ideal_ghz(4))
    mitigated_fidelity = hellinger_fidelity(mitigated.binary_probabilities(4), ideal_ghz(4))
    assert mitigated_fidelity > raw_fidelity + 0.05

    assert all(key.startswith("0x") for key in experiment["data"]["quasiprobabilities"])
    assert sum(quasi.values()) == pytest.approx(1.0, abs=1e-3)
    header = experiment["header"]
    mapping = header["final_measurement_mapping"]
    assert sorted(mapping.values()) == [0, 1, 2, 3]
    assert all(key.isdigit() and int(key) < 5 for key in mapping)
    assert 0 < header["measurement_mitigation_time"] < 5


def test_mitigation_is_reproducible_with_seeds(run: Callable[..., dict[str, Any]]) -> None:
    first, second = (
        run(ghz(3), shots=500, measurement_error_mitigation=True, **SEEDS) for _ in range(2)
    )
    assert (
        first["results"][0]["data"]["quasiprobabilities"]
        == second["results"][0]["data"]["quasiprobabilities"]
    )


def test_mitigation_follows_the_initial_layout(run: Callable[..., dict[str, Any]]) -> None:
    as_list = run(
        ghz(3), shots=200, initial_layout=[4, 3, 2], measurement_error_mitigation=True, **SEEDS
    )
    as_dict = run(
        ghz(3),
        shots=200,
        initial_layout={"0": 4, "1": 3, "2": 2},
        measurement_error_mitigation=True,
        **SEEDS,
    )
    for output in (as_list, as_dict):
        assert output["results"][0]["header"]["final_measurement_mapping"] == {
            "4": 0,
            "3": 1,
            "2": 2,
        }


def test_mitigation_of_a_circuit_without_measurements_is_refused(
    run: Callable[..., dict[str, Any]],
) -> None:
    circuit = QuantumCircuit(2, name="silent")
    circuit.h(0)
    with pytest.raises(InputError, match="circuit 'silent' measures no qubit"):
        run(circuit, measurement_error_mitigation=True)


# --- each input has its effect ----------------------------------------------------------------


def test_shots_and_memory(run: Callable[..., dict[str, Any]]) -> None:
    result = Result.from_dict(run([ghz(2), ghz(3)], shots=321, memory=True, **SEEDS))
    for index in range(2):
        assert sum(result.get_counts(index).values()) == 321
        assert len(result.get_memory(index)) == 321
    default = Result.from_dict(run(ghz(2), **SEEDS))
    assert sum(default.get_counts().values()) == 1024
    with pytest.raises(QiskitError, match="memory"):
        default.get_memory()


def test_seeds_make_runs_identical(run: Callable[..., dict[str, Any]]) -> None:
    circuit = ghz(4)
    first, second = (run(circuit, optimization_level=3, **SEEDS) for _ in range(2))
    assert first["results"][0]["data"] == second["results"][0]["data"]


@pytest.mark.parametrize(
    "inputs",
    [
        {"optimization_level": 0},
        {"optimization_level": 2, "layout_method": "trivial", "routing_method": "basic"},
        {
            "layout_method": "dense",
            "routing_method": "lookahead",
            "translation_method": "synthesis",
        },
        {"layout_method": "sabre", "routing_method": "sabre", "translation_method": "translator"},
        {"layout_method": "default", "routing_method": "default", "translation_method": "default"},
        {"init_qubits": True, "rep_delay": 0.0001, "use_measure_esp": None},
        {"transpiler_options": {"scheduling_method": "alap", "approximation_degree": 0.99}},
        {"transpiler_options": {"optimization_level": 1, "layout_method": "sabre"}},
        {"shots": None, "initial_layout": None, "seed_transpiler": None, "rep_delay": None},
    ],
)
def test_transpiler_and_run_inputs_are_accepted(
    run: Callable[..., dict[str, Any]], inputs: dict[str, Any]
) -> None:
    result = Result.from_dict(run(ghz(3), seed_simulator=5, **inputs))
    assert sum(result.get_counts().values()) == (inputs.get("shots") or 1024)


def test_transpiler_options_reach_the_pass_manager(run: Callable[..., dict[str, Any]]) -> None:
    output = run(ghz(3), shots=10, transpiler_options={"output_name": "renamed"})
    assert output["results"][0]["header"]["name"] == "renamed"


def test_other_inputs_reach_the_backends_run(run: Callable[..., dict[str, Any]]) -> None:
    first, second = (run(ghz(3), seed_simulator=99, method="density_matrix") for _ in range(2))
    assert first["results"][0]["metadata"]["method"] == "density_matrix"
    assert first["results"][0]["data"] == second["results"][0]["data"]
    with pytest.raises(InputError, match=r"cannot run the circuits: .*seed_simulator"):
        run(ghz(3), seed_simulator="not a number")


def test_more_circuits_than_one_job_takes_run_in_batches(
    run: Callable[..., dict[str, Any]],
) -> None:
    small = ProgramBackend(AerSimulator(), {"backend_name": "small", "max_experiments": 2})
    circuits = [ghz(2, f"c{index}") for index in range(5)]
    first, second = (run(circuits, backend=small, shots=50, seed_simulator=3) for _ in range(2))
    assert [e["header"]["name"] for e in first["results"]] == [f"c{i}" for i in range(5)]
    assert [e["data"] for e in first["results"]] == [e["data"] for e in second["results"]]
    counts = Result.from_dict(first).get_counts()
    assert counts[0] != counts[2], "batches draw different samples"


def test_a_failed_simulation_is_a_clear_error(run: Callable[..., dict[str, Any]]) -> None:
    circuit = QuantumCircuit(20, name="big")
    circuit.h(range(20))
    circuit.t(range(20))
    circuit.measure_all()
    with pytest.raises(QRuntimeError, match=r"could not run the circuits: .*Insufficient memory"):
        run(circuit, backend=AerSimulator(max_memory_mb=1), shots=10)


def test_routing_none_refuses_a_circuit_that_needs_routing(
    run: Callable[..., dict[str, Any]],
) -> None:
    circuit = QuantumCircuit(3, name="triangle")
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.cx(2, 0)
    circuit.measure_all()
    with pytest.raises(InputError, match="cannot be transpiled for"):
        run(circuit, routing_method="none", layout_method="trivial")


def test_pass_managers_are_cached_by_backend_and_target_content() -> None:
    options = {"optimization_level": 2, "seed_transpiler": 987_654}
    pass_managers.clear()
    main(AerSimulator(), UserMessenger(), ghz(2), **options)
    assert len(pass_managers) == 1
    # Each AerSimulator builds a new Target on every access; equal content is one cache entry.
    main(AerSimulator(), UserMessenger(), ghz(3), **options)
    assert len(pass_managers) == 1
    main(AerSimulator(), UserMessenger(), ghz(3), **{**options, "seed_transpiler": 1})
    assert len(pass_managers) == 2


# --- refusals, each with a message that says what to do ---------------------------------------


@pytest.mark.parametrize(
    ("field", "removed", "choices"),
    [
        ("layout_method", "noise_adaptive", {"dense", "sabre", "trivial"}),
        ("routing_method", "stochastic", {"basic", "lookahead", "none", "sabre"}),
        ("translation_method", "unroller", {"synthesis", "translator"}),
    ],
)
def test_methods_qiskit_2_removed_are_refused_with_the_choices_left(
    run: Callable[..., dict[str, Any]], field: str, removed: str, choices: set[str]
) -> None:
    with pytest.raises(InputError) as caught:
        run(ghz(3), **{field: removed})
    message = str(caught.value)
    prefix = f"{field} {removed!r} was removed in Qiskit 2; choose one of: "
    assert message.startswith(prefix)
    assert choices <= set(message.removeprefix(prefix).split(", "))
    assert "default" not in message
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"scheduling_method": "alap"}, "pulse scheduling was removed in Qiskit 2"),
        ({"schedule_circuit": True}, "schedule_circuit=True asked for pulse schedules"),
        ({"inst_map": {"x": []}}, "inst_map was removed in Qiskit 2"),
        ({"meas_map": [[0, 1]]}, "meas_map was removed in Qiskit 2"),
        (
            {"transpiler_options": {"backend_properties": {}}},
            "transpiler_options['backend_properties'] was removed in Qiskit 2",
        ),
        (
            {"transpiler_options": {"instruction_durations": []}},
            "transpiler_options['instruction_durations'] was removed in Qiskit 2",
        ),
        (
            {"transpiler_options": {"timing_constraints": {}}},
            "transpiler_options['timing_constraints'] was removed in Qiskit 2",
        ),
        (
            {"transpiler_options": {"inst_map": {}}},
            "transpiler_options['inst_map'] was removed in Qiskit 2",
        ),
        ({"routing_method": "magic"}, "routing_method 'magic' is not known; choose one of"),
        ({"layout_method": ["sabre"]}, "layout_method must be a string, one of: dense, sabre"),
        (
            {"transpiler_options": {"scheduling_method": "as_soon_as_possible"}},
            "scheduling_method 'as_soon_as_possible' is not known; choose one of: alap, asap",
        ),
        (
            {"transpiler_options": {"colour": "blue"}},
            "transpiler_options['colour'] is not a transpiler option",
        ),
        ({"transpiler_options": [1]}, "transpiler_options must be an object"),
        ({"optimization_level": 4}, "optimization_level must be one of 0, 1, 2, 3, not 4"),
        ({"optimization_level": -1}, "optimization_level must be one of 0, 1, 2, 3, not -1"),
        ({"optimization_level": "3"}, "optimization_level must be one of 0, 1, 2, 3, not '3'"),
        (
            {"optimization_level": 2, "transpiler_options": {"optimization_level": 3}},
            "optimization_level is given twice",
        ),
        ({"shots": 0}, "shots must be between 1 and 8192 on ibmq_bogota, not 0"),
        ({"shots": 10_000}, "shots must be between 1 and 8192 on ibmq_bogota, not 10000"),
        ({"shots": 2.5}, "shots must be an integer"),
        ({"memory": "yes"}, "memory must be true or false"),
        ({"rep_delay": -1}, "rep_delay must be a non-negative number"),
        ({"seed_transpiler": "x"}, "seed_transpiler must be an integer"),
        (
            {"initial_layout": [0, 1, 7]},
            "initial_layout names physical qubit 7, but the backend's qubits are 0..4",
        ),
        ({"initial_layout": [0, 0, 1]}, "places two virtual qubits on one physical qubit"),
        ({"initial_layout": [0, 1]}, "initial_layout places 2 qubits but circuit 'ghz' has 3"),
        (
            {"initial_layout": {"0": 1, "2": 2, "3": 0}},
            "must give a physical qubit for each virtual qubit 0..2",
        ),
        ({"initial_layout": {"a": 1}}, "keys ['a'] are not all indices"),
        ({"initial_layout": "0,1,2"}, "initial_layout must be a non-empty list"),
    ],
)
def test_bad_inputs_are_refused_with_a_clear_message(
    run: Callable[..., dict[str, Any]], inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        run(ghz(3), **inputs)
    assert message in str(caught.value)


def test_a_circuit_wider_than_the_backend_is_refused(
    run: Callable[..., dict[str, Any]], bogota: Any
) -> None:
    with pytest.raises(InputError) as caught:
        run([ghz(2), ghz(6, "wide")])
    assert str(caught.value) == "circuit 'wide' uses 6 qubits but ibmq_bogota has 5"
    assert caught.value.field == "circuits"


@pytest.mark.parametrize(
    ("circuits", "message"),
    [
        (
            42,
            "circuits must be a QuantumCircuit, OpenQASM 2 or 3 source, or a list of them, not int",
        ),
        ([], "circuits is an empty list"),
        ([ghz(2), 3.0], "circuits[1] is a float; expected a QuantumCircuit or OpenQASM"),
        ("h q[0];", "circuits is a string but not OpenQASM source"),
        (["OPENQASM 2.0;\nqreg q[1];\nfoo q[0];"], "circuits[0] is not valid OpenQASM 2"),
        ("OPENQASM 3.0;\nqubit q;\nbar q;", "circuits is not valid OpenQASM 3"),
        ("OPENQASM 4.0;", "circuits is OpenQASM 4; only OpenQASM 2 and 3"),
    ],
)
def test_malformed_circuits_are_refused(
    run: Callable[..., dict[str, Any]], circuits: Any, message: str
) -> None:
    with pytest.raises(InputError) as caught:
        run(circuits)
    assert message in str(caught.value)


def test_unbound_parameters_are_refused(run: Callable[..., dict[str, Any]]) -> None:
    circuit = QuantumCircuit(1, name="rotation")
    circuit.rx(Parameter("theta"), 0)
    circuit.measure_all()
    with pytest.raises(InputError, match=r"circuit 'rotation' has unbound parameters \(theta\)"):
        run(circuit)


# --- metadata ---------------------------------------------------------------------------------


def test_metadata_is_a_valid_spec_that_documents_every_parameter() -> None:
    metadata = json.loads(METADATA.read_text())
    assert metadata["name"] == "circuit-runner"
    assert metadata["max_execution_time"] == 14400
    assert metadata["description"].startswith("A runtime program that takes one or more circuits")
    spec = metadata["spec"]
    parameters = spec["parameters"]
    jsonschema.Draft201909Validator.check_schema(parameters)
    for schema in (spec["return_values"], spec["interim_results"]):
        jsonschema.Draft201909Validator.check_schema(schema)
    assert parameters["required"] == ["circuits"]
    properties = parameters["properties"]
    assert {
        "circuits",
        "shots",
        "initial_layout",
        "layout_method",
        "routing_method",
        "translation_method",
        "seed_transpiler",
        "optimization_level",
        "init_qubits",
        "rep_delay",
        "transpiler_options",
        "memory",
        "measurement_error_mitigation",
    } <= set(properties)
    for name, schema in properties.items():
        assert schema.get("type"), name
        assert schema.get("description"), name
        if name != "circuits":
            assert "default" in schema, name
        if name.endswith("_method"):
            assert schema["default"] in schema["enum"], name
    assert properties["shots"]["default"] == 1024
    assert properties["optimization_level"]["default"] == 1
    assert properties["measurement_error_mitigation"]["default"] is False


def test_metadata_enums_are_the_methods_qiskit_offers() -> None:
    from qruntime.programs.circuit_runner.options import method_choices

    properties = json.loads(METADATA.read_text())["spec"]["parameters"]["properties"]
    for field in ("layout_method", "routing_method", "translation_method"):
        assert set(properties[field]["enum"]) - {None} <= set(method_choices(field)), field


@pytest.mark.parametrize(
    ("inputs", "valid"),
    [
        ({"circuits": "OPENQASM 2.0;", "shots": 10, "optimization_level": 3}, True),
        ({"circuits": [], "shots": None, "initial_layout": {"0": 3}}, False),
        ({"circuits": ["x"], "routing_method": "stochastic"}, False),
        ({"circuits": ["x"], "optimization_level": 5}, False),
        ({"circuits": ["x"], "shots": 0}, False),
        ({"shots": 10}, False),
        ({"circuits": ["x"], "seed_simulator": 3, "anything_else": 1}, True),
    ],
)
def test_metadata_schema_checks_json_inputs(inputs: dict[str, Any], valid: bool) -> None:
    parameters = json.loads(METADATA.read_text())["spec"]["parameters"]
    assert jsonschema.Draft201909Validator(parameters).is_valid(inputs) is valid
