"""What the inbox and item pages read. Lists come from `human_task` and `audit_event` rows,
never from workflow JSON, so they stay cheap however many instances run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from db.models import (
    ROLES,
    TARGET_KINDS,
    AuditEvent,
    ContentItem,
    HumanTask,
    Incident,
    OrgUnit,
    ProcessDefinition,
    ProcessInstance,
    RoleGrant,
    ServiceJob,
    User,
)

from .assignment import holds_role_at_or_above
from .exceptions import Forbidden, GovFlowError, NotFound
from .forms import FORMS, REASON_REQUIRED

ACTION_LABELS = {"start": ("发起", "started"), "claim": ("签收", "claimed"), "complete": ("办理", "completed"),
                 "cancel": ("撤销", "cancelled"), "end": ("流程结束", "ended"), "publish": ("发布", "published"),
                 "unassigned": ("无人可办理", "no holder"), "timer": ("期限到期", "deadline reached"),
                 "service_failed": ("后台任务失败", "background job failed"), "incident": ("流程故障", "incident"),
                 "incident_retry": ("故障重试", "incident retried"),
                 "deadline_recomputed": ("期限按工作日历重算", "deadline recomputed"),
                 "service_task": ("自动办理", "automatic step"), "attachment": ("上传附件", "attachment uploaded"),
                 "inspection_check": ("检查记录", "inspection record"),
                 # administrators' console
                 "suspend": ("挂起", "suspended"), "resume": ("恢复", "resumed"),
                 "migrate": ("迁移到新版本", "migrated to a new version"),
                 "task_released": ("离岗退回", "released on departure"), "task_rerouted": ("转上级单位办理", "re-routed"),
                 "task_unheld": ("无人可办", "no holder left")}
# Daily operations (issue 7): forwarding and assigning messages, rosters, duty reading, interaction functions.
ACTION_LABELS.update({"forward": ("转办", "forwarded"), "assign": ("指定专人", "assigned"),
                      "duty_set": ("排班", "rostered"), "duty_reading": ("值班读网", "duty reading"),
                      "interaction_recorded": ("登记互动功能", "interaction functions recorded")})
# The inbox's OA actions and review integrity (issue 8).
ACTION_LABELS.update({
    "release": ("退回组内", "released"), "transfer": ("转办", "transferred"), "delegate": ("委派", "delegated"),
    "delegate_resolve": ("委派办理并交回", "gave back"), "add_signer_before": ("前加签", "added a signer before"),
    "countersign": ("加签", "countersigned"), "withdraw": ("撤回", "withdrew"), "cc": ("抄送", "copied"),
    "urge": ("催办", "urged"), "content_edit": ("修改稿件", "changed the item"),
    "approvals_voided": ("审核意见作废", "approvals voided"), "attachment": ("上传附件", "attached a file"),
})
# Webhooks (issue 11): the administrators' configuration of notifications to outside systems.
ACTION_LABELS.update({"webhook_created": ("新增 Webhook", "webhook added"),
                      "webhook_deactivated": ("停用 Webhook", "webhook deactivated"),
                      "webhook_resent": ("重新发送 Webhook 通知", "webhook delivery sent again")})
# Personal API tokens (issue 11).
ACTION_LABELS.update({"api_token_created": ("创建 API 令牌", "API token created"),
                      "api_token_revoked": ("吊销 API 令牌", "API token revoked")})
PAGE_SIZE = 50


@dataclass
class TaskRow:
    id: int
    name: str
    title: str
    business_key: str
    process_name: str
    instance_id: int
    created_at: datetime
    started_by: str
    unit: str
    claimed_by_me: bool
    outcome: str | None = None
    completed_at: datetime | None = None
    due_at: datetime | None = None


@dataclass
class HistoryRow:
    at: datetime
    actor: str
    role: str | None
    action: str
    task_name: str | None
    outcome_label: str | None
    opinion: str | None


@dataclass
class TaskPage:
    task: HumanTask
    instance: ProcessInstance
    process_name: str
    content: ContentItem | None
    target_label: str | None
    history: list[HistoryRow]
    outcomes: list[dict]
    reason_required: list[str]
    form_fields: list = field(default_factory=list)
    form_values: dict = field(default_factory=dict)
    refusal: GovFlowError | None = None
    unit_name: str = ""
    starter_name: str = ""
    outcome_label: str | None = None
    access: object = None  # engine.access.TaskAccess: work, deputy, delegate
    multi: str | None = None  # 会签 (all) / 或签 (any)


def _candidate_clause(user_id: int):
    """Ready tasks assigned to the user, or unassigned ones in a (role, unit) the user holds."""
    holds = exists().where(RoleGrant.user_id == user_id, RoleGrant.role == HumanTask.role,
                           RoleGrant.org_unit_id == HumanTask.org_unit_id)
    return and_(HumanTask.state == "ready",
                or_(HumanTask.assignee_id == user_id, and_(HumanTask.assignee_id.is_(None), holds)))


def _task_rows(session: Session, where, user_id: int, order, limit: int) -> list[TaskRow]:
    starter = aliased(User)
    query = (select(HumanTask, ProcessInstance.title, ProcessInstance.business_key, ProcessDefinition.name,
                    starter.real_name, OrgUnit.name, ProcessDefinition.task_info)
             .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
             .join(starter, starter.id == ProcessInstance.started_by_id)
             .join(OrgUnit, OrgUnit.id == ProcessInstance.org_unit_id)
             .where(where).order_by(*order).limit(limit))
    return [TaskRow(id=t.id, name=t.name, title=title, business_key=key, process_name=pname,
                    instance_id=t.instance_id, created_at=t.created_at, started_by=sname, unit=uname,
                    claimed_by_me=t.assignee_id == user_id, outcome=outcome_label(info, t),
                    completed_at=t.completed_at, due_at=t.due_at)
            for t, title, key, pname, sname, uname, info in session.execute(query)]


def outcome_label(task_info: dict, task: HumanTask) -> str | None:
    """The label the user clicked (通过, 退回修改…) for a completed task."""
    if task.outcome is None:
        return None
    outcomes = task_info.get(task.bpmn_id, {}).get("outcomes", [])
    return next((o["label"] for o in outcomes if o["key"] == task.outcome), task.outcome)


def todo(session: Session, user_id: int, limit: int = PAGE_SIZE) -> list[TaskRow]:
    """待办: my tasks and my groups' unclaimed tasks, oldest first."""
    return _task_rows(session, _candidate_clause(user_id), user_id, [HumanTask.id], limit)


