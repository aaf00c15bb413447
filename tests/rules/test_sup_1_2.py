"""SUP-1 (annual report by 31 January) and SUP-2 (quarterly inspection of every site and account),
driven by the injected clock: the scheduled starter opens each instance once, deadlines fire."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from db.models import AuditEvent, HumanTask, OrgUnit, ProcessInstance, Violation
from db.session import reading
from engine import ConflictError, Forbidden, InvalidInput, complete_task
from engine.clock import SHANGHAI
from engine.policy import load_policy
from engine.reports import inspection_coverage, load_events
from engine.supervision import inspection_sheet, open_due_supervision, record_inspection_check
from engine.sweep import sweep
from tests.helpers import submit, task_id


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI) if "+" not in text else datetime.fromisoformat(text)


def _district(rt) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(OrgUnit.id).where(OrgUnit.name == "某区"))


def _instance(rt, business_key: str) -> ProcessInstance:
    with reading(rt.session_factory) as session:
        return session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key))


def _open_tasks(rt, instance_id: int) -> dict[str, HumanTask]:
    with reading(rt.session_factory) as session:
        return {t.bpmn_id: t for t in session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.state == "ready"))}


def _violations(rt, rule: str) -> list[Violation]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(Violation).where(Violation.rule == rule)))


def _publish(rt, users, kind: str, column: str) -> int:
    iid = submit(rt, users["zhangsan"], kind=kind, title=f"{column}稿件")
    with reading(rt.session_factory) as session:  # the column the item goes to
        from db.models import ContentItem

        item_id = int(session.get(ProcessInstance, iid).business_key.split(":")[1])
    from db.session import transaction

    with transaction(rt.session_factory) as session:
        session.get(ContentItem, item_id).target_name = column
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    if kind == "portal_column":
        complete_task(rt, task_id(rt, iid, "egov_review"), users["sunqi"], outcome="pass")
    return iid


def test_sup_1_on_1_january_each_district_gets_last_years_report_task_once(rt, users, clock):
    clock.set(_at("2026-01-01T00:05:00"))
    assert open_due_supervision(rt) == 2  # SUP-1 for 2025 and SUP-2 for 2026 Q1, one district
    assert open_due_supervision(rt) == 0
    row = _instance(rt, f"annual_report:{_district(rt)}:2025")
    tasks = _open_tasks(rt, row.id)
    assert set(tasks) == {"compile_office"} and tasks["compile_office"].role == "district_office"
    assert tasks["compile_office"].due_at == _at("2026-01-31T23:59:59")
    with reading(rt.session_factory) as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == row.id).order_by(AuditEvent.id)))
    assert (events[0].action, events[0].actor_name, events[0].data["trigger"]) == ("start", "系统", "SUP-1")
    figures = next(e for e in events if e.action == "service_task")
    assert figures.data["handler"] == "compile_annual_figures" and figures.data["result"]["year"] == 2025


def test_sup_1_no_annual_report_is_opened_outside_january(sqlite_rt, clock):
    clock.set(_at("2026-02-01T09:00:00"))
    open_due_supervision(sqlite_rt)
    assert _instance(sqlite_rt, f"annual_report:{_district(sqlite_rt)}:2025") is None


def test_sup_1_the_figures_are_last_years_publications_per_column_from_the_trail(sqlite_rt, sqlite_users, clock):
    clock.set(_at("2025-06-02T10:00:00"))
    _publish(sqlite_rt, sqlite_users, "wechat", "区教育发布")
    _publish(sqlite_rt, sqlite_users, "wechat", "区教育发布")
    _publish(sqlite_rt, sqlite_users, "portal_column", "通知公告")
    clock.set(_at("2026-01-01T08:00:00"))
    _publish(sqlite_rt, sqlite_users, "wechat", "区教育发布")  # this year's: not in last year's report
    clock.set(_at("2026-01-02T09:00:00"))
    open_due_supervision(sqlite_rt)
    row = _instance(sqlite_rt, f"annual_report:{_district(sqlite_rt)}:2025")
    with reading(sqlite_rt.session_factory) as session:
        figures = session.scalar(select(AuditEvent.data).where(AuditEvent.instance_id == row.id,
                                                               AuditEvent.action == "service_task"))["result"]
        from engine.forms import FORMS

        prefilled = FORMS["annual_report_publication"].prefill(session, session.get(ProcessInstance, row.id))
    assert figures["published_total"] == 3
    assert figures["published_by_column"] == {"本单位微信公众号：区教育发布": 2, "门户网站栏目：通知公告": 1}
    assert "共发布信息 3 条" in prefilled["summary"]


def test_sup_1_the_compiler_is_the_profile_value(sqlite_rt, sqlite_users, clock):
    sqlite_rt.policy = load_policy("fujin")  # 002: 市营商局, the egov centre's role
    clock.set(_at("2026-01-01T00:05:00"))
    open_due_supervision(sqlite_rt)
    row = _instance(sqlite_rt, f"annual_report:{_district(sqlite_rt)}:2025")
    assert set(_open_tasks(sqlite_rt, row.id)) == {"compile_egov"}


def test_sup_1_publishing_by_31_january_completes_the_report(rt, users, clock):
    clock.set(_at("2026-01-01T00:05:00"))
    open_due_supervision(rt)
    row = _instance(rt, f"annual_report:{_district(rt)}:2025")
    clock.set(_at("2026-01-20T10:00:00"))
    with pytest.raises(InvalidInput, match="公开网址"):
        complete_task(rt, _open_tasks(rt, row.id)["compile_office"].id, users["zhouba"], outcome="done",
                      form={"summary": "2025年共发布信息……"})
    complete_task(rt, _open_tasks(rt, row.id)["compile_office"].id, users["zhouba"], outcome="done",
                  form={"summary": "2025年共发布信息……", "published_url": "http://www.mouqu.gov.cn/2025nb"})
    assert _instance(rt, row.business_key).status == "completed"
    clock.set(_at("2026-02-02T10:00:00"))
    sweep(rt)
    assert _violations(rt, "SUP-1") == []


def test_sup_1_a_report_not_public_by_31_january_is_a_violation(rt, users, clock):
    clock.set(_at("2026-01-01T00:05:00"))
    open_due_supervision(rt)
    row = _instance(rt, f"annual_report:{_district(rt)}:2025")
    clock.set(_at("2026-01-31T23:59:00"))
    sweep(rt)
    assert _violations(rt, "SUP-1") == []
    clock.set(_at("2026-02-01T00:00:10"))
    sweep(rt)
    (violation,) = _violations(rt, "SUP-1")
    assert violation.org_unit_id == _district(rt) and violation.category == "2" and violation.asset_id is None
    assert "compile_office" in _open_tasks(rt, row.id)  # still to be done, now late
    complete_task(rt, _open_tasks(rt, row.id)["compile_office"].id, users["zhouba"], outcome="done",
                  form={"summary": "补充公开", "published_url": "http://www.mouqu.gov.cn/2025nb"})
    assert _instance(rt, row.business_key).status == "completed"


def _open_q2(rt, clock) -> ProcessInstance:
    clock.set(_at("2026-04-01T00:05:00"))
    assert open_due_supervision(rt) == 1
    return _instance(rt, f"quarterly_inspection:{_district(rt)}:2026-Q2")


def test_sup_2_each_quarter_the_district_office_inspects_every_site_and_account(rt, users, clock):
    row = _open_q2(rt, clock)
    with reading(rt.session_factory) as session:
        sheet = inspection_sheet(session, session.get(ProcessInstance, row.id))
    names = [a["name"] for a in sheet]
    assert names == ["某区人民政府门户网站", "区教育发布", "某区教育", "某街道发布"]
    inspect = _open_tasks(rt, row.id)["inspect"]
    assert inspect.due_at == _at("2026-06-30T23:59:59")
    officer = users["zhouba"]
    record_inspection_check(rt, officer, row.id, sheet[0]["asset_id"], result="ok")
    with pytest.raises(InvalidInput, match="尚有 3 个未记录.*区教育发布"):
        complete_task(rt, inspect.id, officer, outcome="done", form={"summary": "总体良好"})
    record_inspection_check(rt, officer, row.id, sheet[1]["asset_id"], result="problem", problem="栏目两周未更新")
    for asset in sheet[2:]:
        record_inspection_check(rt, officer, row.id, asset["asset_id"], result="ok")
    complete_task(rt, inspect.id, officer, outcome="done", form={"summary": "总体良好，1 个账号更新不及时"})
    review = _open_tasks(rt, row.id)["city_review"]
    complete_task(rt, review.id, users["wujiu"], outcome="pass", opinion="已阅")
    complete_task(rt, _open_tasks(rt, row.id)["publish_results"].id, officer, outcome="done",
                  form={"published_url": "http://www.mouqu.gov.cn/jc/2026q2", "circulated": ""})
    assert _instance(rt, row.business_key).status == "completed"
    with reading(rt.session_factory) as session:
        coverage = inspection_coverage(load_events(session), 2026, [_district(rt)])
    q2 = coverage[1]
    assert (q2.scope, q2.checked, q2.coverage, q2.problems, q2.late) == (4, 4, 1.0, 1, False)
    assert q2.problem_list == [("区教育发布", "栏目两周未更新")]
    assert q2.reported_at is not None and q2.published_url.endswith("2026q2")


def test_sup_2_only_the_inspecting_office_records_and_a_problem_needs_words(sqlite_rt, sqlite_users, clock):
    row = _open_q2(sqlite_rt, clock)
    with reading(sqlite_rt.session_factory) as session:
        first = inspection_sheet(session, session.get(ProcessInstance, row.id))[0]["asset_id"]
    with pytest.raises(Forbidden):
        record_inspection_check(sqlite_rt, sqlite_users["zhangsan"], row.id, first, result="ok")
    with pytest.raises(InvalidInput, match="写明问题"):
        record_inspection_check(sqlite_rt, sqlite_users["zhouba"], row.id, first, result="problem")
    with pytest.raises(InvalidInput, match="不在本次检查范围"):
        record_inspection_check(sqlite_rt, sqlite_users["zhouba"], row.id, 99999, result="ok")
    with reading(sqlite_rt.session_factory) as session:
        assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "inspection_check")).all()


def test_sup_2_a_submitted_inspection_takes_no_more_records(sqlite_rt, sqlite_users, clock):
    row = _open_q2(sqlite_rt, clock)
    with reading(sqlite_rt.session_factory) as session:
        sheet = inspection_sheet(session, session.get(ProcessInstance, row.id))
    for asset in sheet:
        record_inspection_check(sqlite_rt, sqlite_users["zhouba"], row.id, asset["asset_id"], result="ok")
    complete_task(sqlite_rt, _open_tasks(sqlite_rt, row.id)["inspect"].id, sqlite_users["zhouba"], outcome="done",
                  form={"summary": "良好"})
    with pytest.raises(ConflictError, match="已提交"):
        record_inspection_check(sqlite_rt, sqlite_users["zhouba"], row.id, sheet[0]["asset_id"], result="ok")


def test_sup_2_an_inspection_not_finished_within_the_quarter_is_a_violation(sqlite_rt, clock):
    row = _open_q2(sqlite_rt, clock)
    clock.set(_at("2026-07-01T00:00:10"))
    sweep(sqlite_rt)
    (violation,) = _violations(sqlite_rt, "SUP-2")
    assert violation.instance_id == row.id
    with reading(sqlite_rt.session_factory) as session:
        q2 = inspection_coverage(load_events(session), 2026, [_district(sqlite_rt)])[1]
    assert q2.late and q2.checked == 0 and q2.coverage == 0
