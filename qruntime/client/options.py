"""``RuntimeOptions``: where and how a job runs."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

from qruntime.errors import InputError

_IMAGE = re.compile(r"[a-zA-Z0-9]+([/.\-_][a-zA-Z0-9]+)*:[a-zA-Z0-9]+([.\-_][a-zA-Z0-9]+)*$")


@dataclass
class RuntimeOptions:
    """Options of ``RuntimeService.run``; a dict with the same keys works as well.

    Attributes:
        backend_name: the backend to run on, e.g. ``"ibmq_qasm_simulator"`` (required).
        image: a runtime image ``name:tag``, passed through to the service.
        log_level: the level of the job's logs (``"DEBUG"``, ``"INFO"``, ...).
        instance: ``"hub/group/project"`` to run under; by default one that has the backend.
        job_tags: tags to find the job by later (``jobs(job_tags=...)``).
        max_execution_time: seconds the job may run, below the program's own limit.
    """

    backend_name: str | None = None
    image: str | None = None
    log_level: str | None = None
    instance: str | None = None
    job_tags: list[str] | None = None
    max_execution_time: int | None = None

    @classmethod
    def from_value(cls, options: RuntimeOptions | dict[str, Any] | None) -> RuntimeOptions:
        """Options from a ``RuntimeOptions``, a dict (``backend`` is read as ``backend_name``)."""
        if isinstance(options, RuntimeOptions):
            return options
        values = dict(options or {})
        if "backend" in values and "backend_name" not in values:
            values["backend_name"] = values.pop("backend")
        unknown = sorted(set(values) - set(asdict(cls())))
        if unknown:
            raise InputError(
                f"unknown run options {unknown}; the options are {sorted(asdict(cls()))}",
                field="options",
            )
        return cls(**values)

    def validate(self) -> None:
        """Raise ``InputError`` saying which option is wrong."""
        if not self.backend_name:
            raise InputError(
                "options need a 'backend_name', e.g. {'backend_name': 'ibmq_qasm_simulator'}",
                field="backend_name",
            )
        if self.image is not None and not _IMAGE.match(self.image):
            raise InputError(f"image {self.image!r} is not of the form 'name:tag'", field="image")
        if self.log_level is not None and not isinstance(
            logging.getLevelName(self.log_level.upper()), int
        ):
            raise InputError(
                f"log_level {self.log_level!r} is not a logging level; use DEBUG, INFO, "
                "WARNING, ERROR or CRITICAL",
                field="log_level",
            )
