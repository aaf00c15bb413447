"""违规与超期: the violation register (PEN-1, e.g. OFF-5 overstays) and missed deadlines, as one list.

The register holds what the processes recorded (an offline past 30 days, a late filing, a late
annual report…). Missed deadlines come from the inbox rows: a task finished after its due
instant, or still open past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from db.models import VIOLATION_TYPES, Asset, HumanTask, ProcessDefinition, ProcessInstance, User, Violation

from .audit_search import Scope, day_start, viewer_scope
from .clock import to_shanghai

LIMIT = 2000


@dataclass
class ViolationRow:
    kind: str  # "register" or "deadline"
    at: datetime
    unit: str
    subject: str
    rule: str
    category: str
    description: str
    instance_id: int | None
    person: str


def list_violations(session: Session, user: User, now: datetime, date_from: date | None = None,
                    date_to: date | None = None, scope: Scope | None = None) -> list[ViolationRow]:
    """Register entries and missed deadlines in the viewer's units, newest first."""
    scope = scope or viewer_scope(session, user)
    start = day_start(date_from) if date_from else None
    end = day_start(date_to + timedelta(days=1)) if date_to else None
    rows: list[ViolationRow] = []
    query = (select(Violation, Asset.name, ProcessInstance.title)
             .outerjoin(Asset, Asset.id == Violation.asset_id)
             .outerjoin(ProcessInstance, ProcessInstance.id == Violation.instance_id))
    if start:
        query = query.where(Violation.recorded_at >= start)
    if end:
        query = query.where(Violation.recorded_at < end)
    for violation, asset_name, title in session.execute(query.order_by(Violation.id.desc()).limit(LIMIT)):
        if not scope.covers_unit(violation.org_unit_id):
            continue
        rows.append(ViolationRow("register", violation.recorded_at, scope.names.get(violation.org_unit_id, ""),
                                 asset_name or title or "", violation.rule,
                                 VIOLATION_TYPES.get(violation.category, violation.category), violation.description,
                                 violation.instance_id, ""))
    done_by = aliased(User)
    late = or_(and_(HumanTask.completed_at.is_not(None), HumanTask.completed_at > HumanTask.due_at),
               and_(HumanTask.state == "ready", HumanTask.due_at < now))
    query = (select(HumanTask, ProcessInstance.title, ProcessInstance.org_unit_id, ProcessDefinition.name,
                    done_by.real_name)
             .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
             .outerjoin(done_by, done_by.id == HumanTask.completed_by_id)
             .where(HumanTask.due_at.is_not(None), HumanTask.state != "cancelled", late))
    if start:
        query = query.where(HumanTask.due_at >= start)
    if end:
        query = query.where(HumanTask.due_at < end)
    for task, title, unit_id, process, person in session.execute(query.order_by(HumanTask.due_at.desc()).limit(LIMIT)):
        if not scope.covers_unit(unit_id):
            continue
        due = to_shanghai(task.due_at)
        if task.completed_at is not None:
            days = (task.completed_at - task.due_at).total_seconds() / 86400
            what = f"截止 {due:%Y-%m-%d %H:%M}，于 {to_shanghai(task.completed_at):%Y-%m-%d %H:%M} 办结，逾期 {days:.1f} 天"
        else:
            what = f"截止 {due:%Y-%m-%d %H:%M}，至今未办理"
        rows.append(ViolationRow("deadline", task.due_at, scope.names.get(unit_id, ""), title, process,
                                 "办理超期", f"“{task.name}”{what}", task.instance_id, person or ""))
    rows.sort(key=lambda r: r.at, reverse=True)
    return rows
