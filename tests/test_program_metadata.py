"""ProgramMetadata reads both of IBM's metadata formats and normalises them to the spec format."""

from __future__ import annotations

import json

import pytest

from qruntime.errors import InputError
from qruntime.program import ProgramMetadata

LIST_FORMAT = {
    "name": "circuit-runner",
    "description": "A runtime program that takes one or more circuits.",
    "max_execution_time": 14400,
    "version": "1.0",
    "backend_requirements": {"min_num_qubits": 5},
    "parameters": [
        {
            "name": "circuits",
            "description": "A QuantumCircuit or a list.",
            "type": "A QuantumCircuit or a list of QuantumCircuits.",
            "required": True,
        },
        {
            "name": "shots",
            "description": "Number of repetitions.",
            "type": "int",
            "required": False,
        },
        {"name": "data", "description": "NxD array.", "type": "numpy.ndarray", "required": True},
    ],
    "return_values": [
        {"name": "-", "description": "Circuit execution results.", "type": "RunnerResult object"}
    ],
    "interim_results": [
        {"name": "cost", "description": "Cost value.", "type": "float"},
        {"name": "kernel_parameters", "description": "Parameters.", "type": "numpy.ndarray"},
    ],
}


def test_list_format_becomes_a_json_schema_spec() -> None:
    metadata = ProgramMetadata.from_dict(LIST_FORMAT)
    params = metadata.parameters
    assert params["required"] == ["circuits", "data"]
    assert params["properties"]["shots"] == {
        "description": "Number of repetitions.",
        "type": "integer",
    }
    assert params["properties"]["data"]["type"] == "array"
    # A free-form type is kept for people but not enforced.
    assert "type" not in params["properties"]["circuits"]
    assert "QuantumCircuit" in params["properties"]["circuits"]["description"]
    assert metadata.spec["return_values"]["description"] == (
        "Circuit execution results. (type: RunnerResult object)"
    )
    assert set(metadata.spec["interim_results"]["properties"]) == {"cost", "kernel_parameters"}
    assert metadata.backend_requirements == {"min_num_qubits": 5}
    assert metadata.max_execution_time == 14400


def test_spec_format_is_kept_and_round_trips() -> None:
    data = {
        "name": "hello-world",
        "description": "A sample runtime program.",
        "max_execution_time": 300,
        "is_public": True,
        "spec": {"parameters": {"properties": {"iterations": {"type": "integer"}}}},
    }
    metadata = ProgramMetadata.from_dict(data)
    assert metadata.to_dict() == data
    assert ProgramMetadata.from_dict(json.loads(json.dumps(metadata.to_dict()))) == metadata


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"description": "no name"}, "name"),
        ({"name": "x", "max_execution_time": -5}, "max_execution_time"),
        ({"name": "x", "max_execution_time": "long"}, "max_execution_time"),
        ({"name": "x", "spec": []}, "spec"),
        ({"name": "x", "parameters": {"not": "a list"}}, "parameters"),
        ({"name": "x", "spec": {"parameters": {"type": "no-such-type"}}}, "spec.parameters"),
    ],
)
def test_bad_metadata_names_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as caught:
        ProgramMetadata.from_dict(data)
    assert caught.value.field == field
