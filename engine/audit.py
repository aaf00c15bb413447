"""Writing audit events. Events are only ever added, in the transaction of the command.

A command's events are staged and written by one INSERT just before its transaction commits
(the commit that makes the command's other changes permanent, so both or neither happen).
Staging keeps a command to one audit statement however many events it records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.models import AuditEvent, HumanTask, User
from db.prepared import Prepared
from db.session import before_commit

STAGED = "govflow.audit_staged"
EVENT_COLUMNS = ("occurred_at", "actor_id", "actor_name", "role", "org_unit_id", "action", "instance_id", "task_id",
                 "task_name", "opinion", "data", "client_addr")
_INSERT_EVENTS = Prepared(insert(AuditEvent).inline(), columns=EVENT_COLUMNS)


def record(session: Session, *, now: datetime, action: str, actor: User | None = None,
           role: str | None = None, instance_id: int | None = None, task: HumanTask | None = None,
           opinion: str | None = None, data: dict | None = None, client_addr: str | None = None,
           org_unit_id: int | None = None) -> dict:
    """Stage one audit event; the caller's transaction writes it with everything else."""
    event = {
        "occurred_at": now, "actor_id": actor.id if actor else None,
        "actor_name": actor.real_name if actor else "系统", "role": role,
        "org_unit_id": org_unit_id if org_unit_id is not None else (actor.org_unit_id if actor else None),
        "action": action, "instance_id": instance_id, "task_id": task.id if task else None,
        "task_name": task.name if task else None, "opinion": opinion or None, "data": data,
        "client_addr": client_addr,
    }
    staged = session.info.get(STAGED)
    if staged is None:
        staged = session.info[STAGED] = []
        before_commit(session, lambda: write_staged(session))
    staged.append(event)
    return event


def write_staged(session: Session) -> None:
    """Write the staged events, in the order they were recorded."""
    staged = session.info.pop(STAGED, [])
    if staged:
        session.flush()  # rows the events point at (a new task, an instance) exist first
        _INSERT_EVENTS.execute_many(session, staged)


def instance_events(session: Session, instance_id: int) -> list[AuditEvent]:
    """An instance's events in the order they happened."""
    return list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                .order_by(AuditEvent.id)))
