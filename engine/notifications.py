"""In-app notifications (站内消息) and deadline reminders.

Every notification is a row in the recipient's inbox, written in the transaction of what caused
it. Other channels (e-mail now, SMS later) are plug-ins in `handlers.channels`, run after the
commit so a slow mail server never holds a lock or undoes a decision.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.models import HumanTask, Notification, ProcessInstance, RoleGrant, User
from db.session import after_commit, transaction

from .assignment import resolve_scope
from .calendar import CalendarNotCovered, WorkingCalendar
from .clock import SHANGHAI, to_shanghai

log = logging.getLogger(__name__)


def holders(session: Session, role: str, unit_id: int) -> list[int]:
    """Active users holding `role` in exactly `unit_id`."""
    return list(session.scalars(select(User.id).join(RoleGrant, RoleGrant.user_id == User.id)
                                .where(RoleGrant.role == role, RoleGrant.org_unit_id == unit_id,
                                       User.active.is_(True))))


def nearest_holders(session: Session, role: str, unit_id: int) -> list[int]:
    scope = resolve_scope(session, role, unit_id)
    return holders(session, role, scope) if scope is not None else []


def notify(rt, session: Session, user_ids, *, kind: str, title: str, body: str,
           instance_id: int | None = None, task_id: int | None = None) -> list[Notification]:
    """One notification per distinct recipient; channel deliveries run after the commit."""
    from handlers.channels import enabled_channels

    now = rt.clock.now()
    rows = [Notification(user_id=user_id, kind=kind, title=title, body=body, instance_id=instance_id,
                         task_id=task_id, created_at=now) for user_id in dict.fromkeys(user_ids)]
    session.add_all(rows)
    if rows and enabled_channels():
        messages = [(row.user_id, title, body) for row in rows]
        after_commit(session, lambda: rt.deliver(messages))
    return rows


def notify_admins(rt, session: Session, row: ProcessInstance, **message) -> None:
    notify(rt, session, nearest_holders(session, "admin", row.org_unit_id), instance_id=row.id, **message)


def reminder_instant(calendar: WorkingCalendar, due: datetime, opened: datetime) -> datetime | None:
    """00:00 Beijing time on the working day before the due day ("1 working day before").

    None when that is not after the task opened (a 30-minute deadline: only overdue is told)
    or when the calendar cannot say (year not entered).
    """
    try:
        day = calendar.previous_working_day(to_shanghai(due).date())
    except CalendarNotCovered:
        return None
    instant = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return instant if instant > opened else None


def task_recipients(session: Session, task: HumanTask, row: ProcessInstance) -> list[int]:
    """The assignee (or every candidate of a group task) and the unit head of the item's unit."""
    workers = [task.assignee_id] if task.assignee_id else holders(session, task.role, task.org_unit_id)
    return workers + nearest_holders(session, "unit_head", row.org_unit_id)


def send_reminders(rt, limit: int = 500) -> int:
    """即将到期 and 已超期 notices for open tasks, each sent once; returns how many tasks."""
    now = rt.clock.now()
    with transaction(rt.session_factory) as session:
        # A suspended instance's tasks wait: their notices go out at the first sweep after it resumes.
        tasks = list(session.scalars(
            select(HumanTask).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(HumanTask.state == "ready", ProcessInstance.suspended.is_(False), or_(
                (HumanTask.remind_at <= now) & HumanTask.reminded_at.is_(None),
                (HumanTask.due_at <= now) & HumanTask.overdue_notified_at.is_(None)))
            .order_by(HumanTask.id).limit(limit).with_for_update(of=HumanTask, skip_locked=True)))
        for task in tasks:
            row = session.get(ProcessInstance, task.instance_id)
            due = to_shanghai(task.due_at).strftime("%Y-%m-%d %H:%M")
            if task.due_at <= now:
                notify(rt, session, task_recipients(session, task, row), kind="overdue",
                       title=f"已超期：{row.title}", body=f"“{row.title}”的“{task.name}”环节已于 {due} 到期，请尽快办理。",
                       instance_id=row.id, task_id=task.id)
                task.overdue_notified_at = now
                task.reminded_at = task.reminded_at or now
            else:
                notify(rt, session, task_recipients(session, task, row), kind="due_soon",
                       title=f"即将到期：{row.title}", body=f"“{row.title}”的“{task.name}”环节将于 {due} 到期。",
                       instance_id=row.id, task_id=task.id)
                task.reminded_at = now
        return len(tasks)


def unread_count(session: Session, user_id: int) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def recent(session: Session, user_id: int, limit: int = 100) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user_id)
                                .order_by(Notification.id.desc()).limit(limit)))


def mark_read(rt, user_id: int, notification_ids: list[int] | None = None) -> int:
    """Mark the user's own notifications read (all of them when no ids are given)."""
    from sqlalchemy import update

    with transaction(rt.session_factory) as session:
        query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        if notification_ids is not None:
            query = query.where(Notification.id.in_(notification_ids))
        return session.execute(query.values(read_at=rt.clock.now())).rowcount