def todo_count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(HumanTask).where(_candidate_clause(user_id))) or 0


def done(session: Session, user_id: int, limit: int = PAGE_SIZE) -> list[TaskRow]:
    """已办: tasks I completed, newest first."""
    where = and_(HumanTask.completed_by_id == user_id, HumanTask.state == "completed")
    return _task_rows(session, where, user_id, [HumanTask.completed_at.desc(), HumanTask.id.desc()], limit)


def started(session: Session, user_id: int, limit: int = PAGE_SIZE) -> list[ProcessInstance]:
    """我发起的: instances I started, newest first."""
    return list(session.scalars(select(ProcessInstance).where(ProcessInstance.started_by_id == user_id)
                                .order_by(ProcessInstance.id.desc()).limit(limit)))


def history(session: Session, instance_id: int) -> list[HistoryRow]:
    """Who did what, when, in which role, with which opinion."""
    rows = []
    for event in session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                 .order_by(AuditEvent.id)):
        data = event.data or {}
        label = data.get("outcome_label")
        if data.get("to_name"):
            label = " → ".join(filter(None, (label, data["to_name"])))  # 转办/委派/加签 to whom
        elif data.get("to_names"):
            label = "→ " + "、".join(data["to_names"])  # 抄送
        rows.append(HistoryRow(at=event.occurred_at, actor=event.actor_name, role=event.role,
                               action=event.action, task_name=event.task_name,
                               outcome_label=label, opinion=event.opinion))
    return rows


def _content(session: Session, instance: ProcessInstance) -> ContentItem | None:
    kind, _, ident = instance.business_key.partition(":")
    return session.get(ContentItem, int(ident)) if kind == "content" and ident.isdigit() else None


