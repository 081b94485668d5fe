"""run_program runs a program's main in this process the way a job would."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit

from qruntime.errors import (
    BackendNotFoundError,
    DecodeError,
    InputError,
    InvalidInputsError,
    ProgramFailedError,
    ProgramNotFoundError,
)
from qruntime.local import run_program
from qruntime.programs import builtin_programs


def write_program(tmp_path: Path, body: str, metadata: str | None = None) -> Path:
    path = tmp_path / "program.py"
    path.write_text(textwrap.dedent(body))
    if metadata is not None:
        (tmp_path / "metadata.json").write_text(metadata)
    return path


def test_builtin_programs_are_listed() -> None:
    assert {"hello-world", "sample-program", "circuit-runner"} <= set(builtin_programs())


def test_hello_world_publishes_every_iteration_in_order() -> None:
    received: list[tuple[str, Any]] = []
    result = run_program(
        "hello-world",
        {"iterations": 3},
        callback=lambda job_id, msg: received.append((job_id, msg)),
    )
    assert result == "All done!"
    assert [msg["iteration"] for _, msg in received] == [0, 1, 2]
    assert len({job_id for job_id, _ in received}) == 1
    for _, msg in received:
        assert sum(msg["counts"].values()) == 1024
        assert all(len(key) == 5 for key in msg["counts"])


def test_sample_program_is_hello_world_with_five_iterations() -> None:
    received: list[Any] = []
    assert (
        run_program("sample-program", {}, callback=lambda _, m: received.append(m)) == "All done!"
    )
    assert len(received) == 5


def test_inputs_arrive_as_the_service_would_deliver_them(tmp_path: Path) -> None:
    path = write_program(
        tmp_path,
        """
        def main(backend, user_messenger, **kwargs):
            user_messenger.publish({"backend": backend.name, "types": sorted(
                f"{k}:{type(v).__name__}" for k, v in kwargs.items())})
            circuit = kwargs["circ"]
            return {"sum": kwargs["arr"].sum(), "z": kwargs["z"] * 2, "n": circuit.num_qubits}
        """,
    )
    received: list[Any] = []
    result = run_program(
        path,
        {"arr": np.arange(4), "z": 1 + 2j, "circ": QuantumCircuit(3)},
        backend="simulator_statevector",
        callback=lambda _, m: received.append(m),
    )
    assert result == {"sum": 6, "z": 2 + 4j, "n": 3}
    assert received == [
        {
            "backend": "simulator_statevector",
            "types": ["arr:ndarray", "circ:QuantumCircuit", "z:complex"],
        }
    ]


def test_inputs_are_checked_against_the_metadata_spec(tmp_path: Path) -> None:
    path = write_program(
        tmp_path,
        "def main(backend, user_messenger, count):\n    return count\n",
        '{"name": "counter", "max_execution_time": 60, "spec": {"parameters": '
        '{"properties": {"count": {"type": "integer"}}, "required": ["count"]}}}',
    )
    assert run_program(path, {"count": 3}) == 3
    with pytest.raises(InvalidInputsError, match="missing required input 'count'"):
        run_program(path, {})
    with pytest.raises(InvalidInputsError, match="'count' must be of type integer"):
        run_program(path, {"count": "three"})


def test_a_failing_program_gives_its_traceback(tmp_path: Path) -> None:
    path = write_program(
        tmp_path,
        """
        def helper():
            raise RuntimeError("the optimizer diverged")

        def main(backend, user_messenger, **kwargs):
            helper()
        """,
    )
    with pytest.raises(ProgramFailedError, match="RuntimeError: the optimizer diverged") as caught:
        run_program(path, {})
    assert "in helper" in caught.value.traceback


def test_a_result_that_cannot_be_encoded_is_a_failure(tmp_path: Path) -> None:
    path = write_program(tmp_path, "def main(backend, user_messenger):\n    return object()\n")
    with pytest.raises(ProgramFailedError, match="cannot be encoded"):
        run_program(path, {})


def test_legacy_final_publish_is_the_result(tmp_path: Path) -> None:
    path = write_program(
        tmp_path,
        "def main(backend, user_messenger):\n    user_messenger.publish({'x': 1}, final=True)\n",
    )
    assert run_program(path, {}) == {"x": 1}


def test_a_module_can_be_run(tmp_path: Path) -> None:
    import importlib.util

    path = write_program(tmp_path, "def main(backend, user_messenger, x):\n    return x + 1\n")
    spec = importlib.util.spec_from_file_location("tmp_program_module", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert run_program(module, {"x": 1}) == 2


def test_unknown_backend_lists_the_valid_names() -> None:
    with pytest.raises(BackendNotFoundError) as caught:
        run_program("hello-world", {"iterations": 1}, backend="ibmq_bogot")
    assert "ibmq_bogota" in str(caught.value)
    assert "ibmq_qasm_simulator" in str(caught.value)


def test_unknown_program_lists_the_builtin_ids() -> None:
    with pytest.raises(ProgramNotFoundError, match="circuit-runner"):
        run_program("no-such-program", {})


def test_backend_requirements_are_enforced() -> None:
    with pytest.raises(InputError, match="at least 5 qubits"):
        run_program("hello-world", {"iterations": 1}, backend="ibmq_armonk")


def test_a_program_without_main_is_refused(tmp_path: Path) -> None:
    path = write_program(tmp_path, "x = 1\n")
    with pytest.raises(InputError, match="has no function 'main"):
        run_program(path, {})


def test_undecodable_input_names_the_field() -> None:
    bad = {"__type__": "QuantumCircuit", "__value__": "bm90IHFweQ=="}
    with pytest.raises(DecodeError, match="circuits"):
        run_program("circuit-runner", {"circuits": bad})
