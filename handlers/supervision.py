"""Handlers of the supervision, security and violation diagrams (issue 7).

Requests about a unit rather than a site carry the business key `unit:<id>:…`; these handlers
find the unit (or the row the request started) from it. Like every handler they only stage
changes in the instance's transaction, and running one twice changes nothing more.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    EVALUATION_GRADES,
    VENDOR_STATES,
    VIOLATION_TYPES,
    Evaluation,
    OrgUnit,
    Vendor,
    Violation,
)

from .registry import HandlerContext, handler


def unit_for_key(session: Session, business_key: str) -> OrgUnit:
    """The unit of a `unit:<id>[:…]` business key; LookupError if there is none."""
    kind, _, rest = (business_key or "").partition(":")
    ident = rest.partition(":")[0]
    unit = session.get(OrgUnit, int(ident)) if kind == "unit" and ident.isdigit() else None
    if unit is None:
        raise LookupError(f"找不到业务编号 {business_key} 对应的单位")
    return unit


@handler("record_unit_violation")
def record_unit_violation(params: dict, ctx: HandlerContext) -> dict:
    """PEN-1: a register entry against the instance's unit (a duty of the unit, not of one site)."""
    if params["category"] not in VIOLATION_TYPES:
        raise ValueError(f"未知的违规类型 {params['category']}")
    unit = unit_for_key(ctx.session, ctx.business_key)
    existing = ctx.session.scalar(select(Violation).where(Violation.instance_id == ctx.instance_id,
                                                          Violation.rule == params["rule"]))
    if existing is not None:  # one entry per missed deadline of an instance
        return {"violation_id": existing.id}
    violation = Violation(asset_id=None, org_unit_id=unit.id, instance_id=ctx.instance_id, rule=params["rule"],
                          category=params["category"], description=params["description"], recorded_at=ctx.now)
    ctx.session.add(violation)
    ctx.session.flush()
    return {"violation_id": violation.id}


@handler("record_evaluation")
def record_evaluation(params: dict, ctx: HandlerContext) -> dict:
    """SUP-8: the grade of the instance's evaluation, stored for the annual 绩效考核."""
    grade = params.get("grade")
    if grade not in EVALUATION_GRADES:
        raise ValueError(f"未知的考评等次 {grade}")
    evaluation = ctx.session.scalar(select(Evaluation).where(Evaluation.instance_id == ctx.instance_id))
    if evaluation is None:
        raise LookupError(f"找不到流程实例 {ctx.instance_id} 对应的考评记录")
    evaluation.grade, evaluation.evaluated_at = grade, ctx.now
    return {"evaluation_id": evaluation.id, "grade": grade}


@handler("set_vendor_state")
def set_vendor_state(params: dict, ctx: HandlerContext) -> dict:
    """SEC-6: the vendor of the instance is approved to start work, or rejected."""
    state = params.get("state")
    if state not in VENDOR_STATES:
        raise ValueError(f"未知的服务单位状态 {state}")
    vendor = ctx.session.scalar(select(Vendor).where(Vendor.instance_id == ctx.instance_id))
    if vendor is None:
        raise LookupError(f"找不到流程实例 {ctx.instance_id} 对应的服务单位")
    if state == "approved" and not vendor.agreement:
        raise ValueError(f"“{vendor.name}”尚未登记保密协议，不能准予开展服务（SEC-6）")
    vendor.state, vendor.decided_at = state, ctx.now
    return {"vendor_id": vendor.id, "state": state}
