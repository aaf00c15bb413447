"""SUP-1 and SUP-2 as scheduled processes: the annual report and the quarterly inspection.

SUP-1: on 1 January each district office (or the unit the policy profile names,
`annual_report_owner`) gets a task to compile last year's 年度工作报表 from the figures the
report module computes from the audit trail, and to publish it by 31 January; late is a
violation. SUP-2: each quarter the district office inspects every site and account of its
units, recording each asset checked and any problem found; the city office reviews the results
and the district publishes them.

Nothing in BPMN starts a process on a date by itself here, so two periodic duties
(engine/periodic.py, run by Celery beat and by `govflow sweep`) open each instance once per
period and district, with business keys `annual_report:<district>:<year>` and
`quarterly_inspection:<district>:<year>-Q<n>`.
The start is the system's (the trail says 系统); the instance's nominal starter is the
accountable holder of the compiling role.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Asset, AuditEvent, HumanTask, OrgUnit, ProcessInstance, RoleGrant, User, Violation
from db.session import transaction
from handlers.registry import HandlerContext, handler

from . import audit
from .assignment import may_work, resolve_scope
from .clock import to_shanghai
from .commands import Actor, latest_definition, load_actor, start_instance
from .duties import check_separation_of_duties
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound
from .forms import Field, Form, register_form
from .monitoring import period_bounds
from .periodic import Duty, register_duty, run_duty
from .reports import annual_report, load_events, quarter_of, year_bounds

log = logging.getLogger(__name__)

ANNUAL = "annual_report"
QUARTERLY = "quarterly_inspection"
# What SUP-2 covers: every site and account (000 §33) in a state where it can be looked at.
INSPECTED_KINDS = ("website", "new_media", "app")
INSPECTED_STATES = ("online", "offline", "closing")
CHECK_RESULTS = {"ok": "未发现问题", "problem": "发现问题"}


def subtree(session: Session, unit_id: int) -> set[int]:
    """`unit_id` and every unit below it."""
    children: dict[int | None, list[int]] = {}
    for ident, parent in session.execute(select(OrgUnit.id, OrgUnit.parent_id)):
        children.setdefault(parent, []).append(ident)
    found, stack = set(), [unit_id]
    while stack:
        ident = stack.pop()
        if ident not in found:
            found.add(ident)
            stack.extend(children.get(ident, []))
    return found


def inspection_scope(session: Session, district_id: int) -> list[Asset]:
    """SUP-2: the sites and accounts of the district and its units, as they stand now."""
    return list(session.scalars(select(Asset).where(Asset.org_unit_id.in_(subtree(session, district_id)),
                                                    Asset.kind.in_(INSPECTED_KINDS),
                                                    Asset.state.in_(INSPECTED_STATES)).order_by(Asset.id)))


# --- starting on the calendar ------------------------------------------------------------

def _districts(session: Session) -> list[int]:
    return list(session.scalars(select(OrgUnit.id).where(OrgUnit.level == "district").order_by(OrgUnit.id)))


def _district(item) -> int:
    return int(item.subject.partition(":")[2])


def _annual_act(rt, session: Session, item) -> None:
    item.org_unit_id = _district(item)
    item.instance_id = _open_annual(rt, session, item.org_unit_id, to_shanghai(item.period_start).year - 1)


def _quarterly_act(rt, session: Session, item) -> None:
    start = to_shanghai(item.period_start).date()
    item.org_unit_id = _district(item)
    item.instance_id = _open_quarterly(rt, session, item.org_unit_id, start.year, quarter_of(start))


# Opened by the periodic duties (engine/periodic.py: once per period and district, however many
# runners race, a failure kept on the run and retried). SUP-1 opens in January only.
ANNUAL_DUTY = register_duty(Duty(
    kind=ANNUAL, period=lambda rt, now: year_bounds(to_shanghai(now).year), baseline=lambda *_args: False,
    subjects=lambda rt, session, start, end: ([f"unit:{d}" for d in _districts(session)]
                                              if to_shanghai(rt.clock.now()).month == 1 else []),
    act=_annual_act))
QUARTERLY_DUTY = register_duty(Duty(
    kind=QUARTERLY, period=lambda rt, now: period_bounds("quarter", now), baseline=lambda *_args: False,
    subjects=lambda rt, session, start, end: [f"unit:{d}" for d in _districts(session)], act=_quarterly_act))


def open_due_supervision(rt) -> int:
    """Open this year's SUP-1 instance (in January) and this quarter's SUP-2 instance per district,
    unless they exist; returns how many were opened. Idempotent (the periodic runner runs it too)."""
    return run_duty(rt, ANNUAL_DUTY) + run_duty(rt, QUARTERLY_DUTY)


def _started(session: Session, business_key: str) -> int | None:
    return session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == business_key).limit(1))


def _nominal_starter(session: Session, role: str, unit_id: int) -> int | None:
    """The accountable holder of `role` for the unit (else an administrator there or above)."""
    for wanted in (role, "admin"):
        scope = resolve_scope(session, wanted, unit_id)
        if scope is not None:
            return session.scalar(select(User.id).join(RoleGrant, RoleGrant.user_id == User.id)
                                  .where(RoleGrant.role == wanted, RoleGrant.org_unit_id == scope,
                                         User.active.is_(True)).order_by(User.id).limit(1))
    return None


def _open_annual(rt, session: Session, district_id: int, year: int) -> int | None:
    """The district's SUP-1 instance for `year` (opened now unless it exists); None if nobody can compile it."""
    key = f"{ANNUAL}:{district_id}:{year}"
    existing = _started(session, key)
    if existing is not None:
        return existing
    unit = session.get(OrgUnit, district_id)
    owner = rt.policy.values["annual_report_owner"]
    starter = _nominal_starter(session, owner, district_id)
    if starter is None:
        log.warning("SUP-1: nobody holds %s for %s; the %s annual report was not opened", owner, unit.name, year)
        return None
    return start_scheduled(rt, session, ANNUAL, unit_id=district_id, starter_id=starter, business_key=key,
                           title=f"{unit.name}{year}年度政府网站工作报表", data={"report_year": year},
                           event_data={"trigger": "SUP-1", "district_id": district_id, "year": year}).id


