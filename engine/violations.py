"""The violation register (PEN-1, PEN-2): 通报 first, then 约谈 and accountability as decisions.

Entries come from the diagrams' missed deadlines (OFF-3/OFF-5, DEC-5, CHG-1, OPEN-4, REV-11,
REV-17, SEC-1…SEC-4, SUP-4/6/7) through the record_violation handlers, or are recorded by the
office for what no deadline catches (improper publishing, leaks, fees…). An entry is
circulated 通报 by the office (one circular may cover several entries, or a process step
circulates its own); only a circulated entry may lead to accountability, a separate decision
(processes/accountability.bpmn) taken only where serious consequences followed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    VIOLATION_TYPES,
    Asset,
    Evaluation,
    OrgUnit,
    ProcessInstance,
    Violation,
    ViolationCircular,
    ViolationCircularItem,
)
from db.session import transaction

from . import audit
from .assets import MAX_REASON, OVERSEEING_ROLES
from .assignment import holds_role_at_or_above
from .commands import Actor, load_actor, start_in_session
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound
from .forms import Field, Form, register_form

ACCOUNTABILITY_PROCESS = "accountability"
# PEN-2 (004 §23; 003 五(三)): what leads to a summons 约谈.
TRIGGERS = {"violation": "违规登记事项（已通报）", "superior_circular": "被上级部门通报批评",
            "failed_evaluation": "年度考核不合格", "poor_rectification": "问题整改落实不力",
            "negative_opinion": "造成重大负面舆情"}
ACTIONS = {"summons": "约谈", "accountability": "问责"}
MAX_CIRCULATE = 200


def may_see_unit(session: Session, user, unit_id: int) -> bool:
    """The unit's own people, and the offices, administrators and auditors at or above it."""
    return user.org_unit_id == unit_id or any(holds_role_at_or_above(session, user, role, unit_id)
                                              for role in OVERSEEING_ROLES)


@dataclass
class RegisterRow:
    violation: Violation
    unit: str
    asset: str | None
    circular: ViolationCircular | None
    cases: list[ProcessInstance]


def register(session: Session, user, *, unit_id: int | None = None, category: str | None = None,
             status: str | None = None) -> dict:
    """PEN-1: the register entries the user may see, filtered by unit, type and 通报 status,
    with counts per unit and type."""
    query = select(Violation).order_by(Violation.recorded_at.desc(), Violation.id.desc())
    if unit_id:
        query = query.where(Violation.org_unit_id == unit_id)
    if category:
        query = query.where(Violation.category == category)
    visible = [v for v in session.scalars(query) if may_see_unit(session, user, v.org_unit_id)]
    circulars = dict(session.execute(select(ViolationCircularItem.violation_id, ViolationCircular)
                                     .join(ViolationCircular, ViolationCircular.id == ViolationCircularItem.circular_id)
                                     .where(ViolationCircularItem.violation_id.in_([v.id for v in visible] or [0]))).all())
    if status == "awaiting":
        visible = [v for v in visible if v.id not in circulars]
    elif status == "circulated":
        visible = [v for v in visible if v.id in circulars]
    units = {u.id: u.name for u in session.scalars(select(OrgUnit))}
    assets = {a.id: a.name for a in session.scalars(select(Asset).where(
        Asset.id.in_({v.asset_id for v in visible if v.asset_id} or {0})))}
    cases: dict[int, list[ProcessInstance]] = {}
    for row in session.scalars(select(ProcessInstance).where(ProcessInstance.business_key.like("unit:%:accountability:v%"))):
        cases.setdefault(int(row.business_key.rpartition(":v")[2]), []).append(row)
    rows = [RegisterRow(v, units.get(v.org_unit_id, ""), assets.get(v.asset_id), circulars.get(v.id),
                        cases.get(v.id, [])) for v in visible]
    counts = Counter((units.get(v.org_unit_id, ""), v.category) for v in visible)
    matrix = {unit: {cat: counts.get((unit, cat), 0) for cat in VIOLATION_TYPES}
              for unit in sorted({unit for unit, _ in counts})}
    return {"rows": rows, "matrix": matrix,
            "awaiting": sum(1 for r in rows if r.circular is None),
            "may_circulate": any(holds_role_at_or_above(session, user, "district_office", v.org_unit_id)
                                 for v in visible) or _holds_anywhere(session, user, "district_office"),
            "units": sorted({(v.org_unit_id, units.get(v.org_unit_id, "")) for v in visible}, key=lambda u: u[0])}


def office_units(session: Session, user) -> list[OrgUnit]:
    """The units whose entries the user, as their office, may record, circulate or act on."""
    return [u for u in session.scalars(select(OrgUnit).order_by(OrgUnit.id))
            if holds_role_at_or_above(session, user, "district_office", u.id)]


