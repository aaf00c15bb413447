"""Engine objects as the API's response dicts (the schemas in schemas.py describe them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import HumanTask, OrgUnit, ProcessInstance, User
from engine import NotFound, queries


def person(session: Session, user_id: int | None) -> dict | None:
    user = session.get(User, user_id) if user_id else None
    return {"id": user.id, "username": user.username, "real_name": user.real_name} if user else None


def visible_instance(session: Session, instance_id: int, user: User, now) -> ProcessInstance:
    """The instance, if `user` may see it; NotFound otherwise (whether it exists is not told)."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or not queries.may_view_instance(session, user, instance, now):
        raise NotFound(f"事项 {instance_id} 不存在或您无权查看。", f"Item {instance_id} does not exist or is not yours to see.")
    return instance


def instance_view(session: Session, instance: ProcessInstance) -> dict:
    content = queries._content(session, instance)
    open_tasks = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                         HumanTask.state == "ready").order_by(HumanTask.id))
    return {
        "id": instance.id, "process_key": instance.definition.key, "process_name": instance.definition.name,
        "version": instance.definition.version, "title": instance.title, "business_key": instance.external_key,
        "engine_key": instance.business_key, "status": instance.status, "suspended": instance.suspended,
        "has_incident": instance.has_incident, "unit": session.get(OrgUnit, instance.org_unit_id).name,
        "started_by": session.get(User, instance.started_by_id).real_name, "started_at": instance.started_at,
        "ended_at": instance.ended_at, "end_reason": instance.end_reason,
        "open_tasks": [{"id": t.id, "name": t.name, "role": t.role, "due_at": t.due_at,
                        "assignee": session.get(User, t.assignee_id).real_name if t.assignee_id else None}
                       for t in open_tasks],
        "content": {"id": content.id, "title": content.title, "status": content.status,
                    "target_kind": content.target_kind, "target_name": content.target_name} if content else None,
        "history": [{"at": h.at, "actor": h.actor, "role": h.role, "action": h.action, "task_name": h.task_name,
                     "outcome": h.outcome_label, "opinion": h.opinion} for h in queries.history(session, instance.id)],
    }
