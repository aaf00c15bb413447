"""Who may work a task: a lane names a role; its holders are found up the organisation tree."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from db.models import HumanTask, OrgUnit, RoleGrant, User


def ancestors(session: Session, unit_id: int) -> list[int]:
    """`unit_id` and the units above it, nearest first."""
    chain, current = [], session.get(OrgUnit, unit_id)
    while current is not None and current.id not in chain:
        chain.append(current.id)
        current = session.get(OrgUnit, current.parent_id) if current.parent_id else None
    return chain


def resolve_scope(session: Session, role: str, unit_id: int) -> int | None:
    """The nearest unit at or above `unit_id` where an active user holds `role`."""
    for candidate in ancestors(session, unit_id):
        held = session.scalar(select(exists().where(
            RoleGrant.role == role, RoleGrant.org_unit_id == candidate,
            RoleGrant.user_id == User.id, User.active.is_(True))))
        if held:
            return candidate
    return None


def holds_role(session: Session, user: User, role: str, unit_id: int) -> bool:
    return session.scalar(select(exists().where(
        RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.org_unit_id == unit_id))) or False


def may_work(session: Session, user: User, task: HumanTask) -> bool:
    """True when `user` is the task's assignee, or a candidate of an unassigned task."""
    if not user.active:
        return False
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    return holds_role(session, user, task.role, task.org_unit_id)


def may_start(session: Session, user: User, role: str) -> bool:
    """A user starts a process in their own unit when they hold the start lane's role there."""
    return user.active and holds_role(session, user, role, user.org_unit_id)
