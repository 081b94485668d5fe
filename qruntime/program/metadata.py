"""``ProgramMetadata``: a program's name, limits and the JSON-Schema ``spec`` of its inputs.

Two formats exist (reference: IBM's qiskit-runtime repository). The *spec* format keeps JSON
schemas under ``spec``; the older *list* format lists parameters as ``{"name", "description",
"type", "required"}``. Both are read; the spec format is what qruntime stores and serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from qruntime.errors import InputError
from qruntime.program.validation import InputsValidator

SCHEMA_DRAFT = "https://json-schema.org/draft/2019-09/schema"
DEFAULT_MAX_EXECUTION_TIME = 300

# Python type names used by the list format, and the JSON-Schema type each means.
_LIST_FORMAT_TYPES = {
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "str": "string",
    "string": "string",
    "dict": "object",
    "list": "array",
    "numpy.ndarray": "array",
    "ndarray": "array",
}


@dataclass(frozen=True)
class ProgramMetadata:
    """A program's metadata, normalised to the spec format."""

    name: str
    description: str = ""
    max_execution_time: int = DEFAULT_MAX_EXECUTION_TIME
    is_public: bool = False
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the program's inputs (``spec.parameters``)."""
        parameters: dict[str, Any] = self.spec.get("parameters") or {}
        return parameters

    @property
    def backend_requirements(self) -> dict[str, Any]:
        requirements: dict[str, Any] = self.spec.get("backend_requirements") or {}
        return requirements

    @cached_property
    def inputs_validator(self) -> InputsValidator:
        """The compiled validator of ``spec.parameters`` (built on first use)."""
        return InputsValidator(self.parameters)

    def validate_inputs(self, inputs: dict[str, Any]) -> None:
        """Raise ``InvalidInputsError`` if decoded ``inputs`` do not match ``spec.parameters``."""
        self.inputs_validator.validate(inputs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgramMetadata:
        """Read metadata in either format; raise ``InputError`` naming what is wrong."""
        if not isinstance(data, dict):
            raise InputError("program metadata must be a JSON object", field="metadata")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise InputError("program metadata needs a non-empty 'name'", field="name")
        max_time = data.get("max_execution_time", DEFAULT_MAX_EXECUTION_TIME)
        if isinstance(max_time, bool) or not isinstance(max_time, int) or max_time <= 0:
            raise InputError(
                f"'max_execution_time' must be a positive number of seconds, not {max_time!r}",
                field="max_execution_time",
            )
        if "spec" in data:
            spec = data["spec"]
            if not isinstance(spec, dict):
                raise InputError("'spec' must be a JSON object", field="spec")
        else:
            spec = _spec_from_list_format(data)
        metadata = cls(
            name=name,
            description=str(data.get("description", "")),
            max_execution_time=max_time,
            is_public=bool(data.get("is_public", False)),
            spec=spec,
        )
        metadata.inputs_validator  # noqa: B018 -- reject an invalid schema now, not at the first job
        return metadata

    @classmethod
    def from_file(cls, path: str | Path) -> ProgramMetadata:
        """Read a metadata JSON file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read program metadata {path}: {exc}") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The metadata in the spec format."""
        return {
            "name": self.name,
            "description": self.description,
            "max_execution_time": self.max_execution_time,
            "is_public": self.is_public,
            "spec": self.spec,
        }


def _spec_from_list_format(data: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if "backend_requirements" in data:
        spec["backend_requirements"] = data["backend_requirements"]
    if "parameters" in data:
        spec["parameters"] = _parameters_schema(data["parameters"])
    for key in ("return_values", "interim_results"):
        if key in data:
            spec[key] = _values_schema(data[key], key)
    return spec


def _parameters_schema(parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, list):
        raise InputError("'parameters' must be a list in the list format", field="parameters")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for i, item in enumerate(parameters):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError(
                f"parameters[{i}] must be an object with a 'name'", field=f"parameters[{i}]"
            )
        properties[item["name"]] = _property_schema(item)
        if item.get("required"):
            required.append(item["name"])
    schema: dict[str, Any] = {"$schema": SCHEMA_DRAFT, "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _values_schema(values: Any, key: str) -> dict[str, Any]:
    if not isinstance(values, list):
        raise InputError(f"'{key}' must be a list in the list format", field=key)
    items = [v for v in values if isinstance(v, dict)]
    if len(items) == 1 and items[0].get("name") in (None, "-"):
        return _property_schema(items[0])
    properties = {str(item.get("name")): _property_schema(item) for item in items}
    return {"$schema": SCHEMA_DRAFT, "properties": properties}


def _property_schema(item: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": str(item.get("description", ""))}
    type_name = str(item.get("type", "")).strip()
    json_type = _LIST_FORMAT_TYPES.get(type_name)
    if json_type is not None:
        schema["type"] = json_type
    elif type_name:
        # A free-form type such as "QuantumCircuit or list": keep it for people, not the validator.
        schema["description"] = f"{schema['description']} (type: {type_name})".strip()
    return schema
