"""Programs: the built-in ones (no owner, public) and those users upload."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.exc import IntegrityError

from qruntime.errors import InputError
from qruntime.store._base import UNSET, StoreBase, Unset, random_suffix
from qruntime.store.errors import Conflict, NotFound
from qruntime.store.models import ProgramRow, UserRow
from qruntime.store.records import Program

DEFAULT_MAX_EXECUTION_TIME = 300
_NOT_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9-]+")
_MAX_ID_STEM = 80


def _program(row: ProgramRow) -> Program:
    return Program(
        row.id,
        row.name,
        row.source,
        dict(row.spec),
        row.description,
        row.max_execution_time,
        row.owner_id,
        row.is_public,
        row.created,
        row.updated,
    )


def program_id_for(name: str) -> str:
    """A fresh id for an uploaded program, as IBM made them: the name, a dash and 10 random
    letters and digits (``my-prog-Ab3dE9xK2q``)."""
    stem = _NOT_ID_CHARACTERS.sub("-", name).strip("-")[:_MAX_ID_STEM] or "program"
    return f"{stem}-{random_suffix()}"


def _check_max_execution_time(seconds: int) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise InputError(
            f"max_execution_time must be a positive number of seconds, not {seconds!r}",
            field="max_execution_time",
        )
    return seconds


class Programs(StoreBase):
    """Program records: source, spec and visibility."""

    def create_program(
        self,
        *,
        name: str,
        source: str,
        owner_id: int,
        spec: dict[str, Any] | None = None,
        description: str = "",
        max_execution_time: int = DEFAULT_MAX_EXECUTION_TIME,
        is_public: bool = False,
        program_id: str | None = None,
    ) -> Program:
        """Store an uploaded program; its id is made from the name unless given.

        Raise :class:`Conflict` if a program with that id exists.
        """
        if not name:
            raise InputError("a program needs a non-empty name", field="name")
        program_id = program_id or program_id_for(name)
        now = self._now()
        try:
            with self._db.write() as session:
                if session.get(UserRow, owner_id) is None:
                    raise NotFound(f"no user with id {owner_id}")
                row = ProgramRow(
                    id=program_id,
                    name=name,
                    source=source,
                    spec=spec or {},
                    description=description,
                    max_execution_time=_check_max_execution_time(max_execution_time),
                    owner_id=owner_id,
                    is_public=is_public,
                    created=now,
                    updated=now,
                )
                session.add(row)
                session.flush()
                return _program(row)
        except IntegrityError:
            raise Conflict(f"a program with id {program_id!r} exists already") from None

    def upsert_builtin_program(
        self,
        program_id: str,
        *,
        name: str,
        source: str,
        spec: dict[str, Any],
        description: str = "",
        max_execution_time: int = DEFAULT_MAX_EXECUTION_TIME,
    ) -> Program:
        """Store or refresh a built-in program (no owner, public); called at every start.

        ``updated`` moves only when something changed. Raise :class:`Conflict` if an uploaded
        program holds the id.
        """
        self._builtin_programs.pop(program_id, None)
        now = self._now()
        fields: dict[str, Any] = {
            "name": name,
            "source": source,
            "spec": spec,
            "description": description,
            "max_execution_time": _check_max_execution_time(max_execution_time),
            "is_public": True,
        }
        for _attempt in range(2):
            try:
                with self._db.write() as session:
                    row = session.get(ProgramRow, program_id, with_for_update=True)
                    if row is None:
                        row = ProgramRow(
                            id=program_id, owner_id=None, created=now, updated=now, **fields
                        )
                        session.add(row)
                    elif row.owner_id is not None:
                        raise Conflict(
                            f"the built-in program id {program_id!r} is taken by an uploaded "
                            "program; delete or rename that program"
                        )
                    elif any(getattr(row, key) != value for key, value in fields.items()):
                        for key, value in fields.items():
                            setattr(row, key, value)
                        row.updated = now
                    session.flush()
                    return _program(row)
            except IntegrityError:
                # Another server inserted it at the same moment: update that row instead.
                continue
        raise AssertionError("unreachable: the program exists after a failed insert")

    def get_program(self, program_id: str) -> Program:
        """The program of that id; :class:`NotFound` if there is none."""
        builtin = self._builtin_programs.get(program_id)
        if builtin is not None:
            return builtin
        with self._db.read() as session:
            row = session.get(ProgramRow, program_id)
            if row is None:
                raise NotFound(f"no program with id {program_id!r}")
            program = _program(row)
        if program.is_builtin:
            self._builtin_programs[program_id] = program
        return program

    def list_programs(
        self,
        visible_to_user_id: int | None,
        *,
        include_private_of_owner: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[Program], int]:
        """A page of programs, oldest first, and how many there are in all.

        ``visible_to_user_id`` is the id of the user asking: they see the public programs and, with
        ``include_private_of_owner``, their own private ones. None means every program (for
        administrators and the command line).
        """
        condition: ColumnElement[bool]
        if visible_to_user_id is None:
            condition = true()
        elif include_private_of_owner:
            condition = or_(
                ProgramRow.is_public.is_(True), ProgramRow.owner_id == visible_to_user_id
            )
        else:
            condition = ProgramRow.is_public.is_(True)
        with self._db.read() as session:
            total = session.scalar(select(func.count()).select_from(ProgramRow).where(condition))
            query = (
                select(ProgramRow)
                .where(condition)
                .order_by(ProgramRow.created, ProgramRow.id)
                .offset(offset)
                .limit(limit)
            )
            return [_program(row) for row in session.scalars(query)], int(total or 0)

    def update_program(
        self,
        program_id: str,
        *,
        name: str | Unset = UNSET,
        source: str | Unset = UNSET,
        spec: dict[str, Any] | Unset = UNSET,
        description: str | Unset = UNSET,
        max_execution_time: int | Unset = UNSET,
        is_public: bool | Unset = UNSET,
    ) -> Program:
        """Change what is given of a program; ``updated`` becomes now."""
        with self._db.write() as session:
            row = session.get(ProgramRow, program_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no program with id {program_id!r}")
            if not isinstance(name, Unset):
                if not name:
                    raise InputError("a program needs a non-empty name", field="name")
                row.name = name
            if not isinstance(source, Unset):
                row.source = source
            if not isinstance(spec, Unset):
                row.spec = spec
            if not isinstance(description, Unset):
                row.description = description
            if not isinstance(max_execution_time, Unset):
                row.max_execution_time = _check_max_execution_time(max_execution_time)
            if not isinstance(is_public, Unset):
                row.is_public = is_public
            row.updated = self._now()
            session.flush()
            return _program(row)

    def set_program_visibility(self, program_id: str, public: bool) -> Program:
        """Make a program public or private."""
        return self.update_program(program_id, is_public=public)

    def delete_program(self, program_id: str) -> None:
        """Delete a program; its jobs stay, naming the program's id."""
        with self._db.write() as session:
            row = session.get(ProgramRow, program_id)
            if row is None:
                raise NotFound(f"no program with id {program_id!r}")
            session.delete(row)
