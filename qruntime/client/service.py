"""``RuntimeService``: the programs and jobs of one account (``provider.runtime``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from qruntime.client.api import Instance, RuntimeClient, parse_instance
from qruntime.client.decoder import Decoder
from qruntime.client.job import ResultCallback, RuntimeJob
from qruntime.client.options import RuntimeOptions
from qruntime.client.program import ParameterNamespace, RuntimeProgram
from qruntime.errors import InputError
from qruntime.program import ProgramMetadata

PROGRAMS_PAGE = 20
JOBS_PAGE = 50
_LIST_FORMAT_KEYS = ("parameters", "return_values", "interim_results", "backend_requirements")

InstanceResolver = Callable[[str, str | None], Instance | None]
"""(backend name, requested "hub/group/project" or None) -> the instance to run under."""


class RuntimeService:
    """Upload, list and run programs; find, watch and delete jobs.

    Listing programs caches them; pass ``refresh=True`` to ask the service again.
    """

    def __init__(self, client: RuntimeClient, instance_for: InstanceResolver) -> None:
        self._client = client
        self._instance_for = instance_for
        self._listed: list[RuntimeProgram] = []
        self._listed_count: int | None = None
        self._programs: dict[str, RuntimeProgram] = {}

    # -- programs -----------------------------------------------------------------------------

    def programs(
        self, refresh: bool = False, limit: int | None = 20, skip: int = 0
    ) -> list[RuntimeProgram]:
        """The programs this account may run, ``limit`` of them (all if ``None``) after ``skip``."""
        if refresh:
            self._forget_listing()
        wanted = None if limit is None else skip + limit
        while self._listed_count is None or len(self._listed) < self._listed_count:
            if wanted is not None and len(self._listed) >= wanted:
                break
            page, self._listed_count = self._client.programs(PROGRAMS_PAGE, len(self._listed))
            if not page:
                break  # a count larger than what the service lists must not loop forever
            for raw in page:
                program = RuntimeProgram(raw, self._client)
                self._listed.append(program)
                self._programs[program.program_id] = program
        return self._listed[skip:wanted]

    def program(self, program_id: str, refresh: bool = False) -> RuntimeProgram:
        """The program ``program_id``; ``RuntimeProgramNotFound`` if there is none."""
        if refresh or program_id not in self._programs:
            self._programs[program_id] = RuntimeProgram(
                self._client.program(program_id), self._client
            )
        return self._programs[program_id]

    def pprint_programs(
        self, refresh: bool = False, detailed: bool = False, limit: int | None = 20, skip: int = 0
    ) -> None:
        """Print the programs: id, name and description, or everything with ``detailed``."""
        for program in self.programs(refresh, limit, skip):
            print("=" * 50)
            if detailed:
                print(program)
            else:
                print(
                    f"{program.program_id}:\n  Name: {program.name}\n"
                    f"  Description: {program.description}"
                )

    def upload_program(
        self, data: str | Path, metadata: dict[str, Any] | str | Path | None = None
    ) -> str:
        """Upload a program; return its id.

        Args:
            data: the program's source, or the path of its ``.py`` file.
            metadata: a dict or the path of a JSON file, in either metadata format (the
                ``spec`` one, or the older list of parameters): ``name`` is required.

        Raises:
            RuntimeDuplicateProgramError: a program of that name exists.
            NotAuthorizedError: the account's plan does not allow uploads.
        """
        source = _program_source(data)
        program = ProgramMetadata.from_dict(_metadata_dict(metadata))
        program_id = self._client.program_create(
            source,
            program.name,
            program.max_execution_time,
            program.description,
            program.is_public,
            program.spec or None,
        )
        self._forget_listing()
        return program_id

    def update_program(
        self,
        program_id: str,
        data: str | Path | None = None,
        metadata: dict[str, Any] | str | Path | None = None,
        name: str | None = None,
        description: str | None = None,
        max_execution_time: int | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        """Replace a program's source and/or metadata; the arguments win over ``metadata``."""
        source = None if data is None else _program_source(data)
        fields = _metadata_fields(program_id, _metadata_dict(metadata) if metadata else {})
        explicit = {
            "name": name,
            "description": description,
            "cost": max_execution_time,
            "spec": spec,
        }
        fields.update({key: value for key, value in explicit.items() if value is not None})
        if source is None and not fields:
            raise InputError(
                "nothing to update: pass data, metadata, name, description, "
                "max_execution_time or spec"
            )
        self._client.program_update(program_id, source, fields)
        self._programs.pop(program_id, None)
        self._forget_listing()

    def delete_program(self, program_id: str) -> None:
        """Delete a program you uploaded."""
        self._client.program_delete(program_id)
        self._programs.pop(program_id, None)
        self._forget_listing()

    def set_program_visibility(self, program_id: str, public: bool) -> None:
        """Make a program you uploaded public (every account may run it) or private."""
        self._client.program_visibility(program_id, public)
        if program_id in self._programs:
            self._programs[program_id].is_public = public

    def _forget_listing(self) -> None:
        self._listed, self._listed_count = [], None

    # -- jobs ---------------------------------------------------------------------------------

    def run(
        self,
        program_id: str,
        inputs: dict[str, Any] | ParameterNamespace | None = None,
        options: RuntimeOptions | dict[str, Any] | None = None,
        callback: ResultCallback | None = None,
        result_decoder: Decoder | None = None,
        instance: str | None = None,
        job_tags: list[str] | None = None,
        session_id: str | None = None,
        max_execution_time: int | None = None,
        start_session: bool = False,
    ) -> RuntimeJob:
        """Run a program; return its job at once.

        Args:
            program_id: the program to run.
            inputs: the program's inputs, a dict or a filled ``ParameterNamespace``.
            options: ``RuntimeOptions`` or a dict, with at least ``backend_name``.
            callback: ``callback(job_id, message)`` for each interim result and then the final
                result, streamed in the background from the moment the job is submitted.
            result_decoder: how ``job.result()`` decodes the result.
            instance: ``"hub/group/project"`` to run under (default: one with the backend).
            job_tags: tags to find the job by.
            session_id: the session the job belongs to.
            max_execution_time: seconds the job may run, below the program's limit.
            start_session: make the job the first of a session, whose id is the job's id: on a
                device, the session's later jobs (``session_id=``) keep the device until
                :meth:`close_session` or until the session has been idle a while.
        """
        run_options = replace(RuntimeOptions.from_value(options))  # a copy: the caller's stays
        if instance is not None:
            run_options.instance = instance
        if job_tags is not None:
            run_options.job_tags = job_tags
        if max_execution_time is not None:
            run_options.max_execution_time = max_execution_time
        run_options.validate()
        backend = str(run_options.backend_name)
        if isinstance(inputs, ParameterNamespace):
            inputs.validate()
            inputs = inputs.to_dict()
        job: dict[str, Any] = {"program_id": program_id, "backend": backend}
        hub_group_project = self._instance_for(backend, run_options.instance)
        if hub_group_project is not None:
            job.update(zip(("hub", "group", "project"), hub_group_project, strict=True))
        job["params"] = dict(inputs or {})
        optional = {
            "runtime": run_options.image,
            "log_level": run_options.log_level,
            "tags": run_options.job_tags,
            "session_id": session_id,
            "cost": run_options.max_execution_time,
            "start_session": True if start_session else None,
        }
        job.update({key: value for key, value in optional.items() if value is not None})
        answer = self._client.job_run(job)
        runtime_job = RuntimeJob(
            self._client,
            {"id": answer["id"], "backend": backend, "program": {"id": program_id}},
            result_decoder=result_decoder,
        )
        if callback is not None:
            runtime_job._start_streaming(callback, None)
        return runtime_job

    def jobs(
        self,
        limit: int | None = 10,
        skip: int = 0,
        pending: bool | None = None,
        program_id: str | None = None,
        instance: str | None = None,
        job_tags: list[str] | None = None,
        session_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        descending: bool = True,
    ) -> list[RuntimeJob]:
        """Jobs of this account, newest first: ``limit`` of them (all if ``None``) after ``skip``.

        ``pending=True`` lists queued and running jobs, ``False`` the finished ones.
        """
        if instance is not None:
            parse_instance(instance)
        jobs: list[RuntimeJob] = []
        offset = skip
        while limit is None or len(jobs) < limit:
            size = JOBS_PAGE if limit is None else min(limit - len(jobs), JOBS_PAGE)
            page, count = self._client.jobs(
                size,
                offset,
                pending=pending,
                program_id=program_id,
                instance=instance,
                job_tags=job_tags,
                session_id=session_id,
                created_after=created_after,
                created_before=created_before,
                descending=descending,
            )
            jobs.extend(RuntimeJob(self._client, raw) for raw in page)
            offset += len(page)
            if not page or offset >= count:
                break
        return jobs

    def job(self, job_id: str) -> RuntimeJob:
        """The job ``job_id``; ``RuntimeJobNotFound`` if there is none."""
        return RuntimeJob(self._client, self._client.job(job_id))

    def delete_job(self, job_id: str) -> None:
        """Delete a job and its results."""
        self._client.job_delete(job_id)

    def close_session(self, session_id: str) -> None:
        """End a session: its device may run other jobs again (its jobs still run)."""
        self._client.session_close(session_id)


def _program_source(data: str | Path) -> str:
    """Program source given as text, or as the path of a file holding it."""
    if isinstance(data, str) and "def main(" in data:
        return data
    path = Path(data).expanduser()
    if not path.is_file():
        raise InputError(
            f"data is neither a program's source (it has no 'def main(') nor a file: {data}",
            field="data",
        )
    return path.read_text(encoding="utf-8")


def _metadata_dict(metadata: dict[str, Any] | str | Path | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if isinstance(metadata, dict):
        return dict(metadata)
    try:
        loaded = json.loads(Path(metadata).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read program metadata {metadata}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise InputError(f"program metadata {metadata} must hold a JSON object")
    return loaded


def _metadata_fields(program_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``PATCH /programs/{id}`` that partial metadata (either format) sets."""
    if not raw:
        return {}
    normal = ProgramMetadata.from_dict({"name": program_id, **raw})
    fields: dict[str, Any] = {}
    if "name" in raw:
        fields["name"] = normal.name
    if "description" in raw:
        fields["description"] = normal.description
    if "max_execution_time" in raw:
        fields["cost"] = normal.max_execution_time
    if "spec" in raw or any(key in raw for key in _LIST_FORMAT_KEYS):
        fields["spec"] = normal.spec
    return fields
