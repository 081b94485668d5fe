"""Decoded program inputs are checked against spec.parameters, as IBM's service did."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit

from qruntime.errors import InvalidInputsError
from qruntime.program import InputsValidator

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2019-09/schema",
    "properties": {
        "circuits": {"type": ["object", "array", "string"], "description": "circuits"},
        "shots": {"type": "integer", "minimum": 1, "description": "shots"},
        "optimization_level": {"type": "integer", "minimum": 0, "maximum": 3},
        "routing_method": {"type": "string", "enum": ["basic", "lookahead", "sabre"]},
        "data": {"type": "array"},
        "threshold": {"type": "number"},
        "memory": {"type": "boolean"},
    },
    "required": ["circuits"],
}


def validate(**inputs: Any) -> None:
    InputsValidator(SCHEMA).validate(inputs)


def test_decoded_values_count_as_their_wire_types() -> None:
    validate(
        circuits=QuantumCircuit(2),
        shots=np.int64(100),
        data=np.zeros((2, 3)),
        threshold=np.float32(0.5),
        memory=np.bool_(True),
        optimization_level=2,
    )
    validate(circuits=[QuantumCircuit(1), QuantumCircuit(2)])


def test_extra_inputs_stay_allowed() -> None:
    validate(circuits=QuantumCircuit(1), seed_simulator=42, anything={"a": 1})


def test_missing_required_input_is_named() -> None:
    with pytest.raises(InvalidInputsError, match="missing required input 'circuits'") as caught:
        validate(shots=10)
    assert caught.value.field == "circuits"


@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        ({"shots": "many"}, "shots", ["'shots'", "integer", "'many'"]),
        ({"shots": True}, "shots", ["'shots'", "integer"]),
        ({"optimization_level": 5}, "optimization_level", ["optimization_level", "maximum of 3"]),
        ({"routing_method": "stochastic"}, "routing_method", ["'stochastic'", "'sabre'"]),
        ({"data": 3}, "data", ["'data'", "array"]),
    ],
)
def test_wrong_input_is_named_with_what_is_allowed(
    inputs: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(InvalidInputsError) as caught:
        validate(circuits=QuantumCircuit(1), **inputs)
    assert caught.value.field == field
    for word in words:
        assert word in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidInputsError) as caught:
        validate(shots=0, optimization_level=-1)
    message = str(caught.value)
    assert "circuits" in message
    assert "shots" in message
    assert "optimization_level" in message


def test_an_empty_schema_accepts_anything() -> None:
    InputsValidator({}).validate({"x": object()})
