"""Departures (ACC-3): a personnel change takes effect at once, the same day.

Deactivating an account stops it working immediately (an open session is logged out at its next
request, engine.commands refuses inactive actors), and in the same transaction each open task
the person held or could work is released to its group, re-routed to the nearest unit above with
an eligible holder (REV-3 taken into account), or flagged to the administrators — audit event,
站内消息 and the console's list of tasks nobody may work — when nobody else may work it. Revoking
a role (people.revoke_role) does the same for the claims made in that role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from db.models import ROLES, HumanTask, ProcessInstance, RoleGrant, User
from db.session import transaction

from . import audit, notifications
from .assignment import resolve_scope
from .duties import roles_acted
from .exceptions import ConflictError, InvalidInput
from .people import _clean_reason, _managed_user, load_admin, managed_unit_ids


@dataclass(frozen=True)
class Departure:
    released: int
    rerouted: int
    flagged: int


def deactivate_user(rt, actor_id: int, user_id: int, *, reason: str, client_addr: str | None = None) -> Departure:
    """ACC-3: the person leaves. The account stops working at once (the next request of an open
    session is logged out), and in the same transaction each open task they held or could work is
    released to its group, re-routed to the nearest unit above with an eligible holder, or flagged
    to the administrators when nobody else may work it."""
    reason = _clean_reason(reason, "停用账号")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        user = _managed_user(session, admin, user_id)
        if user.id == admin.id:
            raise InvalidInput("不能停用自己的账号。", "You cannot deactivate your own account.")
        if not user.active:
            raise ConflictError("此账号已停用。", "The account is already deactivated.")
        now = rt.clock.now()
        user.active, user.deactivated_at, user.deactivation_reason = False, now, reason
        session.flush()
        audit.record(session, now=now, action="user_deactivated", actor=admin, role="admin", opinion=reason,
                     org_unit_id=user.org_unit_id, client_addr=client_addr, data={"user": user.username})
        grants = [(g.role, g.org_unit_id) for g in session.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id))]
        return reroute_tasks(rt, session, admin, user, open_tasks_of(session, user, grants), reason)


def open_tasks_of(session: Session, user: User, grants: list[tuple[str, int]],
                   only_these_grants: bool = False) -> list[HumanTask]:
    """Open tasks assigned to `user` (all of them, or only those of `grants`), and unclaimed ones of
    the groups (role, unit) in `grants`."""
    tasks = {t.id: t for t in session.scalars(select(HumanTask).where(HumanTask.state == "ready",
                                                                      HumanTask.assignee_id == user.id))
             if not only_these_grants or (t.role, t.org_unit_id) in grants}
    for role, unit_id in grants:
        for task in session.scalars(select(HumanTask).where(HumanTask.state == "ready", HumanTask.role == role,
                                                            HumanTask.org_unit_id == unit_id,
                                                            HumanTask.assignee_id.is_(None))):
            tasks.setdefault(task.id, task)
    return sorted(tasks.values(), key=lambda t: t.id)


def eligible_holders(session: Session, task: HumanTask, unit_id: int) -> list[User]:
    """Active holders of the task's role in `unit_id` who may act on it (REV-3 taken into account)."""
    holders = session.scalars(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
        RoleGrant.role == task.role, RoleGrant.org_unit_id == unit_id, User.active.is_(True)))
    return [u for u in holders if not (roles_acted(session, task.instance_id, u) - {task.role})]


def reroute_tasks(rt, session: Session, admin: User, user: User, tasks: list[HumanTask], reason: str) -> Departure:
    """Release `user`'s hold on each task, then make sure someone else may work it (ACC-3)."""
    now = rt.clock.now()
    released = rerouted = flagged = 0
    for task in tasks:
        row = session.get(ProcessInstance, task.instance_id)
        if task.assignee_id == user.id:
            task.assignee_id, task.claimed_at = None, None
            released += 1
            audit.record(session, now=now, action="task_released", actor=admin, role="admin", instance_id=row.id,
                         task=task, opinion=reason, data={"from": user.username})
        if eligible_holders(session, task, task.org_unit_id):
            continue
        scope = resolve_scope(session, task.role, row.org_unit_id)
        if scope is not None and scope != task.org_unit_id and eligible_holders(session, task, scope):
            old, task.org_unit_id = task.org_unit_id, scope
            rerouted += 1
            audit.record(session, now=now, action="task_rerouted", actor=admin, role="admin", instance_id=row.id,
                         task=task, opinion=reason, data={"from_unit": old, "to_unit": scope})
            continue
        flagged += 1
        audit.record(session, now=now, action="task_unheld", actor=admin, role="admin", instance_id=row.id,
                     task=task, opinion=reason, data={"role": task.role, "left": user.username})
        notifications.notify_admins(rt, session, row, kind="unheld", title=f"无人可办理：{row.title}",
                                    body=f"{user.real_name}离岗后，“{row.title}”的“{task.name}”环节已无人可以办理"
                                         f"（需要“{ROLES.get(task.role, task.role)}”角色），请尽快为该岗位指定人员。")
    return Departure(released, rerouted, flagged)


def unheld_tasks(session: Session, admin: User, limit: int = 200) -> list[HumanTask]:
    """Open tasks in the administrator's units that nobody may work now (ACC-3): held by a
    deactivated person, or unclaimed with no active holder of the role in the task's unit."""
    from sqlalchemy import and_, or_
    from sqlalchemy.orm import aliased

    units = managed_unit_ids(session, admin) or {-1}
    holder = aliased(User)
    has_holder = exists().where(RoleGrant.role == HumanTask.role, RoleGrant.org_unit_id == HumanTask.org_unit_id,
                                RoleGrant.user_id == holder.id, holder.active.is_(True))
    assignee = aliased(User)
    query = (select(HumanTask).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
             .outerjoin(assignee, assignee.id == HumanTask.assignee_id)
             .where(HumanTask.state == "ready", ProcessInstance.org_unit_id.in_(units),
                    or_(and_(HumanTask.assignee_id.is_not(None), assignee.active.is_(False)),
                        and_(HumanTask.assignee_id.is_(None), ~has_holder)))
             .order_by(HumanTask.id).limit(limit))
    return list(session.scalars(query))
