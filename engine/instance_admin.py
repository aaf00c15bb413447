"""Instance administration: find instances, look inside one, suspend and resume it.

A suspended instance fires no timers (sweep), runs no background jobs (jobs) and none of its
tasks can be claimed or completed (commands) until an administrator resumes it; each of those
command paths checks `ProcessInstance.suspended` itself. Every action here is one transaction,
audited with the administrator's reason. Cancelling is `commands.cancel_instance`; retrying an
incident is `jobs.retry_incident`; moving to a newer version is `migration.migrate_instance`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from SpiffWorkflow.task import TaskState
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.models import Incident, OrgUnit, ProcessDefinition, ProcessInstance, ServiceJob, User
from db.session import after_commit, transaction

from . import audit, instances
from .exceptions import ConflictError, InvalidInput, NotFound
from .jobs import LEASE, _dispatcher
from .people import load_admin, managed_unit_ids, require_manages

PAGE_SIZE = 50
STATUSES = ("running", "suspended", "incident", "completed", "cancelled")


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"请填写{what}的理由。", f"A reason is required to {what}.")
    return reason


def _lock(session: Session, instance_id: int) -> ProcessInstance:
    row = session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id)
                         .with_for_update().execution_options(populate_existing=True))
    if row is None:
        raise NotFound(f"流程实例 {instance_id} 不存在。", f"Process instance {instance_id} does not exist.")
    return row


def suspend_instance(rt, instance_id: int, actor_id: int, *, reason: str, client_addr: str | None = None) -> None:
    """Stop a running instance where it is: no timer, job or task action until it is resumed."""
    reason = _reason(reason, "挂起")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        row = _lock(session, instance_id)
        require_manages(session, admin, row.org_unit_id)
        if row.status != "running":
            raise ConflictError("只能挂起办理中的事项。", "Only a running instance can be suspended.")
        if row.suspended:
            raise ConflictError("此事项已经挂起。", "The instance is already suspended.")
        row.suspended = True
        audit.record(session, now=rt.clock.now(), action="suspend", actor=admin, role="admin", instance_id=row.id,
                     opinion=reason, client_addr=client_addr)


def resume_instance(rt, instance_id: int, actor_id: int, *, reason: str, client_addr: str | None = None) -> None:
    """Let a suspended instance go on: timers that fell due meanwhile fire at the next sweep and
    its queued background jobs are sent again after the commit."""
    reason = _reason(reason, "恢复")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        row = _lock(session, instance_id)
        require_manages(session, admin, row.org_unit_id)
        if not row.suspended:
            raise ConflictError("此事项没有挂起。", "The instance is not suspended.")
        row.suspended = False
        now = rt.clock.now()
        for job in session.scalars(select(ServiceJob).where(ServiceJob.instance_id == row.id,
                                                            ServiceJob.state == "queued")):
            job.next_attempt_at = now + LEASE
            after_commit(session, _dispatcher(rt, job.id))
        audit.record(session, now=now, action="resume", actor=admin, role="admin", instance_id=row.id,
                     opinion=reason, client_addr=client_addr)


# --- reading -----------------------------------------------------------------------------------

@dataclass
class InstanceRow:
    id: int
    title: str
    business_key: str
    key: str
    process_name: str
    version: int
    unit: str
    status: str
    suspended: bool
    has_incident: bool
    started_at: datetime
    started_by: str


@dataclass
class InstanceFilter:
    key: str = ""
    version: int | None = None
    status: str = ""
    unit_id: int | None = None
    text: str = ""
    before_id: int | None = None  # keyset pagination: newest first


def list_instances(session: Session, admin: User, flt: InstanceFilter, limit: int = PAGE_SIZE) -> list[InstanceRow]:
    """Instances of the administrator's units, newest first, filtered; `limit + 1` rows tell if more exist."""
    units = managed_unit_ids(session, admin)
    if flt.unit_id is not None:
        units &= {flt.unit_id}
    query = (select(ProcessInstance, ProcessDefinition.key, ProcessDefinition.name, ProcessDefinition.version,
                    OrgUnit.name, User.real_name)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
             .join(OrgUnit, OrgUnit.id == ProcessInstance.org_unit_id)
             .join(User, User.id == ProcessInstance.started_by_id)
             .where(ProcessInstance.org_unit_id.in_(units or {-1})))
    if flt.key:
        query = query.where(ProcessDefinition.key == flt.key)
    if flt.version is not None:
        query = query.where(ProcessDefinition.version == flt.version)
    if flt.status == "suspended":
        query = query.where(ProcessInstance.status == "running", ProcessInstance.suspended.is_(True))
    elif flt.status == "incident":
        query = query.where(ProcessInstance.status == "running", ProcessInstance.has_incident.is_(True))
    elif flt.status in STATUSES:
        query = query.where(ProcessInstance.status == flt.status)
    if flt.text.strip():
        pattern = f"%{flt.text.strip()}%"
        query = query.where(or_(ProcessInstance.title.like(pattern), ProcessInstance.business_key.like(pattern)))
    if flt.before_id is not None:
        query = query.where(ProcessInstance.id < flt.before_id)
    query = query.order_by(ProcessInstance.id.desc()).limit(limit + 1)
    return [InstanceRow(i.id, i.title, i.business_key, key, pname, version, unit, i.status, i.suspended,
                        i.has_incident, i.started_at, starter)
            for i, key, pname, version, unit, starter in session.execute(query)]


