"""The body of ``POST /runtime/jobs``, read and checked field by field (pure, no I/O).

Every client generation's shape is accepted (reference §2.3): qiskit-ibmq-provider 0.18+ sends
``program_id``, ``hub``/``group``/``project``, ``backend``, ``params`` (an object), ``runtime``
and maybe ``log_level``; qiskit-ibm-runtime adds ``session_id``, ``tags``, ``cost`` and
``start_session`` and leaves out what is unset; the 2021 clients sent ``programId`` and
``params`` as a one-element list holding the inputs' JSON text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from qruntime.errors import InputError
from qruntime.server.routes.uploads import cost_of

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class JobRequest:
    """What a client asked to run. ``params_text`` is the inputs' JSON, still wire-encoded."""

    program_id: str
    backend: str | None
    instance: tuple[str, str, str] | None
    params: dict[str, Any]
    params_text: str
    log_level: str | None
    tags: tuple[str, ...]
    session_id: str | None
    start_session: bool
    max_execution_time: int | None


def job_request(body: Any) -> JobRequest:
    """Read a ``POST /jobs`` body; ``InputError`` names the field that is wrong."""
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    program_id = body.get("program_id", body.get("programId"))
    if not isinstance(program_id, str) or not program_id:
        raise InputError("'program_id' is required: the id of the program to run", "program_id")
    backend = optional_text(body, "backend")
    params, params_text = job_params(body.get("params"))
    cost = body.get("cost")
    return JobRequest(
        program_id=program_id,
        backend=backend,
        instance=job_instance(body),
        params=params,
        params_text=params_text,
        log_level=log_level(body.get("log_level")),
        tags=job_tags(body.get("tags")),
        session_id=optional_text(body, "session_id"),
        start_session=bool(body.get("start_session", False)),
        max_execution_time=None if cost is None else cost_of(cost),
    )


def job_params(params: Any) -> tuple[dict[str, Any], str]:
    """The inputs as a JSON object and as the JSON text to store.

    ``params`` may be the object, its JSON text, or a list whose first element is either
    (what the clients themselves accept when they read a job back).
    """
    if isinstance(params, list):
        if len(params) > 1:
            raise InputError("'params' as a list must hold one element: the inputs", "params")
        params = params[0] if params else None
    if params is None:
        return {}, "{}"
    if isinstance(params, str):
        text = params
        try:
            params = json.loads(text)
        except ValueError as exc:
            raise InputError(f"'params' is text but not JSON: {exc}", "params") from None
        if not isinstance(params, dict):
            raise InputError("'params' must be a JSON object of input names", "params")
        return params, text
    if not isinstance(params, dict):
        raise InputError(
            f"'params' must be a JSON object of input names to values, not {type(params).__name__}",
            "params",
        )
    return params, json.dumps(params)


def job_instance(body: dict[str, Any]) -> tuple[str, str, str] | None:
    """``(hub, group, project)`` if all three are given, None if none is."""
    parts = [optional_text(body, key) for key in ("hub", "group", "project")]
    if all(part is None for part in parts):
        return None
    if any(part is None for part in parts):
        raise InputError("give all of 'hub', 'group' and 'project', or none of them", "hub")
    hub, group, project = (str(part) for part in parts)
    return hub, group, project


def log_level(value: Any) -> str | None:
    """A ``logging`` level name, upper-cased, or None."""
    if value is None or value == "":
        return None
    level = str(value).upper()
    if level not in LOG_LEVELS or not isinstance(logging.getLevelName(level), int):
        raise InputError(
            f"'log_level' must be one of {', '.join(LOG_LEVELS)}, not {value!r}", "log_level"
        )
    return level


def job_tags(value: Any) -> tuple[str, ...]:
    """The job's tags: a list of text, or nothing."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise InputError("'tags' must be a list of text", "tags")
    return tuple(value)


def optional_text(body: dict[str, Any], key: str) -> str | None:
    """``body[key]`` as text; None when it is missing, null or empty."""
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"'{key}' must be text, not {type(value).__name__}", key)
    return value
