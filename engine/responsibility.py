"""REV-9: who answers for an item — the supplying unit and the three reviewers, from the trail.

Responsibility for a wrong, late or leaked item is traced to the unit that supplied it and to
the people of the three-level review (002 §36). `responsibility_trace` reads an instance's
audit events only and lays them out by responsibility: supplier unit, editor (submission and
every revision), reviewer, signer and e-government centre, each with the time, the outcome and
the opinion, plus when the item was published. Other processes get the same trace by lane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ROLES, AuditEvent, OrgUnit, ProcessInstance, User

from .audit_search import viewer_scope
from .exceptions import Forbidden, NotFound

# The REV-9 slots, in the order an item passes them.
REV9_ROLES = ("editor", "reviewer", "signer", "egov_center")


@dataclass
class Act:
    at: datetime
    actor: str
    action: str
    step: str | None
    outcome: str
    opinion: str
    event_id: int


@dataclass
class Responsibility:
    role: str
    label: str
    acts: list[Act] = field(default_factory=list)

    @property
    def people(self) -> str:
        return "、".join(dict.fromkeys(a.actor for a in self.acts))


@dataclass
class Trace:
    instance_id: int
    title: str
    supplier_unit: str
    started_at: datetime
    published_at: datetime | None
    lanes: list[Responsibility]
    status: str


def responsibility_trace(session: Session, user: User, instance_id: int) -> Trace:
    """REV-9: the supplier unit and each reviewer of item `instance_id`, with times and opinions."""
    scope = viewer_scope(session, user)  # who may ask comes first: an outsider learns nothing
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"事项 {instance_id} 不存在。", f"Item {instance_id} does not exist.")
    if not scope.covers_unit(instance.org_unit_id):
        raise Forbidden("此事项不在您的审计范围内。", "This item is outside the units you audit.")
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                  .order_by(AuditEvent.id)))
    lanes = {role: Responsibility(role, ROLES[role]) for role in REV9_ROLES}
    published_at = None
    for event in events:
        data = event.data or {}
        if event.action == "service_task" and data.get("handler") == "publish_content":
            published_at = event.occurred_at
        if event.action not in ("start", "complete") or not event.role:
            continue
        lane = lanes.setdefault(event.role, Responsibility(event.role, ROLES.get(event.role, event.role)))
        lane.acts.append(Act(at=event.occurred_at, actor=event.actor_name, action=event.action,
                             step=event.task_name or ("提交" if event.action == "start" else None),
                             outcome=data.get("outcome_label") or ("提交" if event.action == "start" else ""),
                             opinion=event.opinion or "", event_id=event.id))
    ordered = [lanes[r] for r in REV9_ROLES] + [lane for role, lane in lanes.items() if role not in REV9_ROLES]
    return Trace(instance_id=instance.id, title=instance.title,
                 supplier_unit=session.get(OrgUnit, instance.org_unit_id).name, started_at=instance.started_at,
                 published_at=published_at, lanes=ordered, status=instance.status)
