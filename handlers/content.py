"""Handlers for content items under three-level review."""

from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update

from db.models import VIOLATION_TYPES, ApprovalForm, AuditEvent, ContentItem, OrgUnit, RoleGrant, Violation
from db.prepared import Prepared

from .registry import HandlerContext, handler

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Publishing runs for every item: one read and one write on the driver's cursor (db/prepared.py).
_ITEM = Prepared(select(ContentItem.title, ContentItem.mode, ContentItem.details, ContentItem.status,
                        ContentItem.published_at, ContentItem.target_kind, ContentItem.target_name,
                        ContentItem.org_unit_id).where(ContentItem.id == bindparam("content_id")))
_PUBLISH = Prepared(update(ContentItem).where(ContentItem.id == bindparam("content_id")).values(
    status="published", published_at=bindparam("now"), details=bindparam("new_details")))


@handler("publish_content")
def publish_content(params: dict, ctx: HandlerContext) -> dict:
    """REV-1: mark the item published; only reached after every review passed. Idempotent.

    REV-14: a portal item submitted under the approval-form rule goes online only with its form
    registered; REV-6 emergency items are the exception (their formalities follow). REV-8: a policy
    document's interpretation materials are published in the same instant. Plain items pay for
    none of this: the checks read the row already loaded.
    """
    content_id = int(params["content_id"])
    found = _ITEM.first(ctx.session, {"content_id": content_id})
    if found is None:
        raise LookupError(f"内容条目 {params['content_id']} 不存在")
    title, mode, details, status, published_at, target_kind, target_name, unit_id = found
    if details and details.get("form_required") and mode != "emergency" and not details.get("approval_form"):
        raise ValueError(f"“{title}”的信息发布审批单尚未登记存档，不能发布（REV-14）")
    if status != "published":
        published_at = ctx.now
        if details and details.get("interpretations"):
            stamp = ctx.now.isoformat()
            details = {**details, "interpretations": [{**one, "published_at": stamp}
                                                      for one in details["interpretations"]]}
        _PUBLISH.execute(ctx.session, {"content_id": content_id, "now": published_at, "new_details": details})
    return {"content_id": content_id, "published_at": published_at.isoformat(),
            **_where(title, target_kind, target_name, unit_id)}


def _where(title: str, target_kind: str, target_name: str, unit_id: int) -> dict:
    """Where and what was published: the annual report (SUP-1) counts items per column from this."""
    return {"title": title, "target_kind": target_kind, "target_name": target_name, "org_unit_id": unit_id}


@handler("publish_emergency")
def publish_emergency(params: dict, ctx: HandlerContext) -> dict:
    """REV-6: the office's staff publish emergency information at once; its formalities follow. Idempotent."""
    item = _item_of(ctx)
    if item.mode != "emergency":
        raise ValueError(f"“{item.title}”不是紧急信息，不能先发布后补手续（REV-6）")
    if item.status != "published":
        item.status, item.published_at = "published", ctx.now
    return {"content_id": item.id, "published_at": item.published_at.isoformat(), **_where(item.title, item.target_kind,
                                                                                        item.target_name, item.org_unit_id)}


# The three steps of the approval form: (role, label).
_FORM_STEPS = (("editor", "编辑"), ("reviewer", "审核"), ("signer", "签发"))


def _office_unit(session, unit_id: int) -> int:
    """The office the form is registered with: the nearest unit at or above holding district_office."""
    unit = session.get(OrgUnit, unit_id)
    while unit is not None:
        held = session.scalar(select(RoleGrant.id).where(RoleGrant.org_unit_id == unit.id,
                                                         RoleGrant.role == "district_office").limit(1))
        if held is not None:
            return unit.id
        unit = session.get(OrgUnit, unit.parent_id) if unit.parent_id else None
    return unit_id


