"""The backend catalogue: names, IBM configuration JSON, emulators, plugins."""

from __future__ import annotations

import datetime
import json
import logging
import re
import subprocess
import sys
import textwrap
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dateutil.parser import isoparse
from qiskit_aer.noise import NoiseModel
from qiskit_ibm_runtime.fake_provider import FakeBogotaV2, FakeMontrealV2, FakeProviderForBackendV2

from qruntime.backends import (
    SIMULATORS,
    BackendCatalogue,
    BackendInfo,
    DeviceSnapshot,
    EmulatorSource,
    SimulatorSource,
    default_catalogue,
)
from qruntime.backends.configuration import PULSE_ONLY_KEYS, REQUIRED_KEYS
from qruntime.backends.noise import DeviceNoise, restrict
from qruntime.errors import BackendNotFoundError, InputError
from qruntime.program.backend import ProgramBackend
from tests.conftest import SIMULATOR_NAMES


def assert_ibm_configuration(config: dict[str, Any]) -> None:
    """Check what IBM's 2021 clients need to build a backend (wire protocol §1.3)."""
    missing = [key for key in REQUIRED_KEYS if key not in config]
    assert not missing, f"{config.get('backend_name')}: missing {missing}"
    name = config["backend_name"]
    assert isinstance(name, str)
    assert name
    assert re.fullmatch(r"\d+\.\d+\.\d+", config["backend_version"]), name
    assert isinstance(config["n_qubits"], int)
    assert config["n_qubits"] > 0
    assert all(isinstance(gate, str) for gate in config["basis_gates"])
    assert config["basis_gates"], name
    for gate in config["gates"]:
        assert isinstance(gate["name"], str), (name, gate)
        assert isinstance(gate["parameters"], list), (name, gate)
        assert all(isinstance(parameter, str) for parameter in gate["parameters"]), (name, gate)
        assert isinstance(gate["qasm_def"], str), (name, gate)
        assert gate["qasm_def"], (name, gate)
    for key in ("local", "simulator", "conditional", "open_pulse", "memory"):
        assert isinstance(config[key], bool), (name, key)
    assert config["local"] is False
    assert config["open_pulse"] is False
    for key in ("max_shots", "max_experiments"):
        assert isinstance(config[key], int), (name, key)
        assert config[key] >= 1, (name, key)
    coupling = config["coupling_map"]
    if config["simulator"]:
        assert coupling is None, name
    if coupling is not None:
        for edge in coupling:
            assert len(edge) == 2, name
            assert all(0 <= qubit < config["n_qubits"] for qubit in edge), name
    assert isinstance(isoparse(config["online_date"]), datetime.datetime)
    assert datetime.datetime.fromisoformat(config["online_date"])
    assert set(config["input_allowed"]) >= {"job", "runtime"}
    # With these gone PulseBackendConfiguration.from_dict raises KeyError and the clients build
    # the qasm configuration instead.
    assert not PULSE_ONLY_KEYS & set(config), name
    json.dumps(config)


def test_names_are_the_simulators_then_every_fake_device(catalogue: BackendCatalogue) -> None:
    names = catalogue.names()
    assert names[:5] == SIMULATOR_NAMES
    shipped = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fake_nighthawk warns that its errors are made up
        fakes = FakeProviderForBackendV2().backends()
    for fake in fakes:
        conf = json.loads(Path(fake.dirname, fake.conf_filename).read_text())
        # alt_<city> snapshots are of devices IBM published as ibm_<city>.
        shipped.add(conf["backend_name"].replace("alt_", "ibm_", 1))
    assert len(shipped) == 68
    assert set(names[5:]) == shipped
    assert {"ibm_auckland", "ibm_cairo"} <= set(names)
    assert len(names) == len(set(names))
    assert {"ibmq_bogota", "ibm_brisbane", "ibmq_montreal"} <= set(names)


def test_every_name_has_info_and_a_configuration_the_clients_accept(
    catalogue: BackendCatalogue,
) -> None:
    for name in catalogue.names():
        info = catalogue.info(name)
        config = catalogue.configuration(name)
        assert isinstance(info, BackendInfo)
        assert info.name == name == config["backend_name"]
        assert info.kind == ("simulator" if name in SIMULATOR_NAMES else "emulator")
        assert info.simulator is config["simulator"] is (info.kind == "simulator")
        assert info.num_qubits == config["n_qubits"]
        assert info.description
        assert_ibm_configuration(config)


