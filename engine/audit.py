"""Writing audit events. Events are only ever added, in the transaction of the command."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuditEvent, HumanTask, User


def record(session: Session, *, now: datetime, action: str, actor: User | None = None,
           role: str | None = None, instance_id: int | None = None, task: HumanTask | None = None,
           opinion: str | None = None, data: dict | None = None, client_addr: str | None = None,
           org_unit_id: int | None = None) -> AuditEvent:
    """Stage one audit event (the caller's transaction commits it with everything else)."""
    event = AuditEvent(
        occurred_at=now, actor_id=actor.id if actor else None,
        actor_name=actor.real_name if actor else "系统", role=role,
        org_unit_id=org_unit_id if org_unit_id is not None else (actor.org_unit_id if actor else None),
        action=action, instance_id=instance_id, task_id=task.id if task else None,
        task_name=task.name if task else None, opinion=opinion or None, data=data,
        client_addr=client_addr,
    )
    session.add(event)
    return event


def instance_events(session: Session, instance_id: int) -> list[AuditEvent]:
    """An instance's events in the order they happened."""
    return list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                .order_by(AuditEvent.id)))