@dataclass
class InstanceDetail:
    instance: ProcessInstance
    definition: ProcessDefinition
    unit_name: str
    starter_name: str
    variables: list[tuple[str, str]]
    open_elements: list[tuple[str, str, str]]  # (bpmn id, name, state)
    newer_versions: list[ProcessDefinition]
    incident: Incident | None
    jobs: list[ServiceJob] = field(default_factory=list)


def _shown(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 500 else text[:497] + "…"


def instance_detail(rt, session: Session, admin: User, instance_id: int) -> InstanceDetail:
    """What the console shows about one instance: where it stands, its variables, what can be done."""
    row = session.get(ProcessInstance, instance_id)
    if row is None:
        raise NotFound(f"流程实例 {instance_id} 不存在。", f"Process instance {instance_id} does not exist.")
    require_manages(session, admin, row.org_unit_id)
    definition = session.get(ProcessDefinition, row.definition_id)
    compiled = rt.definitions.get(session, row.definition_id)
    workflow = instances.stored_workflow(session, row, compiled)
    open_tasks = [t for t in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
                  if getattr(t.task_spec, "bpmn_id", None)]
    # The variables as the next step will see them: the open step's data, else the last step's.
    source = open_tasks[0] if open_tasks else workflow.last_task
    data = dict(source.data) if source is not None else {}
    data.update(workflow.data or {})
    variables = [(key, _shown(value)) for key, value in sorted(data.items()) if not key.startswith("_")]
    newer = list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == definition.key,
                                                                 ProcessDefinition.version > definition.version)
                                 .order_by(ProcessDefinition.version.desc())))
    return InstanceDetail(
        instance=row, definition=definition, unit_name=session.get(OrgUnit, row.org_unit_id).name,
        starter_name=session.get(User, row.started_by_id).real_name, variables=variables,
        open_elements=[(t.task_spec.bpmn_id, t.task_spec.bpmn_name or t.task_spec.bpmn_id,
                        TaskState.get_name(t.state)) for t in open_tasks],
        newer_versions=newer,
        incident=session.scalar(select(Incident).where(Incident.instance_id == row.id, Incident.resolved_at.is_(None))),
        jobs=list(session.scalars(select(ServiceJob).where(ServiceJob.instance_id == row.id).order_by(ServiceJob.id))))


def instance_counts(session: Session, definition_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(running, total) instances per definition id."""
    counts: dict[int, tuple[int, int]] = {}
    for definition_id, status, count in session.execute(
            select(ProcessInstance.definition_id, ProcessInstance.status, func.count())
            .where(ProcessInstance.definition_id.in_(definition_ids or [-1]))
            .group_by(ProcessInstance.definition_id, ProcessInstance.status)):
        running, total = counts.get(definition_id, (0, 0))
        counts[definition_id] = (running + (count if status == "running" else 0), total + count)
    return counts