def test_simulators_advertise_ibms_qubit_counts(catalogue: BackendCatalogue) -> None:
    counts = {name: catalogue.info(name).num_qubits for name in SIMULATOR_NAMES}
    assert counts == {
        "ibmq_qasm_simulator": 32,
        "simulator_statevector": 32,
        "simulator_mps": 100,
        "simulator_stabilizer": 5000,
        "simulator_extended_stabilizer": 63,
    }
    assert [spec.name for spec in SIMULATORS] == SIMULATOR_NAMES


def test_emulator_configuration_is_the_devices_without_pulse(
    catalogue: BackendCatalogue,
) -> None:
    fake = FakeBogotaV2()
    snapshot = json.loads(Path(fake.dirname, fake.conf_filename).read_text())
    config = catalogue.configuration("ibmq_bogota")
    assert "u_channel_lo" in snapshot
    assert "hamiltonian" in snapshot
    assert config["coupling_map"] == snapshot["coupling_map"]
    assert config["basis_gates"] == snapshot["basis_gates"]
    assert config["backend_version"] == snapshot["backend_version"]
    assert config["online_date"] == snapshot["online_date"]
    assert config["simulator"] is False
    assert config["open_pulse"] is False
    assert [gate["name"] for gate in config["gates"]] == ["id", "rz", "sx", "x", "cx"]
    assert catalogue.configuration("ibm_brisbane")["backend_name"] == "ibm_brisbane"


def test_configuration_is_a_copy(catalogue: BackendCatalogue) -> None:
    catalogue.configuration("ibmq_bogota")["basis_gates"].append("mangled")
    catalogue.configuration("ibmq_qasm_simulator")["n_qubits"] = -1
    assert "mangled" not in catalogue.configuration("ibmq_bogota")["basis_gates"]
    assert catalogue.configuration("ibmq_qasm_simulator")["n_qubits"] == 32


def test_configurations_lists_every_backend(catalogue: BackendCatalogue) -> None:
    configs = catalogue.configurations()
    assert [config["backend_name"] for config in configs] == catalogue.names()


def test_properties(catalogue: BackendCatalogue) -> None:
    assert catalogue.properties("ibmq_qasm_simulator") is None
    properties = catalogue.properties("ibmq_bogota")
    assert properties is not None
    assert properties["backend_name"] == "ibmq_bogota"
    assert re.fullmatch(r"\d+\.\d+\.\d+", properties["backend_version"])
    assert len(properties["qubits"]) == 5
    isoparse(properties["last_update_date"])
    json.dumps(properties)


def test_status(catalogue: BackendCatalogue) -> None:
    assert catalogue.status("ibmq_bogota", pending_jobs=3) == {
        "state": True,
        "status": "active",
        "lengthQueue": 3,
        "backend_version": "1.4.10",
    }
    status = catalogue.status("ibmq_qasm_simulator")
    assert status["lengthQueue"] == 0
    assert re.fullmatch(r"\d+\.\d+\.\d+", status["backend_version"])


def test_unknown_name_lists_the_names_closest_first(catalogue: BackendCatalogue) -> None:
    for ask in (catalogue.get, catalogue.info, catalogue.configuration, catalogue.status):
        with pytest.raises(BackendNotFoundError) as raised:
            ask("ibmq_bogot")
        message = str(raised.value)
        assert "ibmq_bogot'" in message
        listed = message.split(": ", 1)[1]
        assert listed.startswith("ibmq_bogota")
        assert "ibmq_qasm_simulator" in listed
        assert "ibm_brisbane" in listed
        assert isinstance(raised.value, InputError)


def test_get_is_cheap_and_gives_a_program_backend(catalogue: BackendCatalogue) -> None:
    first = catalogue.get("ibmq_qasm_simulator")
    second = catalogue.get("ibmq_qasm_simulator")
    assert isinstance(first, ProgramBackend)
    assert first is not second
    assert first.wrapped is second.wrapped
    emulator = catalogue.get("ibmq_montreal")
    assert emulator.wrapped is catalogue.get("ibmq_montreal").wrapped
    assert emulator.num_qubits == 27


def test_default_catalogue_is_built_once() -> None:
    assert default_catalogue() is default_catalogue()