def _open_quarterly(rt, session: Session, district_id: int, year: int, quarter: int) -> int | None:
    """The district's SUP-2 instance for the quarter (opened now unless it exists); None without an office."""
    key = f"{QUARTERLY}:{district_id}:{year}-Q{quarter}"
    existing = _started(session, key)
    if existing is not None:
        return existing
    unit = session.get(OrgUnit, district_id)
    starter = _nominal_starter(session, "district_office", district_id)
    if starter is None:
        log.warning("SUP-2: no district office for %s; the %s Q%s inspection was not opened", unit.name, year, quarter)
        return None
    scope = [{"asset_id": a.id, "name": a.name, "kind": a.kind, "unit_id": a.org_unit_id}
             for a in inspection_scope(session, district_id)]
    return start_scheduled(rt, session, QUARTERLY, unit_id=district_id, starter_id=starter, business_key=key,
                           title=f"{unit.name}{year}年第{quarter}季度政府网站和政务新媒体检查",
                           data={"year": year, "quarter": quarter},
                           event_data={"trigger": "SUP-2", "district_id": district_id, "year": year,
                                       "quarter": quarter, "scope": scope}).id


def start_scheduled(rt, session: Session, key: str, *, unit_id: int, starter_id: int, business_key: str,
                    title: str, data: dict, event_data: dict):
    """Start `key` on the calendar's behalf, in the caller's transaction; the trail names 系统."""
    return start_instance(rt, session, latest_definition(rt, session, key), title=title, business_key=business_key,
                          unit_id=unit_id, started_by_id=starter_id, data=data, audit_data=event_data)


# --- SUP-1 --------------------------------------------------------------------------------

