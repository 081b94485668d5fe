"""Tests for qruntime.serialization: IBM's Qiskit Runtime wire format.

Four kinds of checks: round trips of every supported type; interoperation with the current
qiskit-ibm-runtime encoder and decoder; decoding of payloads written by IBM's own 2021-2022
clients (committed under tests/fixtures/, see tests/fixtures/ibmq_provider/make_payloads.py);
and errors that name the field that could not be decoded.
"""

from __future__ import annotations

import base64
import datetime
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import (
    Clbit,
    Gate,
    IfElseOp,
    Parameter,
    ParameterExpression,
    ParameterVector,
    ParameterVectorElement,
)
from qiskit.circuit.library import CXGate, HGate, Measure, RXGate, real_amplitudes
from qiskit.primitives.containers import (
    BitArray,
    DataBin,
    PrimitiveResult,
    PubResult,
    SamplerPubResult,
)
from qiskit.quantum_info import (
    PTM,
    Chi,
    Choi,
    DensityMatrix,
    Kraus,
    Operator,
    Pauli,
    PauliList,
    SparsePauliOp,
    Statevector,
    Stinespring,
    SuperOp,
)
from qiskit.result import Result
from qiskit.transpiler import CouplingMap
from qiskit_aer.noise import NoiseModel, ReadoutError, amplitude_damping_error, depolarizing_error
from qiskit_ibm_runtime import RuntimeDecoder as IBMRuntimeDecoder
from qiskit_ibm_runtime import RuntimeEncoder as IBMRuntimeEncoder

from qruntime.errors import DecodeError, QRuntimeWarning
from qruntime.serialization import (
    RuntimeDecoder,
    RuntimeEncoder,
    allowed_settings_classes,
    decode,
    decode_inputs,
    decode_value,
    encode,
    register_settings_class,
    round_trip,
)
from qruntime.serialization import settings as settings_module

FIXTURES = Path(__file__).parent / "fixtures"
CLIENT_FOLDERS = ["ibmq_provider", "ibm_runtime_0_7"]
AER_FROM_DICT_DEPRECATED = "ignore:.*from_dict.*:DeprecationWarning"


# -- factories -------------------------------------------------------------------------------


def bell_circuit() -> QuantumCircuit:
    qreg, creg = QuantumRegister(2, "qr"), ClassicalRegister(2, "meas")
    circuit = QuantumCircuit(qreg, creg, name="bell", metadata={"purpose": "test"})
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure(qreg, creg)
    return circuit


def parameterized_circuit() -> QuantumCircuit:
    theta, phi = Parameter("theta"), Parameter("phi")
    angles = ParameterVector("v", 2)
    circuit = QuantumCircuit(2, 2, global_phase=theta / 2)
    circuit.rx(2 * theta + phi, 0)
    circuit.ry(angles[0], 1)
    circuit.rz((theta * angles[1]).sin(), 0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def sampler_result() -> PrimitiveResult[SamplerPubResult]:
    bits = BitArray(np.array([[[1], [3]], [[2], [0]]], dtype=np.uint8), num_bits=2)
    data = DataBin(meas=bits, shape=(2,))
    return PrimitiveResult([SamplerPubResult(data, {"shots": 2})], {"version": 2})


def estimator_result() -> PrimitiveResult[PubResult]:
    data = DataBin(evs=np.array([0.5, -0.25]), stds=np.array([0.01, 0.02]), shape=(2,))
    return PrimitiveResult([PubResult(data, {"target_precision": 0.01})], {"dynamical": False})


def counts_result() -> Result:
    return Result.from_dict(
        {
            "backend_name": "ibmq_qasm_simulator",
            "backend_version": "0.1.547",
            "qobj_id": "qobj",
            "job_id": "job",
            "success": True,
            "date": "2021-07-02T13:46:10",
            "results": [
                {
                    "shots": 1024,
                    "success": True,
                    "data": {"counts": {"0x0": 500, "0x3": 524}},
                    "header": {"name": "bell", "creg_sizes": [["c", 2]], "memory_slots": 2},
                }
            ],
        }
    )


def noise_model() -> NoiseModel:
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["x", "sx"])
    model.add_quantum_error(amplitude_damping_error(0.05), ["rz"], [1])
    model.add_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]), [0])
    return model


def tagged(tag: str, value: Any) -> dict[str, Any]:
    return {"__type__": tag, "__value__": value}


def b64(data: bytes, *, compress: bool = False) -> str:
    return base64.b64encode(zlib.compress(data) if compress else data).decode()


