"""Store records rendered as the JSON of IBM's runtime API (pure functions, no I/O).

IBM's clients read these shapes field by field (reference: the wire protocol notes, §1-§2):
a program needs ``id`` and ``name`` and carries its source as plain text in ``data``; a job
needs ``hub``/``group``/``project``/``backend``, ``program.id``, ``params`` and ``created``, and
its status twice: ``status`` for qiskit-ibmq-provider and ``state.status``/``state.reason`` for
qiskit-ibm-runtime 0.3+.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from qruntime.status import JobStatus, api_status
from qruntime.store import OPEN_INSTANCE
from qruntime.store.records import Instance, Job, Program


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, as IBM wrote ``created`` (``2022-01-24T15:53:38.687660Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def program_json(program: Program, *, with_data: bool) -> dict[str, Any]:
    """A program object; ``data`` (the source, plain text) only where the caller may read it.

    An empty ``data`` is how IBM said "not yours": the clients raise a not-authorized error
    when asked for it.
    """
    return {
        "id": program.id,
        "name": program.name,
        "description": program.description,
        "cost": program.max_execution_time,
        "is_public": program.is_public,
        "creation_date": iso(program.created),
        "update_date": iso(program.updated),
        "spec": program.spec,
        "data": program.source if with_data else "",
    }


def job_json(job: Job) -> dict[str, Any]:
    """A job object with both status fields and everything the clients read."""
    body: dict[str, Any] = {
        "id": job.id,
        "hub": job.hub,
        "group": job.group,
        "project": job.project,
        "backend": job.backend,
        "status": api_status(job.status, job.reason),
        "state": state_json(job.status, job.reason),
        "params": params_json(job.params),
        "program": {"id": job.program_id},
        "created": iso(job.created),
        "runtime": "",
        "tags": list(job.tags),
        "session_id": job.session_id,
        "log_level": job.log_level,
        "cost": job.max_execution_time,
    }
    if job.started is not None:
        body["started"] = iso(job.started)
    if job.finished is not None:
        body["ended"] = iso(job.finished)
    return body


def state_json(status: JobStatus, reason: str | None) -> dict[str, Any]:
    """``{"status": "Cancelled", "reason": "Ran too long"}``; reason is null when there is none.

    qiskit-ibm-runtime shows a non-null reason as the job's error message, so an empty string
    would hide the error text that ``/results`` holds.
    """
    return {"status": status.value.capitalize(), "reason": reason or None}


def params_json(text: str) -> Any:
    """The stored params (the JSON text the client sent) as JSON, still wire-encoded."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def job_metrics_json(job: Job) -> dict[str, Any]:
    """What qiskit-ibm-runtime 0.7's ``RuntimeJob.metrics()`` reads: the job's timestamps."""
    timestamps = {
        "created": iso(job.created),
        "running": iso(job.started) if job.started else None,
        "finished": iso(job.finished) if job.finished else None,
    }
    seconds = (
        (job.finished - job.started).total_seconds()
        if job.started is not None and job.finished is not None
        else None
    )
    return {"timestamps": timestamps, "bss": {"seconds": seconds}}


def hubs_json(instances: Iterable[Instance]) -> list[dict[str, Any]]:
    """``GET /api/Network``: hubs -> groups -> projects; ``ibm-q/open/main`` is the default.

    Without ``ibm-q/open/main`` the first instance is the default, so that the clients always
    find one (qiskit-ibmq-provider's ``enable_account`` returns the default provider).
    """
    ordered = list(instances)
    names = [(i.hub, i.group, i.project) for i in ordered]
    default = OPEN_INSTANCE if OPEN_INSTANCE in names else (names[0] if names else None)
    hubs: dict[str, dict[str, Any]] = {}
    for hub, group, project in names:
        hub_body = hubs.setdefault(hub, {"name": hub, "groups": {}})
        group_body = hub_body["groups"].setdefault(group, {"name": group, "projects": {}})
        group_body["projects"][project] = {
            "name": project,
            "isDefault": (hub, group, project) == default,
        }
    return list(hubs.values())
