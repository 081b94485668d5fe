"""Aer noise models: ``NoiseModel.to_dict()`` / ``NoiseModel.from_dict()`` (IBM's format).

Aer deprecates ``from_dict`` without offering a replacement; this is still the format on the
wire, so it is used as long as Aer has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def encode_noise_model(obj: Any) -> dict[str, Any]:
    """``qiskit_aer.noise.NoiseModel`` -> ``to_dict()``."""
    as_dict: dict[str, Any] = obj.to_dict()
    return as_dict


def decode_noise_model(value: Any, envelope: Mapping[str, Any]) -> Any:
    """``to_dict()`` -> ``NoiseModel``."""
    if not isinstance(value, dict):
        raise ValueError(f"expected NoiseModel.to_dict(), an object, got {type(value).__name__}")
    # Imported here: Aer takes half a second to import and most payloads hold no noise model.
    from qiskit_aer.noise import NoiseModel

    return NoiseModel.from_dict(value)