def _key_parts(business_key: str) -> tuple[int, str]:
    _, district, period = business_key.split(":", 2)
    return int(district), period


def annual_figures(session: Session, district_id: int, year: int, now: datetime) -> dict:
    """SUP-1 figures of a district's year, computed from the audit trail (engine/reports.py)."""
    start, end = year_bounds(year)
    report = annual_report(load_events(session, start, None), year, subtree(session, district_id), now)
    return {"year": year, "published_total": report.published_total,
            "published_by_column": dict(report.published_by_column),
            "messages_received": report.messages_received, "messages_handled": report.messages_handled,
            "messages_on_time": report.messages_on_time, "openings": len(report.openings),
            "closures": len(report.closures), "offline_periods": len(report.offline_periods),
            "violations": sum(n for _, n in report.violations_by_rule)}


@handler("compile_annual_figures")
def compile_annual_figures(params: dict, ctx: HandlerContext) -> dict:
    """SUP-1: the report's figures, from the trail; recorded with this step's audit event."""
    district_id, year = _key_parts(ctx.business_key)
    return annual_figures(ctx.session, district_id, int(year), ctx.now)


@handler("record_supervision_violation")
def record_supervision_violation(params: dict, ctx: HandlerContext) -> dict:
    """PEN-1 entry against the supervising unit itself (a late SUP-1 report, a late SUP-2 inspection)."""
    row = ctx.session.get(ProcessInstance, ctx.instance_id)
    violation = Violation(asset_id=None, org_unit_id=row.org_unit_id, instance_id=row.id, rule=params["rule"],
                          category=params["category"], description=params["description"], recorded_at=ctx.now)
    ctx.session.add(violation)
    ctx.session.flush()
    return {"violation_id": violation.id}


def _summary_prefill(session: Session, instance: ProcessInstance) -> dict:
    district_id, year = _key_parts(instance.business_key)
    figures = annual_figures(session, district_id, int(year), instance.started_at)
    columns = "、".join(f"{name} {n} 条" for name, n in figures["published_by_column"].items()) or "无"
    rate = (f"{figures['messages_on_time'] / figures['messages_handled']:.0%}" if figures["messages_handled"] else "—")
    return {"summary": (f"{year}年共发布信息 {figures['published_total']} 条（{columns}）；受理网民留言 "
                        f"{figures['messages_received']} 件，办结 {figures['messages_handled']} 件，按时办结率 {rate}；"
                        f"新开设网站和账号 {figures['openings']} 个，关停 {figures['closures']} 个，"
                        f"临时下线 {figures['offline_periods']} 次；登记违规 {figures['violations']} 起。")}


register_form(Form("annual_report_publication", [
    Field("summary", "报表内容摘要（已按审计记录预填，可补充）", "Summary (prefilled from the audit trail)", 4000,
          multiline=True),
    Field("published_url", "公开网址（门户网站首页）", "Where it is published (portal homepage)", 300),
    Field("national_reference", "全国政府网站信息报送系统填报情况", "Filed in the national reporting system", 200,
          required=False),
], apply=lambda session, instance, values: None, prefill=_summary_prefill))


# --- SUP-2 --------------------------------------------------------------------------------

def _checked(session: Session, instance_id: int) -> dict[int, dict]:
    """asset id → the latest inspection record of this instance."""
    found: dict[int, dict] = {}
    for data in session.scalars(select(AuditEvent.data).where(AuditEvent.instance_id == instance_id,
                                                              AuditEvent.action == "inspection_check")
                                .order_by(AuditEvent.id)):
        found[data["asset_id"]] = data
    return found


def _start_scope(session: Session, instance_id: int) -> list[dict]:
    data = session.scalar(select(AuditEvent.data).where(AuditEvent.instance_id == instance_id,
                                                        AuditEvent.action == "start").limit(1)) or {}
    return list(data.get("scope") or [])