class WithSettings:
    """A class outside the allowlist, with integer keys in its settings."""

    def __init__(self, table: dict[int, str], nested: dict[str, dict[int, float]]) -> None:
        self.table = table
        self.nested = nested

    @property
    def settings(self) -> dict[str, Any]:
        return {"table": self.table, "nested": self.nested}


@pytest.fixture
def isolated_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test are undone after it."""
    monkeypatch.setattr(settings_module, "_ALLOWLIST", dict(settings_module._ALLOWLIST))


# -- round trips -----------------------------------------------------------------------------


def test_circuits_round_trip_equal() -> None:
    circuits = [bell_circuit(), parameterized_circuit()]
    decoded = round_trip({"circuits": circuits, "single": circuits[0]})
    assert decoded["circuits"] == circuits
    assert decoded["single"] == circuits[0]
    assert decoded["single"].metadata == {"purpose": "test"}
    assert decoded["circuits"][1].parameters == circuits[1].parameters


def test_circuit_metadata_travels_through_the_runtime_encoder() -> None:
    circuit = QuantumCircuit(1, metadata={"z": 1 + 2j, "array": np.arange(3)})
    decoded = round_trip(circuit)
    assert decoded.metadata["z"] == 1 + 2j
    assert np.array_equal(decoded.metadata["array"], np.arange(3))


def test_real_amplitudes_round_trip_equal() -> None:
    ansatz = real_amplitudes(3, reps=2)
    assert round_trip(ansatz) == ansatz


@pytest.mark.parametrize(
    "array",
    [
        np.linspace(0, 1, 6).reshape(2, 3),
        np.arange(-4, 4, dtype=np.int8),
        np.arange(6, dtype=np.uint64).reshape(3, 2),
        np.array([1 + 2j, -0.5j], dtype=np.complex64),
        np.array([[1 + 2j, 3], [0, -1j]]),
        np.array([True, False]),
        np.array(3.5, dtype=np.float32),
        np.array(["ab", "c"]),
        np.zeros((0, 3)),
        np.arange(12.0).reshape(3, 4)[:, ::2],
    ],
    ids=lambda array: f"{array.dtype}{list(array.shape)}",
)
def test_ndarray_round_trip_keeps_values_dtype_and_shape(array: np.ndarray) -> None:
    decoded = round_trip(array)
    assert decoded.dtype == array.dtype
    assert decoded.shape == array.shape
    assert np.array_equal(decoded, array)


def test_object_ndarray_travels_as_a_list_and_stays_object() -> None:
    array = np.array([1, "two", None, 4.5, 1 + 1j], dtype=object)
    assert json.loads(encode(array))["__value__"][:4] == [1, "two", None, 4.5]
    decoded = round_trip(array)
    assert decoded.dtype == object
    assert decoded.tolist() == array.tolist()
    integers = round_trip(np.array([[1, 2], [3, 4]], dtype=object))
    assert integers.dtype == object
    assert integers.shape == (2, 2)


def test_scalars_and_small_containers_round_trip() -> None:
    when = datetime.datetime(2021, 7, 2, 13, 46, 10, 687660, tzinfo=datetime.UTC)
    value = {
        "complex": 1.5 - 2j,
        "set": {1, 2, 3},
        "frozenset": frozenset({"a"}),
        "datetime": when,
        "date": datetime.date(2021, 11, 11),
        "plain": {"int": 1, "float": 2.5, "none": None, "list": [1, [2, {"x": True}]]},
    }
    decoded = round_trip(value)
    assert decoded["complex"] == 1.5 - 2j
    assert decoded["set"] == {1, 2, 3}
    assert decoded["frozenset"] == {"a"}
    assert decoded["datetime"] == when
    assert decoded["date"] == datetime.datetime(2021, 11, 11)
    assert decoded["plain"] == value["plain"]


def test_numpy_scalars_and_plain_conversions_become_json_values() -> None:
    coupling = CouplingMap([[0, 1], [1, 2]])
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.rx(theta, 0)
    text = encode(
        {
            "int": np.int64(3),
            "uint": np.uint8(7),
            "float": np.float32(0.5),
            "bool": np.bool_(True),
            "complex": np.complex128(1j),
            "coupling": coupling,
            "parameters": circuit.parameters,
        }
    )
    raw = json.loads(text)
    assert raw["int"] == 3
    assert raw["uint"] == 7
    assert raw["float"] == 0.5
    assert raw["bool"] is True
    assert raw["complex"] == tagged("complex", [0.0, 1.0])
    assert raw["coupling"] == [[0, 1], [1, 2]]
    assert decode(text)["parameters"] == [theta]


def test_result_round_trip() -> None:
    result = counts_result()
    decoded = round_trip(result)
    assert isinstance(decoded, Result)
    assert decoded.to_dict() == result.to_dict()
    assert decoded.get_counts() == {"00": 500, "11": 524}


def test_to_json_objects_arrive_as_the_raw_string() -> None:
    class Custom:
        def to_json(self) -> str:
            return '{"label": "custom"}'

    assert round_trip({"custom": Custom()}) == {"custom": '{"label": "custom"}'}


def test_parameters_round_trip_with_identity() -> None:
    theta = Parameter("θ theta")
    vector = ParameterVector("v", 3)
    decoded = round_trip([theta, vector[2]])
    assert isinstance(decoded[0], Parameter)
    assert decoded[0] == theta
    assert decoded[0].uuid == theta.uuid
    assert isinstance(decoded[1], ParameterVectorElement)
    assert decoded[1] == vector[2]
    assert decoded[1].index == 2


def test_parameter_uses_ibm_raw_parameter_record() -> None:
    theta = Parameter("theta")
    raw = json.loads(encode(theta))
    assert raw["__type__"] == "Parameter"
    data = base64.b64decode(raw["__value__"])
    assert data == struct.pack("!H16s", 5, theta.uuid.bytes) + b"theta"


def test_parameter_expressions_round_trip() -> None:
    a, b = Parameter("a"), Parameter("b")
    vector = ParameterVector("v", 2)
    expressions = [2 * a + b, (a * vector[0]).sin() + 0.5 * b.exp(), (a - 1) / (vector[1] + 3)]
    decoded = round_trip(expressions)
    for original, back in zip(expressions, decoded, strict=True):
        assert isinstance(back, ParameterExpression)
        assert back == original
        values = {param: 0.1 * (index + 1) for index, param in enumerate(original.parameters)}
        assert complex(back.bind(values)) == pytest.approx(complex(original.bind(values)))


def test_instructions_round_trip() -> None:
    theta = Parameter("theta")
    custom = QuantumCircuit(2, name="entangle")
    custom.h(0)
    custom.cx(0, 1)
    custom.rz(theta, 1)
    custom_gate = custom.to_gate()
    instructions = [HGate(), CXGate(), RXGate(theta + 1), Measure(), custom_gate]
    decoded = round_trip(instructions)
    assert decoded[:4] == instructions[:4]
    assert isinstance(decoded[4], Gate)
    assert decoded[4].name == "entangle"
    assert decoded[4].params == [theta]
    assert Operator(decoded[4].definition.assign_parameters([0.3])) == Operator(
        custom.assign_parameters([0.3])
    )


@pytest.mark.parametrize(
    "operator",
    [
        SparsePauliOp(["XI", "ZZ", "YX"], [1.0, 0.5j, -0.25]),
        Pauli("-iXZY"),
        PauliList(["XI", "-YZ", "iZZ"]),
        Statevector([0.6, 0.8j]),
        DensityMatrix.from_label("+0"),
        Operator(HGate()),
        Choi(np.eye(4) / 2),
        SuperOp(np.eye(4)),
        Kraus([np.eye(2)]),
        Stinespring(np.eye(2)),
        Chi(np.eye(4)),
        PTM(np.eye(4)),
    ],
    ids=lambda operator: type(operator).__name__,
)
def test_quantum_info_objects_round_trip_through_settings(operator: Any) -> None:
    raw = json.loads(encode(operator))
    assert raw["__type__"] == "settings"
    assert raw["__class__"] == type(operator).__name__
    decoded = round_trip(operator)
    assert type(decoded) is type(operator)
    assert decoded == operator


def test_parametric_sparse_pauli_op_round_trips() -> None:
    coeff = Parameter("c")
    operator = SparsePauliOp(["XZ", "ZI"], [coeff, 2 * coeff])
    decoded = round_trip(operator)
    assert decoded.paulis == operator.paulis
    assert decoded.assign_parameters([0.5]) == operator.assign_parameters([0.5])


@pytest.mark.parametrize(
    "matrix",
    [
        scipy.sparse.csr_matrix(np.array([[0, 2.5], [1, 0]])),
        scipy.sparse.coo_matrix(np.eye(3)),
        scipy.sparse.csr_array(np.array([[1j, 0], [0, 2]])),
    ],
    ids=lambda matrix: type(matrix).__name__,
)
def test_sparse_matrices_round_trip(matrix: Any) -> None:
    raw = json.loads(encode(matrix))
    assert raw["__type__"] == "spmatrix"
    decoded = round_trip(matrix)
    assert type(decoded) is type(matrix)
    assert np.array_equal(decoded.toarray(), matrix.toarray())


@pytest.mark.filterwarnings(AER_FROM_DICT_DEPRECATED)
def test_noise_model_round_trip() -> None:
    model = noise_model()
    decoded = round_trip(model)
    assert isinstance(decoded, NoiseModel)
    assert decoded == model


def test_primitive_results_round_trip() -> None:
    sampled = round_trip(sampler_result())
    assert isinstance(sampled, PrimitiveResult)
    assert sampled.metadata == {"version": 2}
    pub = sampled[0]
    assert isinstance(pub, SamplerPubResult)
    assert pub.metadata == {"shots": 2}
    assert pub.data.shape == (2,)
    assert pub.data.meas == sampler_result()[0].data.meas
    assert pub.join_data().get_counts() == sampler_result()[0].join_data().get_counts()

    estimated = round_trip(estimator_result())
    pub = estimated[0]
    assert type(pub) is PubResult
    assert np.array_equal(pub.data.evs, [0.5, -0.25])
    assert np.array_equal(pub.data.stds, [0.01, 0.02])
    assert pub.metadata == {"target_precision": 0.01}
    assert estimated.metadata == {"dynamical": False}


def test_callables_become_null_with_a_warning() -> None:
    with pytest.warns(QRuntimeWarning, match="not JSON serializable"):
        assert round_trip({"callback": lambda job_id, message: None}) == {"callback": None}


def test_unsupported_objects_raise_type_error() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode({"data": b"bytes"})


def test_settings_with_integer_keys_round_trip_once_allowlisted(isolated_allowlist: None) -> None:
    obj = WithSettings({0: "zero", 5: "five"}, {"inner": {1: 0.5}})
    raw = json.loads(encode(obj))
    assert raw["__module__"] == __name__
    assert raw["__value__"]["table"] == {"0": "zero", "5": "five", "__int_keys__": True}
    assert raw["__value__"]["nested"] == {"inner": {"1": 0.5, "__int_keys__": True}}
    with pytest.raises(DecodeError, match="WithSettings is not on the allowlist"):
        round_trip(obj)

    register_settings_class(__name__, "WithSettings", WithSettings)
    decoded = round_trip(obj)
    assert isinstance(decoded, WithSettings)
    assert decoded.table == {0: "zero", 5: "five"}
    assert decoded.nested == {"inner": {1: 0.5}}
    assert f"{__name__}.WithSettings" in allowed_settings_classes()


def test_runtime_encoder_and_decoder_work_with_json_module() -> None:
    value = {"z": 1j, "circuit": bell_circuit()}
    text = json.dumps(value, cls=RuntimeEncoder)
    assert json.loads(text, cls=RuntimeDecoder) == value
    with pytest.raises(json.JSONDecodeError):
        json.loads("not json", cls=RuntimeDecoder)


def test_decode_value_does_not_modify_its_input() -> None:
    parsed = json.loads(encode({"z": [1j, 2], "plain": [1, 2]}))
    snapshot = json.loads(json.dumps(parsed))
    decoded = decode_value(parsed)
    assert decoded == {"z": [1j, 2], "plain": [1, 2]}
    assert parsed == snapshot
    assert decoded["plain"] is parsed["plain"]


def test_decode_inputs_accepts_text_and_parsed_params() -> None:
    inputs = {"circuits": [bell_circuit()], "shots": 100}
    text = encode(inputs)
    assert decode_inputs(text) == inputs
    assert decode_inputs(json.loads(text)) == inputs
    with pytest.raises(DecodeError, match=r"^inputs: expected a JSON object"):
        decode_inputs("[1, 2]")


def test_five_hundred_circuits_round_trip() -> None:
    circuits = []
    for index in range(500):
        circuit = QuantumCircuit(3, 3)
        circuit.h(0)
        circuit.cx(0, 1)
        circuit.rz(0.01 * index, 2)
        circuit.measure(range(3), range(3))
        circuits.append(circuit)
    decoded = decode_inputs(encode({"circuits": circuits}))
    assert decoded["circuits"] == circuits


# -- interoperation with the current qiskit-ibm-runtime --------------------------------------


def qiskit_2_values() -> dict[str, Any]:
    theta = Parameter("theta")
    return {
        "circuit": bell_circuit(),
        "parameterized": parameterized_circuit(),
        "sparse_pauli_op": SparsePauliOp(["XI", "ZZ"], [1, 2j]),
        "pauli": Pauli("-iXZ"),
        "pauli_list": PauliList(["XI", "-YZ"]),
        "operator": Operator(HGate()),
        "statevector": Statevector([0.6, 0.8]),
        "array": np.arange(6.0).reshape(2, 3),
        "complex": 1 - 1j,
        "set": {1, 2},
        "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "parameter": theta,
        "instruction": RXGate(theta),
        "result": counts_result(),
        "noise_model": noise_model(),
        "spmatrix": scipy.sparse.csr_matrix(np.eye(2)),
        "sampler_result": sampler_result(),
        "estimator_result": estimator_result(),
        "int64": np.int64(4),
    }


@pytest.mark.filterwarnings(AER_FROM_DICT_DEPRECATED)
@pytest.mark.parametrize("name", sorted(qiskit_2_values()))
def test_ibm_runtime_output_decodes_with_ours(name: str) -> None:
    value = qiskit_2_values()[name]
    decoded = decode(json.dumps(value, cls=IBMRuntimeEncoder))
    assert_same_value(decoded, value)


@pytest.mark.filterwarnings(AER_FROM_DICT_DEPRECATED)
@pytest.mark.parametrize("name", sorted(set(qiskit_2_values()) - {"statevector"}))
def test_our_output_decodes_with_ibm_runtime(name: str) -> None:
    value = qiskit_2_values()[name]
    decoded = json.loads(encode(value), cls=IBMRuntimeDecoder)
    assert_same_value(decoded, value)


@pytest.mark.filterwarnings(AER_FROM_DICT_DEPRECATED)
@pytest.mark.parametrize("name", sorted(set(qiskit_2_values()) - {"instruction"}))
def test_our_output_is_identical_to_ibm_runtime(name: str) -> None:
    value = qiskit_2_values()[name]
    assert encode(value) == json.dumps(value, cls=IBMRuntimeEncoder)


def test_ibm_runtime_leaves_states_undecoded_but_we_rebuild_them() -> None:
    # IBM's current decoder rebuilds settings only under qiskit.quantum_info.operators.
    state = Statevector([0.6, 0.8])
    theirs = json.loads(encode(state), cls=IBMRuntimeDecoder)
    assert theirs["__class__"] == "Statevector"
    assert round_trip(state) == state


def assert_same_value(decoded: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        assert decoded.dtype == value.dtype
        assert np.array_equal(decoded, value)
    elif isinstance(value, Result):
        assert decoded.to_dict() == value.to_dict()
    elif isinstance(value, PrimitiveResult):
        assert decoded.metadata == value.metadata
        for back, pub in zip(decoded, value, strict=True):
            assert type(back) is type(pub)
            assert back.metadata == pub.metadata
            for field, data in pub.data.items():
                if isinstance(data, BitArray):
                    assert back.data[field] == data
                else:
                    assert np.array_equal(back.data[field], data)
    elif scipy.sparse.issparse(value):
        assert np.array_equal(decoded.toarray(), value.toarray())
    else:
        assert decoded == value


# -- payloads written by IBM's 2021-2022 clients ---------------------------------------------


def load_fixture(folder: str) -> tuple[dict[str, Any], dict[str, Any]]:
    payloads = json.loads((FIXTURES / folder / "payloads.json").read_text())
    expected = json.loads((FIXTURES / folder / "expected.json").read_text())
    return payloads, expected


def fixture_cases() -> list[Any]:
    cases = []
    for folder in CLIENT_FOLDERS:
        _, expected = load_fixture(folder)
        for name in sorted(expected["values"]):
            cases.append(pytest.param(folder, name, id=f"{folder}-{name}"))
    return cases


@pytest.mark.filterwarnings("ignore:The .condition attribute:UserWarning")
@pytest.mark.parametrize(("folder", "name"), fixture_cases())
def test_old_client_payload_decodes(folder: str, name: str, isolated_allowlist: None) -> None:
    payloads, expected = load_fixture(folder)
    bindings = expected["bindings"]
    want = expected["values"][name]
    if want["kind"] == "settings_not_allowlisted":
        check_rejected_settings(payloads[name], name, want)
        return
    decoded = decode_value(payloads[name], root=name)
    check_described(decoded, want, bindings, payloads[name])


def test_old_client_fixtures_are_from_the_pinned_clients() -> None:
    provider = load_fixture("ibmq_provider")[1]["generated_with"]
    assert provider["qiskit-ibmq-provider"] == "0.20.2"
    assert provider["qiskit-terra"] == "0.23.3"
    runtime = load_fixture("ibm_runtime_0_7")[1]["generated_with"]
    assert runtime["qiskit-ibm-runtime"] == "0.7.0"
    assert runtime["qiskit-terra"] == "0.22.4"


@pytest.mark.parametrize("folder", CLIENT_FOLDERS)
def test_old_client_circuit_runner_request_decodes(folder: str) -> None:
    body = json.loads((FIXTURES / folder / "jobs_request.json").read_text())
    want = load_fixture(folder)[1]["jobs_request"]
    bindings = load_fixture(folder)[1]["bindings"]
    assert body["program_id"] == want["program_id"]
    assert body["backend"] == want["backend"]
    inputs = decode_inputs(body["params"])
    assert sorted(inputs) == want["params"]
    for circuit, described in zip(inputs["circuits"], want["circuits"], strict=True):
        check_described(circuit, described, bindings, None)
    for key in ("shots", "initial_layout", "optimization_level", "measurement_error_mitigation"):
        assert inputs[key] == want[key]


def check_rejected_settings(payload: dict[str, Any], name: str, want: dict[str, Any]) -> None:
    qualified = f"{want['module']}.{want['class']}"
    with pytest.raises(DecodeError) as caught:
        decode_value(payload, root=name)
    message = str(caught.value)
    assert message.startswith(f"{name}: cannot decode settings: class {qualified} is not on")
    assert "allowed: " in message
    assert "qiskit.quantum_info.SparsePauliOp" in message
    assert caught.value.field == name

    register_settings_class(want["module"], want["class"], lambda **settings: settings)
    assert sorted(decode_value(payload, root=name)) == want["settings"]


def check_described(
    decoded: Any, want: dict[str, Any], bindings: dict[str, float], raw: Any
) -> None:
    kind = want["kind"]
    if kind == "circuit":
        assert describe_circuit(decoded, bindings) == {
            key: want[key] for key in want if key != "statevector"
        }
        if "statevector" in want:
            assert np.allclose(bound_statevector(decoded, bindings), want["statevector"])
    elif kind == "list":
        assert len(decoded) == len(want["items"])
        for item, described in zip(decoded, want["items"], strict=True):
            check_described(item, described, bindings, None)
    elif kind == "circuit_summary":
        assert decoded.num_qubits == want["num_qubits"]
        assert sorted(param.name for param in decoded.parameters) == want["parameters"]
        assert np.allclose(bound_statevector(decoded, bindings), want["statevector"])
    elif kind == "ndarray":
        assert str(decoded.dtype) == want["dtype"]
        assert list(decoded.shape) == want["shape"]
        if np.iscomplexobj(decoded):
            assert [[z.real, z.imag] for z in decoded.ravel().tolist()] == want["values"]
        else:
            assert decoded.tolist() == want["values"]
    elif kind == "complex":
        assert decoded == complex(*want["value"])
    elif kind == "set":
        assert decoded == set(want["members"])
    elif kind == "datetime":
        assert isinstance(decoded, datetime.datetime)
        assert decoded.isoformat() == want["isoformat"]
    elif kind == "result":
        assert isinstance(decoded, Result)
        assert decoded.backend_name == want["backend_name"]
        assert decoded.success == want["success"]
        assert [decoded.get_counts(index) for index in range(2)] == want["counts"]
        assert [experiment.shots for experiment in decoded.results] == want["shots"]
    elif kind == "parameter":
        assert isinstance(decoded, Parameter)
        assert decoded.name == want["name"]
        assert str(decoded.uuid) == want["uuid"]
        # qiskit-ibm-runtime 0.7 writes vector elements as bare "Parameter" records, which
        # carry no vector; IBM's decoder loses it the same way.
        if want["vector"] is not None and raw["__type__"] == "ParameterExpression":
            assert isinstance(decoded, ParameterVectorElement)
            assert [decoded.vector.name, len(decoded.vector), decoded.index] == want["vector"]
    elif kind == "expression":
        assert isinstance(decoded, ParameterExpression)
        assert sorted(param.name for param in decoded.parameters) == want["parameters"]
        assert number(decoded, bindings) == pytest.approx(want["value"])
    elif kind == "instruction":
        assert decoded.name == want["name"]
        assert decoded.num_qubits == want["num_qubits"]
        assert decoded.num_clbits == want["num_clbits"]
        assert [number(param, bindings) for param in decoded.params] == want["params"]
    elif kind in ("sparse_pauli_op", "sparse_pauli_op_bound"):
        assert isinstance(decoded, SparsePauliOp)
        if kind == "sparse_pauli_op_bound":
            decoded = decoded.assign_parameters(
                {param: bindings[param.name] for param in decoded.parameters}
            )
        assert [label for label, _ in decoded.to_list()] == [label for label, _ in want["terms"]]
        coeffs = [[coeff.real, coeff.imag] for _, coeff in decoded.to_list()]
        assert np.allclose(coeffs, [coeff for _, coeff in want["terms"]])
    elif kind == "pauli":
        assert decoded == Pauli(want["label"])
    elif kind == "pauli_list":
        assert decoded == PauliList(want["labels"])
    elif kind == "statevector":
        assert isinstance(decoded, Statevector)
        assert [[z.real, z.imag] for z in decoded.data.tolist()] == want["data"]
        assert list(decoded.dims()) == want["dims"]
    elif kind == "operator":
        assert isinstance(decoded, Operator)
        assert [[[z.real, z.imag] for z in row] for row in decoded.data.tolist()] == want["data"]
    elif kind == "spmatrix":
        assert scipy.sparse.issparse(decoded)
        assert decoded.toarray().tolist() == want["dense"]
    elif kind == "json":
        assert decoded == want["value"]
    elif kind == "optimizer_settings":
        assert decoded["name"] == want["name"]
        assert sorted(key for key in decoded if key != "name") == want["settings"]
    else:
        pytest.fail(f"the fixture describes an unknown kind {kind!r}")


def describe_circuit(circuit: QuantumCircuit, bindings: dict[str, float]) -> dict[str, Any]:
    """The description make_payloads.py writes, computed from a circuit decoded by Qiskit 2.

    A Terra ``c_if`` condition arrives as an ``IfElseOp`` around one instruction; it is
    described as that instruction with its condition, as Terra described it.
    """
    qubits = {bit: index for index, bit in enumerate(circuit.qubits)}
    clbits = {bit: index for index, bit in enumerate(circuit.clbits)}
    ops = []
    for item in circuit.data:
        operation, item_qubits, item_clbits = item.operation, item.qubits, item.clbits
        condition = None
        if isinstance(operation, IfElseOp):
            target, value = operation.condition
            where = clbits[target] if isinstance(target, Clbit) else target.name
            condition = [where, int(value)]
            (body,) = (block for block in operation.blocks if block is not None)
            (inner,) = body.data
            inner_map = dict(zip(body.qubits, item_qubits, strict=True))
            operation = inner.operation
            item_qubits = tuple(inner_map[bit] for bit in inner.qubits)
            item_clbits = ()
        ops.append(
            {
                "name": operation.name,
                "qubits": [qubits[bit] for bit in item_qubits],
                "clbits": [clbits[bit] for bit in item_clbits],
                "params": [number(param, bindings) for param in operation.params],
                "condition": condition,
            }
        )
    return {
        "kind": "circuit",
        "name": circuit.name,
        "num_qubits": circuit.num_qubits,
        "num_clbits": circuit.num_clbits,
        "qregs": [[register.name, register.size] for register in circuit.qregs],
        "cregs": [[register.name, register.size] for register in circuit.cregs],
        "parameters": sorted(param.name for param in circuit.parameters),
        "global_phase": number(circuit.global_phase, bindings),
        "ops": ops,
    }


def number(value: Any, bindings: dict[str, float]) -> Any:
    if isinstance(value, ParameterExpression):
        bound = value.bind({param: bindings[param.name] for param in value.parameters})
        return number(complex(bound), bindings)
    if isinstance(value, complex):
        return float(value.real) if value.imag == 0 else [value.real, value.imag]
    if isinstance(value, int | float | np.number):
        return number(complex(value), bindings)
    return str(value)


def bound_statevector(circuit: QuantumCircuit, bindings: dict[str, float]) -> list[list[float]]:
    bound = circuit.remove_final_measurements(inplace=False).assign_parameters(
        {param: bindings[param.name] for param in circuit.parameters}
    )
    return [[z.real, z.imag] for z in Statevector(bound).data.tolist()]


# -- errors name the field -------------------------------------------------------------------


def good_circuit_payload() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(encode(bell_circuit()))
    return payload


def decode_error(params: Any) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode_inputs(params)
    return caught.value


def test_malformed_qpy_names_the_circuit() -> None:
    broken = tagged("QuantumCircuit", b64(b"QISKIT\x0c" + b"\x00" * 9, compress=True))
    error = decode_error({"circuits": [good_circuit_payload(), broken]})
    assert str(error).startswith('inputs["circuits"][1]: cannot decode QuantumCircuit: ')
    assert "not QPY that Qiskit" in str(error)
    assert error.field == 'inputs["circuits"][1]'


def test_truncated_qpy_names_the_circuit() -> None:
    data = zlib.decompress(base64.b64decode(good_circuit_payload()["__value__"]))
    truncated = tagged("QuantumCircuit", b64(data[: len(data) // 2], compress=True))
    error = decode_error({"circuits": [truncated]})
    assert str(error).startswith('inputs["circuits"][0]: cannot decode QuantumCircuit: ')


def test_bad_base64_names_the_field() -> None:
    error = decode_error({"options": {"ansatz": tagged("QuantumCircuit", "not*base64!")}})
    assert str(error).startswith('inputs["options"]["ansatz"]: cannot decode QuantumCircuit: ')
    assert "not valid base64" in str(error)


def test_data_that_is_not_zlib_names_the_field() -> None:
    error = decode_error({"arr": tagged("ndarray", b64(b"plain bytes"))})
    assert str(error) == (
        'inputs["arr"]: cannot decode ndarray: the value is not zlib-compressed data '
        "(Error -3 while decompressing data: incorrect header check)"
    )


def test_ndarray_payload_that_is_not_npy_is_refused() -> None:
    error = decode_error({"arr": tagged("ndarray", b64(b"\x80\x04pickle", compress=True))})
    assert "not a .npy array" in str(error)


def test_unknown_tag_names_the_field_and_the_known_tags() -> None:
    error = decode_error({"data": [1, {"x": tagged("dill", "gASV...")}]})
    message = str(error)
    assert message.startswith('inputs["data"][1]["x"]: unknown __type__ \'dill\'; the known ')
    for tag in ("QuantumCircuit", "ndarray", "settings", "NoiseModel", "PrimitiveResult"):
        assert tag in message


def test_settings_of_a_class_not_on_the_allowlist_is_refused() -> None:
    payload = {
        "__type__": "settings",
        "__module__": "os",
        "__class__": "system",
        "__value__": {"command": "echo owned"},
    }
    error = decode_error({"optimizer": payload})
    message = str(error)
    assert message.startswith('inputs["optimizer"]: cannot decode settings: class os.system ')
    assert "not on the allowlist" in message
    assert "allowed: " in message
    assert "qiskit.quantum_info.SparsePauliOp" in message
    assert "register_settings_class" in message


def test_settings_that_do_not_fit_the_class_are_refused() -> None:
    payload = {
        "__type__": "settings",
        "__module__": "qiskit.quantum_info",
        "__class__": "Pauli",
        "__value__": {"label": "XZ"},
    }
    error = decode_error({"observable": payload})
    assert str(error).startswith(
        'inputs["observable"]: cannot decode settings: '
        "Pauli cannot be built from settings ['label']"
    )


def test_error_inside_a_settings_value_names_the_inner_field() -> None:
    payload = json.loads(encode(SparsePauliOp(["XI"], [1.0])))
    payload["__value__"]["coeffs"] = tagged("ndarray", "%%%")
    error = decode_error({"observable": payload})
    assert str(error).startswith('inputs["observable"]["coeffs"]: cannot decode ndarray: ')


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (tagged("Parameter", b64(b"\x00\x09" + b"\x00" * 16 + b"ab")), "announces a 9-byte name"),
        (tagged("Parameter", b64(b"\x00")), "too few for a QPY parameter record"),
        (tagged("ParameterExpression", b64(b"\x00" * 8)), "too few"),
        (
            tagged("ParameterExpression", b64(struct.pack("!QQ", 1, 40) + b"Add(")),
            "truncated",
        ),
        (
            tagged("ParameterExpression", b64(struct.pack("!QQ", 1, 8) + b"Symbol(x")),
            "not a QPY parameter expression record",
        ),
        (
            tagged("ParameterExpression", b64(struct.pack("!QQ", 0, 4) + b"\x01\x00\x00\x0b")),
            "install the 'symengine' package",
        ),
        (tagged("complex", [1]), "expected [real, imag]"),
        (tagged("datetime", "not a date"), "is not an ISO 8601 date"),
        (tagged("set", {"a": 1}), "expected a list of members"),
        (tagged("spmatrix", b64(b"not a zip")), "not a scipy.sparse .npz file"),
        (tagged("Result", {"backend_name": "x"}), "Result.to_dict() lacks the key"),
        (tagged("Instruction", json.loads(encode(QuantumCircuit(1)))["__value__"]), "no instr"),
        (tagged("BitArray", {"array": [1, 2], "num_bits": 2}), '"array" must be an ndarray'),
        (tagged("DataBin", {"shape": "x", "fields": {}}), '"shape" must be a list'),
        ({"__type__": "complex"}, "the object has no __value__"),
    ],
    ids=lambda item: item if isinstance(item, str) else None,
)
def test_malformed_values_name_the_field(payload: dict[str, Any], reason: str) -> None:
    error = decode_error({"value": [payload]})
    assert str(error).startswith('inputs["value"][0]: ')
    assert reason in str(error)
    assert error.field == 'inputs["value"][0]'


def test_decode_reports_text_that_is_not_json() -> None:
    with pytest.raises(DecodeError, match=r"^value: the text is not valid JSON"):
        decode("{not json")


def test_round_trip_names_fields_from_the_given_root(isolated_allowlist: None) -> None:
    with pytest.raises(DecodeError, match=r'^inputs\["optimizer"\]: cannot decode settings'):
        round_trip({"optimizer": WithSettings({}, {})}, root="inputs")
