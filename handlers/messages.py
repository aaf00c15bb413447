"""Handlers of 网民留言办理 (processes/citizen_message.bpmn): violations, urging, reporting."""

from __future__ import annotations

from sqlalchemy import select

from db.models import (
    VIOLATION_TYPES,
    CitizenMessage,
    HumanTask,
    Notification,
    OrgUnit,
    RoleGrant,
    User,
    Violation,
)

from .registry import HandlerContext, handler

REPLY_TASKS = ("reply_consultation", "reply_general", "reply_simple", "reply_error", "redo")


def message_for_key(session, business_key: str) -> CitizenMessage:
    kind, _, ident = (business_key or "").partition(":")
    message = session.get(CitizenMessage, int(ident)) if kind == "message" and ident.isdigit() else None
    if message is None:
        raise LookupError(f"找不到业务编号 {business_key} 对应的网民留言")
    return message


def _holders(session, role: str, unit_id: int) -> list[int]:
    return list(session.scalars(select(User.id).join(RoleGrant, RoleGrant.user_id == User.id).where(
        RoleGrant.role == role, RoleGrant.org_unit_id == unit_id, User.active.is_(True))))


def _nearest_holders(session, role: str, unit_id: int) -> list[int]:
    """Holders of `role` in the nearest unit at or above `unit_id` that has any."""
    unit = session.get(OrgUnit, unit_id)
    while unit is not None:
        found = _holders(session, role, unit.id)
        if found:
            return found
        unit = session.get(OrgUnit, unit.parent_id) if unit.parent_id else None
    return []


def _notify(ctx: HandlerContext, user_ids, *, kind: str, title: str, body: str) -> int:
    rows = [Notification(user_id=uid, kind=kind, title=title, body=body, instance_id=ctx.instance_id,
                         created_at=ctx.now) for uid in dict.fromkeys(user_ids)]
    ctx.session.add_all(rows)
    return len(rows)


@handler("record_message_violation")
def record_message_violation(params: dict, ctx: HandlerContext) -> dict:
    """MSG-1 / PEN-1: a late answer, review or an uncirculated inquiry enters the violation register
    against the responsible unit (and the site it came in on). Idempotent per instance and description."""
    if params["category"] not in VIOLATION_TYPES:
        raise ValueError(f"未知的违规类型 {params['category']}")
    message = message_for_key(ctx.session, ctx.business_key)
    description = f"{params['description']}：{message.subject}"
    same = ctx.session.scalar(select(Violation).where(Violation.instance_id == ctx.instance_id,
                                                      Violation.description == description))
    if same is not None:
        return {"violation_id": same.id}
    violation = Violation(asset_id=message.asset_id, org_unit_id=message.org_unit_id, instance_id=ctx.instance_id,
                          rule=params["rule"], category=params["category"], description=description,
                          recorded_at=ctx.now)
    ctx.session.add(violation)
    ctx.session.flush()
    return {"violation_id": violation.id}


@handler("urge_message")
def urge_message(params: dict, ctx: HandlerContext) -> dict:
    """MSG-2 催办: whoever holds the unit's open reply task (or every candidate) is told."""
    message = message_for_key(ctx.session, ctx.business_key)
    open_tasks = list(ctx.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == ctx.instance_id, HumanTask.state == "ready", HumanTask.bpmn_id.in_(REPLY_TASKS))))
    recipients = [uid for t in open_tasks for uid in ([t.assignee_id] if t.assignee_id else
                                                       _holders(ctx.session, t.role, t.org_unit_id))]
    due = message.due_at.astimezone(_shanghai()).strftime("%Y-%m-%d %H:%M")
    sent = _notify(ctx, recipients, kind="urged", title=f"催办：{message.subject}",
                   body=f"网民留言“{message.subject}”将于 {due} 到期，请抓紧办理答复。")
    return {"notified": sent}


@handler("report_message")
def report_message(params: dict, ctx: HandlerContext) -> dict:
    """MSG-2 上报: the reviewed reply is reported to 市行政审批服务局 (city_office); the message is closed."""
    session = ctx.session
    message = message_for_key(session, ctx.business_key)
    if message.status != "reported":
        done = {t.bpmn_id: t for t in session.scalars(select(HumanTask).where(
            HumanTask.instance_id == ctx.instance_id, HumanTask.state == "completed").order_by(HumanTask.id))}
        replies = [t for key, t in done.items() if key in REPLY_TASKS]
        message.replied_at = max((t.completed_at for t in replies), default=None)
        message.reviewed_at = done["initial_review"].completed_at if "initial_review" in done else ctx.now
        message.status, message.reported_at = "reported", ctx.now
        _notify(ctx, _nearest_holders(session, "city_office", message.org_unit_id), kind="reported",
                title=f"网民留言办理上报：{message.subject}",
                body=f"留言“{message.subject}”已答复并经初审，现予上报。答复：{(message.reply or '')[:200]}")
    return {"message_id": message.id, "reported_at": message.reported_at.isoformat()}


def _shanghai():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")