@handler("register_approval_form")
def register_approval_form(params: dict, ctx: HandlerContext) -> dict:
    """REV-14: register and archive the item's 信息发布审批单 with the office: the three reviews as
    the audit trail recorded them, numbered per office and year. Idempotent (one form per item)."""
    session = ctx.session
    item = _item_of(ctx)
    existing = session.scalar(select(ApprovalForm).where(ApprovalForm.content_item_id == item.id))
    if existing is not None:
        return {"approval_form": existing.number}
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == ctx.instance_id)
                                  .order_by(AuditEvent.id)))
    record = _pushed_record(item) if item.mode == "pushed" else []
    for role, label in () if record else _FORM_STEPS:
        # The last pass in the role counts: a returned and resubmitted item shows who passed it in the end.
        acts = ([e for e in events if e.action == "start"] if role == "editor" else
                [e for e in events if e.action == "complete" and e.role == role and (e.data or {}).get("outcome") == "pass"])
        if not acts:
            raise ValueError(f"“{item.title}”缺少{label}环节的办理记录，审批单不能登记（REV-14）")
        act = acts[-1]
        record.append({"step": label, "role": role, "name": act.actor_name, "opinion": act.opinion or "",
                       "at": act.occurred_at.astimezone(SHANGHAI).isoformat(timespec="minutes")})
    office = _office_unit(session, item.org_unit_id)
    year = ctx.now.astimezone(SHANGHAI).year
    serial = 1 + (session.scalar(select(func.count()).select_from(ApprovalForm).where(
        ApprovalForm.office_unit_id == office, ApprovalForm.number.like(f"{year}-%"))) or 0)
    form = ApprovalForm(content_item_id=item.id, number=f"{year}-{serial:05d}", office_unit_id=office,
                        record=record, instance_id=ctx.instance_id, registered_at=ctx.now)
    session.add(form)
    item.details = {**(item.details or {}), "approval_form": form.number}
    return {"approval_form": form.number}


def _pushed_record(item: ContentItem) -> list[dict]:
    """REV-15: pushed-in content carries the three reviews its source unit did before the push."""
    push = (item.details or {}).get("push") or {}
    return [{"step": label, "role": role, "name": push.get(role, ""), "opinion": f"来源系统：{push.get('source_system', '')}",
             "at": push.get("signed_at", "")} for role, label in _FORM_STEPS]


@handler("record_content_violation")
def record_content_violation(params: dict, ctx: HandlerContext) -> dict:
    """PEN-1: a register entry for a content item's missed deadline (REV-6, REV-7, REV-12, REV-18),
    against the item's unit. Idempotent per instance and rule."""
    if params["category"] not in VIOLATION_TYPES:
        raise ValueError(f"未知的违规类型 {params['category']}")
    item = _item_of(ctx)
    same = ctx.session.scalar(select(Violation).where(Violation.instance_id == ctx.instance_id,
                                                      Violation.rule == params["rule"]))
    if same is not None:
        return {"violation_id": same.id}
    violation = Violation(asset_id=None, org_unit_id=item.org_unit_id, instance_id=ctx.instance_id, rule=params["rule"],
                          category=params["category"], description=f"{params['description']}：{item.title}",
                          recorded_at=ctx.now)
    ctx.session.add(violation)
    ctx.session.flush()
    return {"violation_id": violation.id}


@handler("close_content")
def close_content(params: dict, ctx: HandlerContext) -> dict:
    """REV-10: an item whose application was refused ends unpublished, with that status."""
    item = _item_of(ctx)
    if params["status"] not in ("rejected", "cancelled"):
        raise ValueError(f"不能把内容条目设为 {params['status']}")
    if item.status != "published":
        item.status = params["status"]
    return {"content_id": item.id, "status": item.status}


def _item_of(ctx: HandlerContext) -> ContentItem:
    kind, _, ident = (ctx.business_key or "").partition(":")
    item = ctx.session.get(ContentItem, int(ident)) if kind == "content" and ident.isdigit() else None
    if item is None:
        raise LookupError(f"找不到业务编号 {ctx.business_key} 对应的内容条目")
    return item
