"""``RuntimeProgram``: a program as the service lists it; ``ParameterNamespace``: its inputs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from qruntime.client.errors import NotAuthorizedError
from qruntime.errors import InputError

if TYPE_CHECKING:
    from qruntime.client.api import RuntimeClient


class ParameterNamespace(SimpleNamespace):
    """A program's inputs as attributes, every one ``None`` until set.

    Fill it and pass it to ``RuntimeService.run(inputs=...)``; ``validate()`` checks that every
    required input is set. ``metadata`` is the JSON schema it was built from.
    """

    def __init__(self, parameters: dict[str, Any]) -> None:
        super().__init__()
        self.__metadata = parameters
        for name in self._properties():
            setattr(self, name, None)

    @property
    def metadata(self) -> dict[str, Any]:
        """The JSON schema of the program's inputs (``spec.parameters``)."""
        return self.__metadata

    def _properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.__metadata.get("properties") or {}
        return properties

    def _required(self) -> list[str]:
        return list(self.__metadata.get("required") or [])

    def validate(self) -> None:
        """Raise ``InputError`` naming the first required input that is still ``None``."""
        for name in self._required():
            if getattr(self, name, None) is None:
                raise InputError(
                    f"input {name!r} is required; set it before running the program",
                    field=name,
                )

    def to_dict(self) -> dict[str, Any]:
        """The inputs that are set (not ``None``), by name."""
        values = {name: value for name, value in vars(self).items() if not name.startswith("_")}
        return {name: value for name, value in values.items() if value is not None}

    def __str__(self) -> str:
        header = ("Name", "Value", "Type", "Required", "Description")
        required = set(self._required())
        rows = [
            (
                name,
                str(getattr(self, name, None)),
                str(schema.get("type", "")),
                str(name in required),
                str(schema.get("description", "")),
            )
            for name, schema in self._properties().items()
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

        def line(row: tuple[str, ...]) -> str:
            return (
                "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
            )

        rule = "-" * len(line(header))
        return "\n".join(["ParameterNamespace (Values):", line(header), rule, *map(line, rows)])


class RuntimeProgram:
    """A program the service can run: its name, limits, input and output schemas.

    The source (``data``) is shown only to the program's author and is fetched on first use.
    """

    def __init__(self, raw: dict[str, Any], client: RuntimeClient | None = None) -> None:
        self._client = client
        self._update(raw)

    def _update(self, raw: dict[str, Any]) -> None:
        spec = raw.get("spec") or {}
        self._program_id = str(raw["id"])
        self._name = str(raw.get("name", raw["id"]))
        self._description = str(raw.get("description") or "")
        self._max_execution_time = int(raw.get("cost") or 0)
        self._is_public = bool(raw.get("is_public", False))
        self._creation_date = str(raw.get("creation_date") or "")
        self._update_date = str(raw.get("update_date") or "")
        self._data = str(raw.get("data") or "")
        self._backend_requirements: dict[str, Any] = spec.get("backend_requirements") or {}
        self._parameters: dict[str, Any] = spec.get("parameters") or {}
        self._return_values: dict[str, Any] = spec.get("return_values") or {}
        self._interim_results: dict[str, Any] = spec.get("interim_results") or {}

    @property
    def program_id(self) -> str:
        """The id to run the program by."""
        return self._program_id

    @property
    def name(self) -> str:
        """The program's name."""
        return self._name

    @property
    def description(self) -> str:
        """What the program does."""
        return self._description

    @property
    def max_execution_time(self) -> int:
        """Seconds a job of this program may run before the service cancels it."""
        return self._max_execution_time

    @property
    def is_public(self) -> bool:
        """Whether every account may run the program, not only its author."""
        return self._is_public

    @is_public.setter
    def is_public(self, value: bool) -> None:
        self._is_public = value

    @property
    def creation_date(self) -> str:
        """When the program was uploaded (as the service wrote it)."""
        return self._creation_date

    @property
    def update_date(self) -> str:
        """When the program last changed (as the service wrote it)."""
        return self._update_date

    @property
    def backend_requirements(self) -> dict[str, Any]:
        """What a backend needs to run the program, e.g. ``min_num_qubits``."""
        return self._backend_requirements

    @property
    def return_values(self) -> dict[str, Any]:
        """The JSON schema of the final result."""
        return self._return_values

    @property
    def interim_results(self) -> dict[str, Any]:
        """The JSON schema of the interim results."""
        return self._interim_results

    @property
    def data(self) -> str:
        """The program's source; only its author may read it."""
        if not self._data:
            self._refresh()
        if not self._data:
            raise NotAuthorizedError(
                f"only the author of program {self._program_id!r} can read its source"
            )
        return self._data

    def parameters(self) -> ParameterNamespace:
        """A fresh namespace of the program's inputs, to fill and pass to ``run``."""
        return ParameterNamespace(self._parameters)

    def to_dict(self) -> dict[str, Any]:
        """The program's description as a dict."""
        return {
            "program_id": self.program_id,
            "name": self.name,
            "description": self.description,
            "max_execution_time": self.max_execution_time,
            "backend_requirements": self.backend_requirements,
            "parameters": self._parameters,
            "return_values": self.return_values,
            "interim_results": self.interim_results,
            "is_public": self.is_public,
        }

    def _refresh(self) -> None:
        if self._client is not None:
            self._update(self._client.program(self._program_id))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}('{self.program_id}')>"

    def __str__(self) -> str:
        lines = [
            f"{self.program_id}:",
            f"  Name: {self.name}",
            f"  Description: {self.description}",
            f"  Creation date: {self.creation_date}",
            f"  Update date: {self.update_date}",
            f"  Max execution time: {self.max_execution_time}",
        ]
        for title, schema in (
            ("Input parameters", self._parameters),
            ("Interim results", self.interim_results),
            ("Returns", self.return_values),
        ):
            lines.append(f"  {title}:")
            lines.extend(_schema_lines(schema) if schema else ["    none"])
        return "\n".join(lines)


def _schema_lines(schema: dict[str, Any]) -> list[str]:
    """A JSON schema in the layout of IBM's program listing."""
    lines = []
    if "description" in schema:
        lines.append(f"    Description: {schema['description']}")
    if "type" in schema:
        lines.append(f"    Type: {schema['type']}")
    properties = schema.get("properties")
    if properties:
        required = set(schema.get("required") or [])
        lines.append("    Properties:")
        for name, details in properties.items():
            lines.append(f"        - {name}:")
            lines.extend(
                f"            {_sentence_case(key)}: {value}" for key, value in details.items()
            )
            lines.append(f"            Required: {name in required}")
    return lines


def _sentence_case(key: str) -> str:
    return key[:1].upper() + key[1:]