def inspection_sheet(session: Session, instance: ProcessInstance) -> list[dict]:
    """Every asset the inspection must cover (the scope at the start plus any asset since) and its record."""
    checked = _checked(session, instance.id)
    sheet = {a["asset_id"]: {**a, "record": checked.get(a["asset_id"])} for a in _start_scope(session, instance.id)}
    for asset in inspection_scope(session, instance.org_unit_id):
        sheet.setdefault(asset.id, {"asset_id": asset.id, "name": asset.name, "kind": asset.kind,
                                    "unit_id": asset.org_unit_id, "record": checked.get(asset.id)})
    return sorted(sheet.values(), key=lambda a: a["asset_id"])


def _require_full_coverage(session: Session, instance: ProcessInstance, values: dict) -> None:
    """SUP-2: the inspection is finished only when every site and account has a record."""
    missing = [a["name"] for a in inspection_sheet(session, instance) if a["record"] is None]
    if missing:
        shown = "、".join(missing[:10]) + ("等" if len(missing) > 10 else "")
        raise InvalidInput(f"季度检查须覆盖全部网站和账号（SUP-2），尚有 {len(missing)} 个未记录检查结果：{shown}。",
                           f"The quarterly inspection must cover every site and account (SUP-2); "
                           f"{len(missing)} have no record yet.")


register_form(Form("quarterly_inspection_summary", [
    Field("summary", "检查总体情况", "Overall findings", 4000, multiline=True),
], apply=_require_full_coverage))
register_form(Form("inspection_publication", [
    Field("published_url", "检查结果公开网址", "Where the results are published", 300),
    Field("circulated", "严重问题通报情况", "How serious problems were circulated", 2000, multiline=True, required=False),
], apply=lambda session, instance, values: None))


def record_inspection_check(rt, actor: Actor, instance_id: int, asset_id: int, *, result: str, problem: str = "") -> None:
    """SUP-2: record that one asset was checked (and the problem found, if any) on the open inspection."""
    problem = (problem or "").strip()
    if result not in CHECK_RESULTS:
        raise InvalidInput("请选择检查结果：未发现问题或发现问题。", "Choose the result: no problem or problem found.")
    if result == "problem" and not problem:
        raise InvalidInput("发现问题时请写明问题。", "Describe the problem found.")
    if len(problem) > 2000:
        raise InvalidInput("问题描述不能超过 2000 个字。", "The problem may not exceed 2000 characters.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        instance = session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update())
        if instance is None or instance.business_key.partition(":")[0] != QUARTERLY:
            raise NotFound(f"季度检查 {instance_id} 不存在。", f"Inspection {instance_id} does not exist.")
        task = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.bpmn_id == "inspect",
                                                      HumanTask.state == "ready"))
        if task is None:
            raise ConflictError("此季度检查已提交，不能再记录检查结果。", "This inspection has been submitted already.")
        if not may_work(session, user, task):
            raise Forbidden("只有承担本次检查的区政府办公室人员可以记录检查结果。",
                            "Only the district office running this inspection may record results.")
        check_separation_of_duties(session, instance_id, user, task.role)
        entry = next((a for a in inspection_sheet(session, instance) if a["asset_id"] == asset_id), None)
        if entry is None:
            raise InvalidInput("该网站或账号不在本次检查范围内。", "That site or account is not in this inspection.")
        audit.record(session, now=rt.clock.now(), action="inspection_check", actor=user, role=task.role,
                     instance_id=instance_id, task=task, opinion=problem or None, client_addr=actor.client_addr,
                     data={"asset_id": asset_id, "asset_name": entry["name"], "asset_kind": entry["kind"],
                           "asset_unit_id": entry["unit_id"], "result": result, "problem": problem})


def open_demo_supervision(rt) -> int:
    """For the demo: last year's annual report and this quarter's inspection, whatever the month."""
    now = to_shanghai(rt.clock.now())
    opened = 0
    with transaction(rt.session_factory) as session:
        for district in _districts(session):
            opened += _open_annual(rt, session, district, now.year - 1) is not None
            opened += _open_quarterly(rt, session, district, now.year, quarter_of(now.date())) is not None
    return opened
