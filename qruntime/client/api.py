"""The client layer: one method per operation, HTTP errors turned into the client's exceptions.

Above it, ``RuntimeService``, ``RuntimeJob`` and ``RuntimeProgram`` never see a URL or a status
code; below it, ``qruntime.client.rest`` knows nothing of what a 404 means.
"""

from __future__ import annotations

import base64
import json
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from qruntime.client.errors import (
    NotAuthorizedError,
    RuntimeClientError,
    RuntimeDuplicateProgramError,
    RuntimeInvalidStateError,
    RuntimeJobNotFound,
    RuntimeProgramNotFound,
    RuntimeRequestError,
)
from qruntime.client.rest import AuthRest, RestSession, RuntimeRest
from qruntime.client.stream import ResultStream
from qruntime.errors import InputError
from qruntime.serialization import RuntimeEncoder

Instance = tuple[str, str, str]
"""An instance as (hub, group, project)."""


@contextmanager
def _meaning(
    not_found: type[RuntimeClientError] | None = None,
    conflict: type[RuntimeClientError] | None = None,
) -> Iterator[None]:
    """Give a 404 or 409 of the request inside the meaning it has for this operation."""
    try:
        yield
    except RuntimeRequestError as exc:
        for code, error in ((404, not_found), (409, conflict)):
            if exc.status_code == code and error is not None:
                raise error(exc.message, code) from exc
        raise


def parse_instance(instance: str) -> Instance:
    """``"hub/group/project"`` -> ``(hub, group, project)``."""
    parts = instance.split("/")
    if len(parts) != 3 or not all(parts):
        raise InputError(
            f"instance {instance!r} is not of the form 'hub/group/project' "
            "(for example 'ibm-q/open/main')",
            field="instance",
        )
    return parts[0], parts[1], parts[2]


class AuthClient:
    """Logging in and discovering the account: instances, backends, the runtime URL."""

    def __init__(self, rest: AuthRest) -> None:
        self.rest = rest

    def login(self, api_token: str) -> str:
        """Exchange the API token for an access token."""
        try:
            answer = self.rest.login(api_token)
        except NotAuthorizedError as exc:
            raise NotAuthorizedError(
                f"{self.rest.api_url} did not accept the API token: {exc.message}. Check the "
                "token (`qruntime admin create-user` prints a new one).",
                exc.status_code,
            ) from exc
        access_token = answer.get("id")
        if not isinstance(access_token, str) or not access_token:
            raise RuntimeRequestError(f"login at {self.rest.api_url} returned no access token")
        return access_token

    def runtime_url(self) -> str:
        """The runtime service's base URL (``urls.services.runtime`` of ``/users/me``)."""
        urls = self.rest.me().get("urls") or {}
        runtime = (urls.get("services") or {}).get("runtime") if isinstance(urls, dict) else None
        if not isinstance(runtime, str) or not runtime:
            raise NotAuthorizedError(
                f"the account at {self.rest.api_url} is not authorized to use the runtime service"
            )
        return runtime

    def instances(self) -> list[Instance]:
        """The account's instances; the default one (``isDefault``) first."""
        instances: list[tuple[bool, Instance]] = []
        for hub in self.rest.network() or []:
            for group_name, group in (hub.get("groups") or {}).items():
                for project_name, project in (group.get("projects") or {}).items():
                    default = bool((project or {}).get("isDefault"))
                    instances.append((default, (hub["name"], group_name, project_name)))
        instances.sort(key=lambda item: not item[0])
        return [instance for _, instance in instances]

    def backend_names(self, instance: Instance) -> list[str]:
        """The names of the backends ``instance`` may use."""
        configurations = self.rest.devices(*instance) or []
        return [str(config["backend_name"]) for config in configurations]


