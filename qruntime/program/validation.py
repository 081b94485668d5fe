"""Checking a program's decoded inputs against its ``spec.parameters`` JSON schema.

Inputs are checked after they were decoded from the wire format, so the type checker knows the
Python values decoding produces: numpy arrays and scalars count as JSON arrays and numbers, and a
rich object (a ``QuantumCircuit``, an operator) counts as a JSON object, which is what it was on
the wire (``{"__type__": ..., "__value__": ...}``). Inputs the schema does not name stay allowed,
as at IBM.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jsonschema
import numpy as np
from jsonschema.exceptions import ValidationError

from qruntime.errors import InputError, InvalidInputsError

_JSON_SCALARS = (str, int, float, bool, type(None))


def _is_integer(_checker: Any, value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        return True
    return isinstance(value, float | np.floating) and float(value).is_integer()


def _is_number(_checker: Any, value: Any) -> bool:
    return not isinstance(value, bool | np.bool_) and isinstance(
        value, int | float | np.integer | np.floating
    )


def _is_array(_checker: Any, value: Any) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def _is_object(_checker: Any, value: Any) -> bool:
    return isinstance(value, Mapping) or not isinstance(
        value, (*_JSON_SCALARS, list, tuple, np.ndarray, np.generic)
    )


def _is_boolean(_checker: Any, value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


@lru_cache(maxsize=256)
def _validator_class(draft: type[Any]) -> type[Any]:
    checker = draft.TYPE_CHECKER.redefine_many(
        {
            "integer": _is_integer,
            "number": _is_number,
            "array": _is_array,
            "object": _is_object,
            "boolean": _is_boolean,
        }
    )
    extended: type[Any] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        draft, type_checker=checker
    )
    return extended


class InputsValidator:
    """Checks decoded program inputs against a ``spec.parameters`` schema (compiled once)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        draft = jsonschema.validators.validator_for(schema, default=jsonschema.Draft201909Validator)
        try:
            draft.check_schema(dict(schema))
        except jsonschema.SchemaError as exc:
            raise InputError(
                f"the program's parameter schema is invalid: {exc.message}", field="spec.parameters"
            ) from exc
        self._validator = _validator_class(draft)(schema) if schema else None

    def validate(self, inputs: Mapping[str, Any]) -> None:
        """Raise ``InvalidInputsError`` naming every input that does not match the schema."""
        if self._validator is None:
            return
        errors = sorted(self._validator.iter_errors(dict(inputs)), key=lambda e: list(e.path))
        if not errors:
            return
        described = [_describe(error) for error in errors]
        message = "; ".join(text for _, text in described)
        raise InvalidInputsError(f"invalid program inputs: {message}", field=described[0][0])


def _describe(error: ValidationError) -> tuple[str | None, str]:
    path = list(error.absolute_path)
    if not path:
        if error.validator == "required":
            # error.message is "'x' is a required property"; name the input the user must add.
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            return missing, f"missing required input '{missing}'"
        return None, error.message
    field = str(path[0])
    where = field + "".join(f"[{p!r}]" for p in path[1:])
    value = _short(error.instance)
    if error.validator == "type":
        return field, f"input '{where}' must be of type {error.validator_value}, not {value}"
    if error.validator == "enum":
        allowed = [c for c in error.validator_value if c is not None]  # type: ignore[union-attr]
        choices = ", ".join(repr(c) for c in allowed)
        # The description often says why a value is not allowed (e.g. Qiskit 2 removed it).
        about = error.schema.get("description") if isinstance(error.schema, dict) else None
        reason = f" ({about})" if about else ""
        return field, f"input '{where}' is {value}; choose one of: {choices}{reason}"
    return field, f"input '{where}': {error.message}"


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, _JSON_SCALARS) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."