def task_page(session: Session, task_id: int, user: User, now: datetime | None = None) -> TaskPage:
    """Everything the task page shows, for whoever may work it (or hold it as a stand-in or
    delegate). Someone who may see the item gets Forbidden; anyone else NotFound (no 403 leak)."""
    from .access import task_access
    from .duties import _check_one

    task = session.get(HumanTask, task_id)
    access = task_access(session, user, task, now) if task is not None else None
    if access is None:
        raise NotFound(f"任务 {task_id} 不存在或您无权查看。", f"Task {task_id} does not exist or is not yours to see.")
    if access.mode == "view":
        raise Forbidden(f"您不是“{task.name}”的办理人，无权查看或办理此任务。",
                        f"You are not a holder of \"{task.name}\" and may not see or work it.")
    instance = session.get(ProcessInstance, task.instance_id)
    info = instance.definition.task_info[task.bpmn_id]
    content = _content(session, instance)
    page = TaskPage(task=task, outcome_label=outcome_label(instance.definition.task_info, task), instance=instance, process_name=instance.definition.name, content=content,
                    target_label=TARGET_KINDS.get(content.target_kind) if content else None,
                    history=history(session, instance.id), outcomes=info["outcomes"],
                    reason_required=[o["key"] for o in info["outcomes"] if o["key"] in REASON_REQUIRED],
                    unit_name=session.get(OrgUnit, instance.org_unit_id).name,
                    starter_name=session.get(User, instance.started_by_id).real_name)
    page.access, page.multi = access, info.get("multi")
    if task.form_key and task.state == "ready":
        form = FORMS[task.form_key]
        page.form_fields, page.form_values = form.fields, form.prefill(session, instance)
    if task.state == "ready":
        # REV-3 said before anyone tries: for a stand-in, both they and their principal.
        acting = [user] if access.mode != "deputy" else [session.get(User, access.principal_id), user]
        try:
            for person in acting:
                _check_one(session, instance.id, person, task.role)
        except Forbidden as refusal:
            page.refusal = refusal
    return page


def may_view_instance(session: Session, user: User, instance: ProcessInstance, now: datetime | None = None) -> bool:
    """Participants, copy readers and the right org scope (engine/access.py); `now` lets a
    stand-in (委托) see what their principal is in."""
    from .access import may_view

    return may_view(session, user, instance, now)


def instance_page(session: Session, instance_id: int, user: User, now: datetime | None = None) -> dict:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or not may_view_instance(session, user, instance, now):
        # Not 403: whether another unit's item exists is itself not to be told.
        raise NotFound(f"事项 {instance_id} 不存在或您无权查看。", f"Item {instance_id} does not exist or is not yours to see.")
    content = _content(session, instance)
    open_tasks = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                              HumanTask.state == "ready")))
    return {"instance": instance, "process_name": instance.definition.name, "content": content,
            "target_label": TARGET_KINDS.get(content.target_kind) if content else None,
            "history": history(session, instance.id), "open_tasks": open_tasks,
            "unit_name": session.get(OrgUnit, instance.org_unit_id).name,
            "starter_name": session.get(User, instance.started_by_id).real_name,
            "incident": session.scalar(select(Incident).where(Incident.instance_id == instance.id,
                                                              Incident.resolved_at.is_(None)))}


@dataclass
class IncidentRow:
    id: int
    instance_id: int
    title: str
    unit: str
    kind: str
    step: str | None
    error: str
    created_at: datetime
    attempts: int | None


def open_incidents(session: Session, user: User) -> list[IncidentRow]:
    """Open incidents of the items an administrator looks after (their unit and those below)."""
    rows = session.execute(
        select(Incident, ProcessInstance.title, ProcessInstance.org_unit_id, OrgUnit.name, ServiceJob.attempts)
        .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
        .join(OrgUnit, OrgUnit.id == ProcessInstance.org_unit_id)
        .outerjoin(ServiceJob, ServiceJob.id == Incident.job_id)
        .where(Incident.resolved_at.is_(None)).order_by(Incident.id.desc()).limit(500)).all()
    return [IncidentRow(i.id, i.instance_id, title, unit, i.kind, i.bpmn_id, i.error, i.created_at, attempts)
            for i, title, unit_id, unit, attempts in rows
            if holds_role_at_or_above(session, user, "admin", unit_id)]


def role_label(role: str | None, lang: str = "zh") -> str:
    if not role:
        return ""
    return role if lang == "en" else ROLES.get(role, role)