class RuntimeClient:
    """The runtime API's operations."""

    def __init__(self, rest: RuntimeRest) -> None:
        self.rest = rest
        self._streams: weakref.WeakSet[ResultStream] = weakref.WeakSet()

    @property
    def session(self) -> RestSession:
        return self.rest.session

    def programs(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """One page of programs, and how many there are in all."""
        page = self.rest.programs(limit, offset)
        programs = list(page.get("programs") or [])
        return programs, int(page.get("count", len(programs)))

    def program(self, program_id: str) -> dict[str, Any]:
        with _meaning(not_found=RuntimeProgramNotFound):
            return self.rest.program(program_id)

    def program_create(
        self,
        source: str,
        name: str,
        max_execution_time: int,
        description: str,
        is_public: bool,
        spec: dict[str, Any] | None,
    ) -> str:
        """Upload a program; returns its id."""
        program: dict[str, Any] = {
            "name": name,
            "data": _base64(source),
            "cost": max_execution_time,
            "description": description,
            "is_public": is_public,
        }
        if spec:
            program["spec"] = spec
        with _meaning(conflict=RuntimeDuplicateProgramError):
            answer = self.rest.program_create(program)
        return str(answer["id"])

    def program_update(
        self, program_id: str, source: str | None, fields: Mapping[str, Any]
    ) -> None:
        """Replace the program's source and/or its metadata (``name``, ``description``, ...)."""
        with _meaning(not_found=RuntimeProgramNotFound):
            if source is not None:
                self.rest.program_data(program_id, _base64(source))
            if fields:
                self.rest.program_patch(program_id, dict(fields))

    def program_delete(self, program_id: str) -> None:
        with _meaning(not_found=RuntimeProgramNotFound):
            self.rest.program_delete(program_id)

    def program_visibility(self, program_id: str, public: bool) -> None:
        with _meaning(not_found=RuntimeProgramNotFound):
            self.rest.program_visibility(program_id, public)

    def job_run(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """Submit a job (``program_id``, ``backend``, ``params``, ...); returns ``{"id": ...}``."""
        try:
            encoded = json.dumps(dict(job), cls=RuntimeEncoder)
        except (TypeError, ValueError) as exc:
            raise InputError(f"the inputs cannot be sent in the wire format: {exc}") from exc
        with _meaning(not_found=RuntimeProgramNotFound):
            return self.rest.job_run(encoded)

    def jobs(
        self,
        limit: int,
        offset: int,
        *,
        pending: bool | None = None,
        program_id: str | None = None,
        instance: str | None = None,
        job_tags: list[str] | None = None,
        session_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        descending: bool = True,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of jobs, newest first unless ``descending`` is false, and the total count."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        optional = {
            "pending": None if pending is None else str(pending).lower(),
            "program": program_id,
            "provider": instance,
            "tags": job_tags,
            "session_id": session_id,
            "created_after": _iso(created_after),
            "created_before": _iso(created_before),
            "sort": None if descending else "ASC",
        }
        params.update({key: value for key, value in optional.items() if value is not None})
        page = self.rest.jobs(params)
        jobs = list(page.get("jobs") or [])
        return jobs, int(page.get("count", len(jobs)))

    def job(self, job_id: str) -> dict[str, Any]:
        with _meaning(not_found=RuntimeJobNotFound):
            return self.rest.job(job_id)

    def job_results(self, job_id: str) -> str:
        with _meaning(not_found=RuntimeJobNotFound):
            return self.rest.job_results(job_id)

    def job_outcome(self, job_id: str) -> tuple[str | None, str]:
        with _meaning(not_found=RuntimeJobNotFound):
            return self.rest.job_outcome(job_id)

    def job_interim_results(self, job_id: str) -> str:
        with _meaning(not_found=RuntimeJobNotFound):
            return self.rest.job_interim_results(job_id)

    def job_logs(self, job_id: str) -> str:
        """The job's log text; empty when there is none yet."""
        try:
            return self.rest.job_logs(job_id)
        except RuntimeRequestError as exc:
            if exc.status_code == 404:
                return ""
            raise

    def job_cancel(self, job_id: str) -> None:
        with _meaning(not_found=RuntimeJobNotFound, conflict=RuntimeInvalidStateError):
            self.rest.job_cancel(job_id)

    def job_delete(self, job_id: str) -> None:
        with _meaning(not_found=RuntimeJobNotFound):
            self.rest.job_delete(job_id)

    def session_close(self, session_id: str) -> None:
        self.rest.session_close(session_id)

    def job_stream(
        self, job_id: str, on_message: Callable[[str], None] | None = None
    ) -> ResultStream:
        """A (not yet started) stream of the job's messages to ``on_message(text)``."""
        session = self.session

        def reauthenticate() -> None:
            session.refresh_access_token(session.access_token)

        stream = ResultStream(
            self.rest.stream_url(job_id, interim=on_message is not None),
            session.auth_headers,
            session.ssl_context,
            on_message,
            reauthenticate=reauthenticate,
        )
        self._streams.add(stream)
        return stream

    def close(self) -> None:
        """Stop every stream still running and close the HTTP connections."""
        for stream in list(self._streams):
            stream.cancel()
        self.session.close()


def _base64(source: str) -> str:
    return base64.standard_b64encode(source.encode("utf-8")).decode("ascii")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
