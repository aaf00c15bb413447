"""Yearly supervision duties (SUP-4, SUP-6, SUP-7) and the annual evaluation (SUP-8).

When a year begins, the periodic duty opens, once per subject and year:
- SUP-4 a special-topic plan filing (1–2 plans) for each content unit of the content
  responsibility table, due at the end of Q1 (policy['topic_plan_due']);
- SUP-7 the 政府信息公开工作年度报告 of each department, due policy['disclosure_report_due'];
- SUP-6 the yearly website satisfaction survey of each district (county) office, due
  policy['satisfaction_survey_due'].
On the duty's first run a year whose due date has passed is skipped (it waits for next year).
A unit may also start its own filing or report; a second one for the same year is refused.

SUP-8: the office starts the year's evaluation for every unit below it; SUP-6: it circulates
inspection results to the leader in charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Asset, Evaluation, OrgUnit, ProcessInstance
from db.session import transaction

from .assignment import holds_role_at_or_above
from .clock import SHANGHAI, to_shanghai
from .commands import Actor, load_actor, start_in_session
from .exceptions import ConflictError, Forbidden, InvalidInput
from .forms import Field, Form, register_form
from .periodic import Duty, register_duty, start_as_system


@dataclass(frozen=True)
class YearlyDuty:
    key: str  # process key, also the business-key word
    due_policy: str
    title: str  # "{unit}{year}年…", `year` being the year the duty covers
    rule: str
    covers_previous_year: bool = False  # a report due early in a year covers the year before

    def titled(self, unit: str, due_year: int) -> str:
        return self.title.format(unit=unit, year=due_year - 1 if self.covers_previous_year else due_year)


YEARLY = {
    "topic_plan": YearlyDuty("topic_plan", "topic_plan_due", "{unit}{year}年专题制作计划报送", "SUP-4"),
    "disclosure_report": YearlyDuty("disclosure_report", "disclosure_report_due",
                                    "{unit}{year}年度政府信息公开工作年度报告", "SUP-7", covers_previous_year=True),
    "satisfaction_survey": YearlyDuty("satisfaction_survey", "satisfaction_survey_due", "{unit}{year}年网站满意度调查",
                                      "SUP-6"),
}


def year_bounds(now: datetime) -> tuple[datetime, datetime]:
    year = to_shanghai(now).year
    return datetime(year, 1, 1, tzinfo=SHANGHAI), datetime(year + 1, 1, 1, tzinfo=SHANGHAI)


def due_day(values: dict, duty: YearlyDuty, year: int) -> date:
    month_day = values[duty.due_policy]
    return date(year, int(month_day[:2]), int(month_day[3:]))


def content_units(session: Session) -> list[int]:
    """SUP-4: the units named as owners in the content responsibility table (SUP-5)."""
    owners = set()
    for asset in session.scalars(select(Asset).where(Asset.kind.in_(("column", "sub_homepage")),
                                                     Asset.state == "online")):
        entry = (asset.attributes or {}).get("responsibility")
        if entry:
            owners.add(int(entry["owner_unit_id"]))
    return sorted(owners)


def _subject_units(session: Session, key: str) -> list[int]:
    if key == "topic_plan":
        return content_units(session)
    level = "district" if key == "satisfaction_survey" else "unit"  # SUP-6 per office; SUP-7 per department
    return list(session.scalars(select(OrgUnit.id).where(OrgUnit.level == level).order_by(OrgUnit.id)))


def _business_key(unit_id: int, key: str, year: int) -> str:
    return f"unit:{unit_id}:{key}:{year}"


def _already(session: Session, business_key: str) -> ProcessInstance | None:
    return session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key,
                                                        ProcessInstance.status != "cancelled").limit(1))


def _register(duty: YearlyDuty) -> Duty:
    def baseline(rt, start, end, now) -> bool:
        # First run: this year's duty still opens if its due date is ahead; otherwise next year's will.
        return to_shanghai(now).date() > due_day(rt.policy.values, duty, to_shanghai(start).year)

    def subjects(rt, session, start, end):
        return [f"unit:{unit_id}" for unit_id in _subject_units(session, duty.key)]

    def act(rt, session, item) -> None:
        unit = session.get(OrgUnit, int(item.subject.partition(":")[2]))
        year = to_shanghai(item.period_start).year
        item.org_unit_id = unit.id
        business_key = _business_key(unit.id, duty.key, year)
        existing = _already(session, business_key)
        if existing is not None:  # the unit started it itself
            item.instance_id = existing.id
            return
        item.instance_id = start_as_system(rt, session, duty.key, title=duty.titled(unit.name, year),
                                           business_key=business_key, unit_id=unit.id, data={"year": year},
                                           opinion=f"{duty.rule}：年度工作").id

    return register_duty(Duty(kind=f"yearly:{duty.key}", period=lambda rt, now: year_bounds(now), baseline=baseline,
                              subjects=subjects, act=act))


for _duty in YEARLY.values():
    _register(_duty)


def start_yearly_duty(rt, actor: Actor, key: str) -> int:
    """SUP-4/SUP-6/SUP-7: a unit starts its topic plans, survey or disclosure report itself, once per due
    date: this year's while its due date is ahead, else next year's (filed early)."""
    if key not in YEARLY:
        raise InvalidInput("未知的年度事项。", "Unknown yearly duty.")
    duty = YEARLY[key]
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        unit = session.get(OrgUnit, user.org_unit_id)
        today = to_shanghai(rt.clock.now()).date()
        year = today.year if today <= due_day(rt.policy.values, duty, today.year) else today.year + 1
        business_key = _business_key(unit.id, key, year)
        if _already(session, business_key) is not None:
            raise ConflictError(f"“{duty.titled(unit.name, year)}”已经在办理或已办结（{duty.rule}）。",
                                f"{unit.name} already has this duty for {year} ({duty.rule}).")
        return start_in_session(rt, session, key, actor, title=duty.titled(unit.name, year),
                                business_key=business_key, data={"year": year}).id


register_form(Form("topic_plan", [  # SUP-4: one or two plans
    Field("topic1", "专题一名称", "Topic 1", 100),
    Field("plan1", "专题一制作计划（内容、时间安排、线上线下联动）", "Plan of topic 1", 2000, multiline=True),
    Field("topic2", "专题二名称（可选）", "Topic 2 (optional)", 100, required=False),
    Field("plan2", "专题二制作计划（可选）", "Plan of topic 2 (optional)", 2000, multiline=True, required=False),
], apply=lambda session, instance, values: _check_second_topic(values)))


def _check_second_topic(values: dict) -> None:
    if bool(values["topic2"]) != bool(values["plan2"]):
        raise InvalidInput("第二个专题请同时填写名称和制作计划，或都不填。", "Give both the name and the plan of topic 2, or neither.")


register_form(Form("satisfaction_survey", [  # SUP-6
    Field("method", "调查方式", "Method", 300),
    Field("respondents", "参与人数", "Respondents", 20),
    Field("satisfaction", "满意度", "Satisfaction", 50),
    Field("opinions", "主要意见建议", "Main opinions", 3000, multiline=True),
], apply=lambda session, instance, values: None))
register_form(Form("publication", [
    Field("where", "公开位置（网址或栏目）", "Where it is published", 300),
], apply=lambda session, instance, values: None))
register_form(Form("disclosure_report", [  # SUP-7
    Field("summary", "年度报告要点", "Summary of the report", 3000, multiline=True),
], apply=lambda session, instance, values: None, requires_attachment=True))
register_form(Form("leader_reading", [  # SUP-6
    Field("leader", "分管领导", "Leader in charge", 50),
    Field("instruction", "领导批示", "Instructions", 2000, multiline=True),
], apply=lambda session, instance, values: None))
register_form(Form("inspection_circular", [  # SUP-6
    Field("document_number", "通报文号", "Circular number", 100),
    Field("summary", "通报内容", "Circular", 3000, multiline=True),
], apply=lambda session, instance, values: None, requires_attachment=True))


INSPECTION_PROCESS = "inspection_circular"


def start_inspection_circular(rt, actor: Actor, *, period: str, findings: str) -> int:
    """SUP-6: the office circulates inspection results, first to the leader in charge."""
    period, findings = (period or "").strip(), (findings or "").strip()
    if not period or len(period) > 100:
        raise InvalidInput("请填写督查期间，例如 2026 年第三季度。", "Give the inspection period.")
    if not findings or len(findings) > 5000:
        raise InvalidInput("请填写督查发现的主要问题。", "Give the findings.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        serial = 1 + (session.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.business_key.like(f"unit:{user.org_unit_id}:inspection:%"))) or 0)
        return start_in_session(rt, session, INSPECTION_PROCESS, actor, title=f"{period}督查结果通报",
                                business_key=f"unit:{user.org_unit_id}:inspection:{serial}", opinion=findings,
                                data={"period": period}).id


# -- SUP-8 ------------------------------------------------------------------------------------

EVALUATION_PROCESS = "annual_evaluation"


def start_evaluations(rt, actor: Actor, *, year: int) -> list[int]:
    """SUP-8: the office starts `year`'s evaluation of every unit below it (each unit once a year)."""
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= to_shanghai(rt.clock.now()).year:
        raise InvalidInput("请选择已经开始的考评年度。", "Choose a year that has begun.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        if not holds_role_at_or_above(session, user, "district_office", user.org_unit_id):
            raise Forbidden("年度考评由政府办公室组织（SUP-8）。", "The office runs the evaluation (SUP-8).")
        units = [u for u in session.scalars(select(OrgUnit).where(OrgUnit.parent_id == user.org_unit_id)
                                            .order_by(OrgUnit.id))]
        done = set(session.scalars(select(Evaluation.org_unit_id).where(Evaluation.year == year)))
        todo = [u for u in units if u.id not in done]
        if not todo:
            raise ConflictError(f"{year} 年度考评已经对下属各单位发起（SUP-8）。",
                                f"The {year} evaluation has already started for every unit (SUP-8).")
        started = []
        for unit in todo:
            row = start_in_session(rt, session, EVALUATION_PROCESS, actor, title=f"{unit.name}{year}年度绩效评估",
                                   business_key=f"unit:{unit.id}:evaluation:{year}", data={"year": year},
                                   for_unit_id=unit.id)
            session.add(Evaluation(year=year, org_unit_id=unit.id, instance_id=row.id, started_at=rt.clock.now()))
            started.append(row.id)
        return started


def _evaluation(session: Session, instance: ProcessInstance) -> Evaluation:
    return session.scalar(select(Evaluation).where(Evaluation.instance_id == instance.id))


def _apply_result(session: Session, instance: ProcessInstance, values: dict) -> None:
    try:
        score = int(values["score"])
    except ValueError:
        raise InvalidInput("考评得分应为 0 至 100 的整数。", "The score is a whole number from 0 to 100.") from None
    if not 0 <= score <= 100:
        raise InvalidInput("考评得分应为 0 至 100 的整数。", "The score is a whole number from 0 to 100.")
    evaluation = _evaluation(session, instance)
    evaluation.score, evaluation.basis = score, values["basis"]


def _keep_circular(kind: str):
    def apply(session: Session, instance: ProcessInstance, values: dict) -> None:
        _evaluation(session, instance).circular = {"kind": kind, **values}
    return apply


register_form(Form("self_assessment", [  # SUP-8
    Field("summary", "自评报告", "Self-assessment", 5000, multiline=True),
], apply=lambda session, instance, values: None))
register_form(Form("evaluation_result", [  # SUP-8
    Field("score", "考评得分（0—100）", "Score (0–100)", 3),
    Field("basis", "评定依据（第三方测评、自评报告、日常抽查、媒体报道等）", "Basis of the grade", 3000, multiline=True),
], apply=_apply_result))
CIRCULAR_FIELDS = [Field("document_number", "通报文号", "Circular number", 100),
                   Field("text", "通报内容", "Circular", 3000, multiline=True)]
register_form(Form("commendation", CIRCULAR_FIELDS, apply=_keep_circular("commendation")))
register_form(Form("evaluation_circular", CIRCULAR_FIELDS, apply=_keep_circular("criticism")))


def evaluations(session: Session, user, year: int | None = None) -> list[tuple[Evaluation, str]]:
    """SUP-8: results the user may see (their unit's, or every unit under their office), for 绩效考核."""
    query = select(Evaluation, OrgUnit.name).join(OrgUnit, OrgUnit.id == Evaluation.org_unit_id)
    if year is not None:
        query = query.where(Evaluation.year == year)
    return [(e, name) for e, name in session.execute(query.order_by(Evaluation.year.desc(), Evaluation.org_unit_id))
            if e.org_unit_id == user.org_unit_id or holds_role_at_or_above(session, user, "district_office",
                                                                            e.org_unit_id)
            or holds_role_at_or_above(session, user, "auditor", e.org_unit_id)]
