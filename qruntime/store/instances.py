"""Instances (hub/group/project), their plans, fair-share weights and limits, and who may use
them."""

from __future__ import annotations

import math

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qruntime.errors import InputError
from qruntime.store._base import UNSET, StoreBase, Unset, rowcount
from qruntime.store.errors import NotFound
from qruntime.store.models import InstanceRow, MembershipRow, UserRow
from qruntime.store.records import Instance, Plan

OPEN_INSTANCE = ("ibm-q", "open", "main")
"""The instance every deployment has, with plan ``open``: IBM's public hub/group/project."""

DEFAULT_WEIGHT = 1.0


def _instance(row: InstanceRow) -> Instance:
    return Instance(
        row.id,
        row.hub,
        row.group,
        row.project,
        Plan(row.plan),
        row.weight,
        row.max_queued,
        row.max_running,
    )


def parse_instance(name: str) -> tuple[str, str, str]:
    """Split ``hub/group/project``; raise :class:`InputError` for anything else."""
    parts = name.split("/")
    if len(parts) != 3 or not all(part.strip() for part in parts):
        raise InputError(
            f"an instance is written hub/group/project, e.g. 'ibm-q/open/main'; got {name!r}",
            field="instance",
        )
    hub, group, project = (part.strip() for part in parts)
    return hub, group, project


def _find(session: Session, hub: str, group: str, project: str) -> InstanceRow | None:
    return session.scalars(
        select(InstanceRow).where(
            InstanceRow.hub == hub, InstanceRow.group == group, InstanceRow.project == project
        )
    ).one_or_none()


def _check_plan(plan: Plan | str) -> Plan:
    try:
        return Plan(plan)
    except ValueError:
        allowed = ", ".join(p.value for p in Plan)
        raise InputError(f"unknown plan {plan!r}; plans are: {allowed}", field="plan") from None


def _check_weight(weight: float) -> float:
    if not math.isfinite(weight) or weight <= 0:
        raise InputError(f"a fair-share weight must be above 0, not {weight!r}", field="weight")
    return float(weight)


def _check_limit(name: str, limit: int | None) -> int | None:
    if limit is not None and limit < 0:
        raise InputError(f"{name} must be 0 or more (or unset), not {limit!r}", field=name)
    return limit


class Instances(StoreBase):
    """Instances and memberships."""

    def ensure_instance(
        self,
        hub: str,
        group: str,
        project: str,
        *,
        plan: Plan | str | None = None,
        weight: float | None = None,
    ) -> Instance:
        """The instance hub/group/project, created if missing (plan ``open``, weight 1 unless
        given). A plan or weight that is given is also applied to an existing instance."""
        if not all(
            part and part == part.strip() and "/" not in part for part in (hub, group, project)
        ):
            raise InputError(
                f"hub, group and project must be non-empty names without '/' or surrounding "
                f"spaces; got {hub!r}, {group!r}, {project!r}",
                field="instance",
            )
        checked_plan = None if plan is None else _check_plan(plan)
        checked_weight = None if weight is None else _check_weight(weight)
        for _attempt in range(2):
            try:
                with self._db.write() as session:
                    row = _find(session, hub, group, project)
                    if row is None:
                        row = InstanceRow(
                            hub=hub,
                            group=group,
                            project=project,
                            plan=(checked_plan or Plan.OPEN).value,
                            weight=checked_weight or DEFAULT_WEIGHT,
                            max_queued=None,
                            max_running=None,
                        )
                        session.add(row)
                        session.flush()
                    else:
                        if checked_plan is not None:
                            row.plan = checked_plan.value
                        if checked_weight is not None:
                            row.weight = checked_weight
                    return _instance(row)
            except IntegrityError:
                # Another process created it between our look and our insert: look again.
                continue
        raise AssertionError("unreachable: the instance exists after a failed insert")

    def get_instance(self, hub: str, group: str, project: str) -> Instance | None:
        """The instance hub/group/project, or None."""
        with self._db.read() as session:
            row = _find(session, hub, group, project)
            return None if row is None else _instance(row)

    def instance(self, instance_id: int) -> Instance:
        """The instance of that id; :class:`NotFound` if there is none."""
        with self._db.read() as session:
            row = session.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(f"no instance with id {instance_id}")
            return _instance(row)

    def list_instances(self) -> list[Instance]:
        """Every instance, by hub, group and project."""
        with self._db.read() as session:
            rows = session.scalars(
                select(InstanceRow).order_by(
                    InstanceRow.hub, InstanceRow.group, InstanceRow.project
                )
            )
            return [_instance(row) for row in rows]

    def set_instance(
        self,
        instance_id: int,
        *,
        plan: Plan | str | Unset = UNSET,
        weight: float | Unset = UNSET,
        max_queued: int | Unset | None = UNSET,
        max_running: int | Unset | None = UNSET,
    ) -> Instance:
        """Change what is given of an instance's plan, weight and limits (None: no limit)."""
        with self._db.write() as session:
            row = session.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(f"no instance with id {instance_id}")
            if not isinstance(plan, Unset):
                row.plan = _check_plan(plan).value
            if not isinstance(weight, Unset):
                row.weight = _check_weight(weight)
            if not isinstance(max_queued, Unset):
                row.max_queued = _check_limit("max_queued", max_queued)
            if not isinstance(max_running, Unset):
                row.max_running = _check_limit("max_running", max_running)
            return _instance(row)

    def add_membership(self, user_id: int, instance_id: int) -> None:
        """Let the user use the instance; adding twice is fine."""
        with self._db.write() as session:
            if session.get(UserRow, user_id) is None:
                raise NotFound(f"no user with id {user_id}")
            if session.get(InstanceRow, instance_id) is None:
                raise NotFound(f"no instance with id {instance_id}")
            if session.get(MembershipRow, (user_id, instance_id)) is None:
                session.add(MembershipRow(user_id=user_id, instance_id=instance_id))

    def remove_membership(self, user_id: int, instance_id: int) -> bool:
        """Take the instance from the user; return whether they had it."""
        with self._db.write() as session:
            result = session.execute(
                delete(MembershipRow)
                .where(MembershipRow.user_id == user_id, MembershipRow.instance_id == instance_id)
                .execution_options(synchronize_session=False)
            )
            return rowcount(result) > 0

    def instances_of(self, user_id: int) -> list[Instance]:
        """The instances a user may use, by hub, group and project."""
        with self._db.read() as session:
            return self._instances_of(session, user_id)

    @staticmethod
    def _instances_of(session: Session, user_id: int) -> list[Instance]:
        rows = session.scalars(
            select(InstanceRow)
            .join(MembershipRow, MembershipRow.instance_id == InstanceRow.id)
            .where(MembershipRow.user_id == user_id)
            .order_by(InstanceRow.hub, InstanceRow.group, InstanceRow.project)
        )
        return [_instance(row) for row in rows]

    def is_member(self, user_id: int, instance_id: int) -> bool:
        with self._db.read() as session:
            return session.get(MembershipRow, (user_id, instance_id)) is not None