def _holds_anywhere(session: Session, user, role: str) -> bool:
    from db.models import RoleGrant

    return session.scalar(select(func.count()).select_from(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == role)) > 0


def _circulate(session: Session, violations: list[Violation], *, document_number: str, text: str, now,
               org_unit_id: int | None, by_id: int | None, instance_id: int | None) -> ViolationCircular:
    circular = ViolationCircular(document_number=document_number, text=text, org_unit_id=org_unit_id,
                                 circulated_by_id=by_id, instance_id=instance_id, circulated_at=now)
    session.add(circular)
    session.flush()
    for violation in violations:
        session.add(ViolationCircularItem(circular_id=circular.id, violation_id=violation.id))
    session.flush()
    return circular


def circulate_violations(rt, actor: Actor, violation_ids: list[int], *, document_number: str, text: str) -> int:
    """PEN-1: the office circulates 通报 register entries of units at or below it in one circular."""
    document_number, text = (document_number or "").strip(), (text or "").strip()
    ids = sorted({int(i) for i in violation_ids or []})
    if not ids or len(ids) > MAX_CIRCULATE:
        raise InvalidInput("请选择要通报的违规事项。", "Choose the entries to circulate.")
    if not document_number or len(document_number) > 100:
        raise InvalidInput("请填写通报文号。", "Give the circular's number.")
    if not text or len(text) > 5000:
        raise InvalidInput("请填写通报内容。", "Write the circular.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        violations = list(session.scalars(select(Violation).where(Violation.id.in_(ids)).with_for_update()))
        if len(violations) != len(ids):
            raise NotFound("所选的违规事项不存在。", "An entry does not exist.")
        for violation in violations:
            if not holds_role_at_or_above(session, user, "district_office", violation.org_unit_id):
                raise Forbidden("违规事项由违规单位上级的政府办公室通报（PEN-1）。",
                                "The office above the unit circulates its entries (PEN-1).")
        done = session.scalar(select(func.count()).select_from(ViolationCircularItem).where(
            ViolationCircularItem.violation_id.in_(ids)))
        if done:
            raise ConflictError("所选事项中有已经通报过的，请刷新后重新选择。", "Some entries were already circulated.")
        now = rt.clock.now()
        circular = _circulate(session, violations, document_number=document_number, text=text, now=now,
                              org_unit_id=user.org_unit_id, by_id=user.id, instance_id=None)
        audit.record(session, now=now, action="violation_circulated", actor=user, role="district_office",
                     client_addr=actor.client_addr, opinion=text,
                     data={"circular_id": circular.id, "document_number": document_number, "violations": ids})
        return circular.id


def _circulate_instance_violations(session: Session, instance: ProcessInstance, values: dict) -> None:
    """A process step that circulates (通报批评) the entries its own instance recorded."""
    from .timers import active_clock

    pending = [v for v in session.scalars(select(Violation).where(Violation.instance_id == instance.id))
               if session.scalar(select(ViolationCircularItem.id).where(ViolationCircularItem.violation_id == v.id))
               is None]
    if pending:
        # Who circulated it is the step's own audit event (the same transaction).
        _circulate(session, pending, document_number=values["document_number"], text=values["text"],
                   now=active_clock().now(), org_unit_id=None, by_id=None, instance_id=instance.id)


register_form(Form("violation_circular", [  # PEN-1 / REV-17
    Field("document_number", "通报文号", "Circular number", 100),
    Field("text", "通报内容", "Circular", 3000, multiline=True),
], apply=_circulate_instance_violations))


def _office_over(session, actor: Actor, unit_id: int, refusal: Forbidden):
    """The acting district office above unit `unit_id`, and the unit; `refusal` for anyone else."""
    user = load_actor(session, actor)
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound("单位不存在。", "The unit does not exist.")
    if not holds_role_at_or_above(session, user, "district_office", unit.id):
        raise refusal
    return user, unit


def record_violation_by_office(rt, actor: Actor, *, unit_id: int, category: str, description: str,
                               asset_id: int | None = None) -> int:
    """PEN-1: the office records what no deadline catches (improper publishing, leaks, fees…)."""
    if category not in VIOLATION_TYPES:
        raise InvalidInput("请选择违规类型（一）至（九）。", "Choose the type (1)–(9).")
    description = (description or "").strip()
    if not description or len(description) > MAX_REASON:
        raise InvalidInput("请写明违规事实。", "Describe what happened.")
    with transaction(rt.session_factory) as session:
        user, unit = _office_over(session, actor, unit_id, Forbidden(
            "违规事项由该单位上级的政府办公室登记（PEN-1）。", "The office above the unit records (PEN-1)."))
        if asset_id:
            asset = session.get(Asset, asset_id)
            if asset is None or asset.org_unit_id != unit.id:
                raise InvalidInput("所选网站或账号不属于该单位。", "The site or account is not the unit's.")
        now = rt.clock.now()
        violation = Violation(asset_id=asset_id or None, org_unit_id=unit.id, instance_id=None, rule="PEN-1",
                              category=category, description=description, recorded_at=now, recorded_by_id=user.id)
        session.add(violation)
        session.flush()
        audit.record(session, now=now, action="violation_recorded", actor=user, role="district_office",
                     client_addr=actor.client_addr, opinion=description,
                     data={"violation_id": violation.id, "unit_id": unit.id, "category": category})
        return violation.id


def start_accountability(rt, actor: Actor, *, unit_id: int, trigger: str, action: str, summary: str,
                         violation_id: int | None = None) -> int:
    """PEN-2: a summons 约谈 on one of its triggers; PEN-1: accountability only for a circulated entry."""
    if trigger not in TRIGGERS:
        raise InvalidInput("请选择约谈问责的事由。", "Choose the trigger.")
    if action not in ACTIONS:
        raise InvalidInput("请选择约谈或问责。", "Choose summons or accountability.")
    summary = (summary or "").strip()
    if not summary or len(summary) > MAX_REASON:
        raise InvalidInput("请写明约谈问责的事由和依据。", "Give the grounds.")
    if action == "accountability" and not violation_id:
        raise InvalidInput("问责须针对已通报的违规登记事项（PEN-1）。",
                           "Accountability needs a circulated register entry (PEN-1).")
    if trigger == "violation" and not violation_id:
        raise InvalidInput("请选择违规登记事项。", "Choose the register entry.")
    with transaction(rt.session_factory) as session:
        user, unit = _office_over(session, actor, unit_id, Forbidden(
            "约谈问责由该单位上级的政府办公室决定（PEN-2）。", "The office above the unit decides (PEN-2)."))
        if violation_id:
            violation = session.get(Violation, violation_id)
            if violation is None or violation.org_unit_id != unit.id:
                raise InvalidInput("所选违规事项不属于该单位。", "The entry is not the unit's.")
            circulated = session.scalar(select(ViolationCircularItem.id).where(
                ViolationCircularItem.violation_id == violation.id))
            if circulated is None:
                raise ConflictError("该违规事项尚未通报：应先通报，再决定约谈或问责（PEN-1）。",
                                    "The entry has not been circulated yet: circulate it first (PEN-1).")
            business_key = f"unit:{unit.id}:accountability:v{violation.id}"
        else:
            if trigger == "failed_evaluation" and session.scalar(select(Evaluation.id).where(
                    Evaluation.org_unit_id == unit.id, Evaluation.grade == "fail").limit(1)) is None:
                raise InvalidInput("该单位没有年度考核不合格的记录（SUP-8）。", "The unit has no failed evaluation (SUP-8).")
            serial = 1 + (session.scalar(select(func.count()).select_from(ProcessInstance).where(
                ProcessInstance.business_key.like(f"unit:{unit.id}:accountability:%"))) or 0)
            business_key = f"unit:{unit.id}:accountability:{serial}"
        return start_in_session(rt, session, ACCOUNTABILITY_PROCESS, actor,
                                title=f"{unit.name}{ACTIONS[action]}（{TRIGGERS[trigger]}）", business_key=business_key,
                                opinion=summary, for_unit_id=unit.id,
                                data={"trigger": trigger, "action": action, "violation_id": violation_id}).id


register_form(Form("summons_record", [  # PEN-2
    Field("persons", "约谈对象", "Persons summoned", 300),
    Field("time_place", "约谈时间和地点", "When and where", 200),
    Field("content", "约谈内容和整改要求", "What was required", 3000, multiline=True),
], apply=lambda session, instance, values: None, requires_attachment=True))
register_form(Form("rectification_after_summons", [  # PEN-2
    Field("measures", "整改措施和结果", "Rectification", 3000, multiline=True),
], apply=lambda session, instance, values: None))
register_form(Form("accountability_decision", [  # PEN-1
    Field("consequences", "造成的严重后果", "The serious consequences", 2000, multiline=True),
    Field("persons", "被问责人员（分管负责人及有关责任人）", "Persons held accountable", 300),
    Field("measures", "问责方式", "Measures", 1000, multiline=True),
    Field("document_number", "问责决定文号", "Decision number", 100),
], apply=lambda session, instance, values: None, requires_attachment=True))