def test_importing_and_using_simulators_loads_no_snapshot() -> None:
    code = textwrap.dedent(
        """
        import sys
        from qruntime.backends import BackendCatalogue, default_catalogue
        assert "qiskit_ibm_runtime" not in sys.modules
        catalogue = default_catalogue()
        catalogue.get("ibmq_qasm_simulator")
        catalogue.configuration("simulator_mps")
        assert "qiskit_ibm_runtime" not in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _canonical(noise: Any) -> list[str]:
    def without_ids(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: without_ids(item) for key, item in value.items() if key != "id"}
        if isinstance(value, list):
            return [without_ids(item) for item in value]
        return value

    errors = without_ids(noise.to_dict(serializable=True))["errors"]
    return sorted(json.dumps(error, sort_keys=True) for error in errors)


@pytest.mark.parametrize("device_class", [FakeBogotaV2, FakeMontrealV2])
def test_device_noise_equals_the_full_noise_model_on_the_qubits_used(
    device_class: Callable[[], Any],
) -> None:
    device = device_class()
    full = NoiseModel.from_backend(device)
    noise = DeviceNoise(device)
    everything = frozenset(range(device.num_qubits))
    for qubits in ({0}, {1, 2}, {0, 1, 2, 3}, {1, 2}, {3, 4}, everything):
        on = frozenset(qubits)
        assert _canonical(noise.on(on)) == _canonical(restrict(full, on)), sorted(on)
    assert sorted(noise.on(everything).basis_gates) == sorted(full.basis_gates)


class _UnbuildableDevice:
    def __init__(self) -> None:
        raise ValueError("snapshot format from the future")


def test_an_emulator_that_cannot_be_built_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = DeviceSnapshot(
        name="ibm_future",
        fake_class=_UnbuildableDevice,
        properties_path=None,
        configuration=BackendCatalogue().configuration("ibmq_bogota")
        | {"backend_name": "ibm_future"},
    )
    catalogue = BackendCatalogue([SimulatorSource(), EmulatorSource([broken])])
    assert catalogue.names()[-1] == "ibm_future"
    with caplog.at_level(logging.WARNING), pytest.raises(BackendNotFoundError) as raised:
        catalogue.get("ibm_future")
    assert "snapshot format from the future" in str(raised.value)
    assert "Cannot build the emulator of ibm_future" in caplog.text
    assert "ibm_future" not in catalogue.names()
    assert catalogue.get("ibmq_qasm_simulator").name == "ibmq_qasm_simulator"


@pytest.fixture
def plugin_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install, on sys.path, a distribution declaring backends in ``qruntime.backends``."""
    module = f"qruntime_test_plugins_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from qiskit.providers.fake_provider import GenericBackendV2

            def lab_device():
                return GenericBackendV2(num_qubits=3, seed=11)

            def offline():
                raise RuntimeError("the hardware is offline")

            def not_a_backend():
                return object()
            """
        )
    )
    dist_info = tmp_path / f"{module}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""
            [qruntime.backends]
            lab_device = {module}:lab_device
            lab_offline = {module}:offline
            lab_wrong_type = {module}:not_a_backend
            lab_missing = {module}_absent:factory
            ibmq_qasm_simulator = {module}:lab_device
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return module


def test_plugin_entry_points(plugin_distribution: str, caplog: pytest.LogCaptureFixture) -> None:
    catalogue = BackendCatalogue()
    with caplog.at_level(logging.WARNING):
        names = catalogue.names()
    assert names.count("ibmq_qasm_simulator") == 1
    assert catalogue.info("ibmq_qasm_simulator").kind == "simulator"
    assert "offered twice" in caplog.text
    assert names[-4:] == ["lab_device", "lab_offline", "lab_wrong_type", "lab_missing"]

    info = catalogue.info("lab_device")
    assert (info.kind, info.num_qubits, info.simulator) == ("plugin", 3, False)
    config = catalogue.configuration("lab_device")
    assert_ibm_configuration(config)
    assert config["backend_name"] == "lab_device"
    assert catalogue.properties("lab_device") is None

    backend = catalogue.get("lab_device")
    assert backend.name == "lab_device" == backend.name()
    assert catalogue.get("lab_device").wrapped is backend.wrapped


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("lab_offline", "the hardware is offline"),
        ("lab_wrong_type", "not a qiskit BackendV2"),
        ("lab_missing", "No module named"),
    ],
)
def test_a_broken_plugin_is_left_out(
    plugin_distribution: str, caplog: pytest.LogCaptureFixture, name: str, reason: str
) -> None:
    catalogue = BackendCatalogue()
    with caplog.at_level(logging.WARNING), pytest.raises(BackendNotFoundError) as raised:
        catalogue.get(name)
    assert reason in str(raised.value)
    assert "failed to load" in caplog.text
    assert name not in catalogue.names()
    configured = [config["backend_name"] for config in catalogue.configurations()]
    assert "lab_device" in configured
    assert "ibmq_bogota" in configured
    assert catalogue.get("ibmq_qasm_simulator").name == "ibmq_qasm_simulator"
