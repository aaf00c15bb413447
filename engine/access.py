"""Who may see an item, and in which capacity someone opens a task.

Seeing an item: the people in it (the starter, anyone who acted on it or was stood in for,
whoever may work or was handed an open step), the readers it was copied to (抄送), and the
right org scope: auditors, administrators and supervisors (unit head, district office) of the
item's unit or a unit above it. A stand-in (委托) sees what their principal is in, during the
stand-in. Everyone else is told the item does not exist (404): another unit's item is not
confirmed to exist by a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from db.models import AuditEvent, HumanTask, ProcessInstance, TaskCopy, User

from .assignment import holds_role, holds_role_at_or_above, may_work
from .stand_ins import active_principals

SCOPE_ROLES = ("auditor", "admin", "unit_head", "district_office")


def _takes_part(session: Session, user: User, instance: ProcessInstance) -> bool:
    if instance.started_by_id == user.id:
        return True
    if session.scalar(select(exists().where(AuditEvent.instance_id == instance.id, or_(
            AuditEvent.actor_id == user.id, AuditEvent.on_behalf_of_id == user.id)))):
        return True
    if session.scalar(select(exists().where(TaskCopy.instance_id == instance.id, TaskCopy.to_user_id == user.id))):
        return True
    return any(may_work(session, user, t) or t.delegate_id == user.id for t in session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "ready")))


def may_view(session: Session, user: User, instance: ProcessInstance, now: datetime | None = None) -> bool:
    if not user.active:
        return False
    if _takes_part(session, user, instance):
        return True
    if any(holds_role_at_or_above(session, user, role, instance.org_unit_id) for role in SCOPE_ROLES):
        return True
    if now is not None:
        for principal_id in active_principals(session, user.id, now):
            if _takes_part(session, session.get(User, principal_id), instance):
                return True
    return False


@dataclass(frozen=True)
class TaskAccess:
    """How `user` opens a task: work (their own), deputy (as `principal_id`'s stand-in),
    delegate (handed to them by 委派/前加签) or view (they may see the item, not this step)."""

    mode: str
    principal_id: int | None = None


def task_access(session: Session, user: User, task: HumanTask, now: datetime | None) -> TaskAccess | None:
    """None when the user may not even know the task exists."""
    if not user.active:
        return None
    if may_work(session, user, task) or (task.state != "ready" and task.acted_by_id == user.id):
        return TaskAccess("work")
    if task.state != "ready" and holds_role(session, user, task.role, task.org_unit_id):
        # A fellow candidate of a finished task (it arrived after another completed it): it sees
        # the task as done, and a late action is told who did it and when (409), not "no such task".
        return TaskAccess("work")
    if task.state == "ready" and task.delegate_id == user.id:
        return TaskAccess("delegate")
    if task.state == "ready" and now is not None:
        for principal_id in active_principals(session, user.id, now):
            if may_work(session, session.get(User, principal_id), task):
                return TaskAccess("deputy", principal_id)
    instance = session.get(ProcessInstance, task.instance_id)
    if may_view(session, user, instance, now):
        return TaskAccess("view")
    return None
