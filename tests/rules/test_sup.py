"""SUP-3 … SUP-8 and REV-17: update-frequency monitoring with rectification, topic plans, inspection
circulars, the satisfaction survey, the disclosure report and the annual evaluation.

Dates by hand: the demo assets go online Mon 2026-03-02 09:00 Beijing, so the first week they are
online throughout is Mon 3/9 – Sun 3/15; the check runs once that week has closed (Mon 3/16).
5 working days after Mon 3/16 end on Mon 3/23 23:59:59 (no holiday in between).
"""

from datetime import datetime

import pytest
from sqlalchemy import select

from db.models import (
    Asset,
    AssetEvent,
    Evaluation,
    OrgUnit,
    PeriodicItem,
    PeriodicRun,
    ProcessInstance,
    User,
    Violation,
)
from db.session import reading, transaction
from engine import ConflictError, Forbidden, InvalidInput, complete_task, submit_content
from engine.annual import start_evaluations, start_inspection_circular, start_yearly_duty
from engine.monitoring import record_update, set_account_type, set_responsibility
from engine.periodic import run_periodic
from engine.sweep import sweep
from engine.violations import register, start_accountability
from tests.helpers import attach, instance, ready, register_asset, task_id

WEEK_2 = datetime.fromisoformat("2026-03-13T10:00:00+08:00")  # Friday of the first full week
CHECK = datetime.fromisoformat("2026-03-16T10:00:00+08:00")  # the Monday after it


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _asset_id(rt, name, platform=None) -> int:
    with reading(rt.session_factory) as session:
        query = select(Asset.id).where(Asset.name == name)
        if platform:
            query = query.where(Asset.platform == platform)
        return session.scalar(query)


def _unit_id(rt, name) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(OrgUnit.id).where(OrgUnit.name == name))


def _rectifications(rt) -> dict[str, ProcessInstance]:
    with reading(rt.session_factory) as session:
        return {row.title.partition("更新不及时")[0]: row for row in session.scalars(
            select(ProcessInstance).where(ProcessInstance.business_key.like("asset:%:rectification:%")))}


def _violations(rt) -> list[Violation]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(Violation).order_by(Violation.id)))


def _done(rt, iid, step, who, outcome="done", form=None, opinion=""):
    complete_task(rt, task_id(rt, iid, step), who, outcome=outcome, form=form or {}, opinion=opinion)


def _publish_to_wechat(rt, users, title):
    """An item through three-level review to 区教育发布: an update counted without recording it."""
    iid = submit_content(rt, users["zhangsan"], title=title, body="正文", target_kind="wechat", target_name="区教育发布")
    _done(rt, iid, "review", users["lisi"], outcome="pass")
    _done(rt, iid, "sign", users["wangwu"], outcome="pass")


def _first_full_week(rt, users, clock) -> None:
    """Monitoring begins (baseline), and the first full week passes with some updates."""
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(rt)  # the first run only records where monitoring begins (the year's survey opens)
    assert _rectifications(rt) == {}
    clock.set(WEEK_2)
    _publish_to_wechat(rt, users, "开学安全提示")  # 区教育发布: one reviewed item…
    record_update(rt, users["zhangsan"], _asset_id(rt, "区教育发布"), title="转发：春季传染病防控",
                  published_at="2026-03-11 09:00")  # …and one recorded: 2
    record_update(rt, users["zhangsan"], _asset_id(rt, "某区教育"), title="微博：招生政策解读",
                  published_at="2026-03-10 08:00")  # 某区教育 (Weibo): only 1
    clock.set(CHECK)


def test_sup_3_an_account_below_two_updates_a_week_gets_a_rev_17_rectification_with_a_deadline(rt, users, clock):
    _first_full_week(rt, users, clock)
    run_periodic(rt)
    opened = _rectifications(rt)
    assert set(opened) == {"某区教育", "某街道发布"}  # 区教育发布 made its two; 某街道发布 none
    weibo = opened["某区教育"]
    task = ready(rt, weibo.id)["rectify"]
    assert (task.role, task.org_unit_id) == ("editor", _unit_id(rt, "区教育局"))
    assert task.due_at == at("2026-03-23T23:59:59+08:00")  # 5 working days
    with reading(rt.session_factory) as session:
        items = {i.subject: (i.required, i.counted, i.passed) for i in session.scalars(select(PeriodicItem))}
    assert items[f"asset:{_asset_id(rt, '区教育发布')}"] == (2, 2, True)
    assert items[f"asset:{_asset_id(rt, '某区教育')}"] == (2, 1, False)
    # The duty runs once per week, however often beat calls it.
    assert run_periodic(rt) == 0 and len(_rectifications(rt)) == 2
    assert _violations(rt) == []  # an account's shortfall is rectified, not yet a violation


def test_sup_3_a_wechat_service_account_needs_one_update_a_week(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(Forbidden):
        set_account_type(rt, users["huanglei"], _asset_id(rt, "区教育发布"), wechat_type="service")
    with pytest.raises(InvalidInput):
        set_account_type(rt, users["zhangsan"], _asset_id(rt, "某区教育"), wechat_type="service")  # not WeChat
    set_account_type(rt, users["linfang"], _asset_id(rt, "某街道发布"), wechat_type="service")
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(rt)
    clock.set(WEEK_2)
    record_update(rt, users["huanglei"], _asset_id(rt, "某街道发布"), title="服务号推送：社保认证",
                  published_at="2026-03-12 10:00")
    clock.set(CHECK)
    run_periodic(rt)
    assert "某街道发布" not in _rectifications(rt)


def test_sup_3_only_assets_online_for_the_whole_week_are_checked_and_updates_are_recorded_honestly(
        sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(rt)
    clock.set(WEEK_2)
    with pytest.raises(Forbidden):  # another unit cannot record updates for this account
        record_update(rt, users["huanglei"], _asset_id(rt, "区教育发布"), title="x", published_at="2026-03-10 08:00")
    with pytest.raises(InvalidInput, match="31 天"):  # nor an update that has not happened yet
        record_update(rt, users["zhangsan"], _asset_id(rt, "区教育发布"), title="x", published_at="2026-03-14 08:00")
    with transaction(rt.session_factory) as session:  # 某区教育 went offline for a day in that week
        session.add(AssetEvent(asset_id=_asset_id(rt, "某区教育"), from_state="online", to_state="offline",
                               instance_id=None, data={"path": "force_majeure"}, note="", occurred_at=WEEK_2))
    clock.set(CHECK)
    run_periodic(rt)
    assert set(_rectifications(rt)) == {"区教育发布", "某街道发布"}


def test_rev_17_a_rectification_not_done_by_its_deadline_is_recorded_and_the_office_confirms_it(rt, users, clock):
    _first_full_week(rt, users, clock)
    run_periodic(rt)
    iid = _rectifications(rt)["某区教育"].id
    clock.set(at("2026-03-24T00:00:01+08:00"))
    sweep(rt)
    (late,) = [v for v in _violations(rt) if v.instance_id == iid]
    assert (late.rule, late.category) == ("REV-17", "7")  # 问题整改不到位
    report = {"measures": "明确专人每周更新", "updates": "3月24日、25日各发布 1 条"}
    _done(rt, iid, "rectify", users["zhangsan"], form=report)
    _done(rt, iid, "office_confirm", users["zhouba"], outcome="return", opinion="请同时建立更新台账")
    _done(rt, iid, "rectify", users["zhangsan"], form=report)
    _done(rt, iid, "office_confirm", users["zhouba"], outcome="pass")
    assert instance(rt, iid).status == "completed"


def _column(rt, users, *, updates=1, period="week", owner="区教育局") -> int:
    column = register_asset(rt, "column", "政策解读", attributes={"column": {"owner": "张三"}})
    set_responsibility(rt, users["zhouba"], column, owner_unit_id=_unit_id(rt, owner), updates=updates,
                       period=period, content="本局政策文件解读", quality="准确、及时")
    return column


def test_sup_5_columns_are_checked_against_the_content_responsibility_table(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    unlisted = register_asset(rt, "column", "工作动态")  # not in the table: not monitored
    with pytest.raises(Forbidden, match="SUP-5"):
        set_responsibility(rt, users["zhangsan"], unlisted, owner_unit_id=_unit_id(rt, "区教育局"), updates=1,
                           period="week", content="x")
    with pytest.raises(InvalidInput):
        set_responsibility(rt, users["zhouba"], unlisted, owner_unit_id=_unit_id(rt, "区教育局"), updates=0,
                           period="week", content="x")
    column = _column(rt, users, updates=2, period="month", owner="某街道办事处")
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(rt)
    clock.set(at("2026-04-10T10:00:00+08:00"))
    record_update(rt, users["huanglei"], column, title="4月政策解读", published_at="2026-04-09 10:00")
    clock.set(at("2026-05-01T10:00:00+08:00"))  # April has closed: 1 of 2
    run_periodic(rt)
    opened = _rectifications(rt)
    assert "政策解读" in opened
    assert opened["政策解读"].org_unit_id == _unit_id(rt, "某街道办事处")
    task = ready(rt, opened["政策解读"].id)
    # The column's owner unit (the street office) is criticised and rectifies, not the registering unit.
    assert set(task) == {"criticise"} and task["criticise"].role == "district_office"


def test_rev_17_a_unit_not_updating_its_website_is_criticised_and_the_circular_is_on_the_register(
        sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    column = _column(rt, users)
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(rt)
    clock.set(CHECK)
    run_periodic(rt)
    iid = _rectifications(rt)["政策解读"].id
    (entry,) = [v for v in _violations(rt) if v.instance_id == iid]
    assert (entry.rule, entry.category, entry.asset_id) == ("REV-17", "2", column)  # 信息发布不及时
    with reading(rt.session_factory) as session:
        office = session.get(User, users["zhouba"].user_id)
        assert register(session, office, status="awaiting")["rows"][0].violation.id == entry.id
    _done(rt, iid, "criticise", users["zhouba"], form={"document_number": "区府办通报〔2026〕2号",
                                                        "text": "区教育局政策解读栏目未按要求更新，予以通报批评"})
    with reading(rt.session_factory) as session:
        rows = register(session, session.get(User, users["zhouba"].user_id))["rows"]
    circulated = next(r for r in rows if r.violation.id == entry.id)
    assert circulated.circular.document_number == "区府办通报〔2026〕2号" and circulated.circular.instance_id == iid
    assert set(ready(rt, iid)) == {"rectify"}


def test_sup_4_each_content_unit_files_one_or_two_topic_plans_by_the_end_of_q1(rt, users, clock):
    _column(rt, users)  # 区教育局 becomes a content unit
    street_column = register_asset(rt, "column", "街道动态", unit="某街道办事处")
    set_responsibility(rt, users["zhouba"], street_column, owner_unit_id=_unit_id(rt, "某街道办事处"), updates=1,
                       period="week", content="街道工作动态")
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(rt)  # the year's duties: Q1 has not ended, so this year's plans are due
    with reading(rt.session_factory) as session:
        plans = {row.title: row for row in session.scalars(select(ProcessInstance).where(
            ProcessInstance.business_key.like("unit:%:topic_plan:2026")))}
    assert set(plans) == {"区教育局2026年专题制作计划报送", "某街道办事处2026年专题制作计划报送"}
    bureau = plans["区教育局2026年专题制作计划报送"].id
    assert ready(rt, bureau)["submit"].due_at == at("2026-03-31T23:59:59+08:00")
    with pytest.raises(InvalidInput, match="第二个专题"):
        _done(rt, bureau, "submit", users["zhangsan"], form={"topic1": "双减", "plan1": "4月上线", "topic2": "招生"})
    _done(rt, bureau, "submit", users["zhangsan"], form={"topic1": "双减政策专题", "plan1": "4月上线，每周更新",
                                                          "topic2": "义务教育招生", "plan2": "5月上线"})
    _done(rt, bureau, "file", users["zhouba"], outcome="pass")
    assert instance(rt, bureau).status == "completed"
    with pytest.raises(ConflictError, match="SUP-4"):  # one filing per year
        start_yearly_duty(rt, users["zhangsan"], "topic_plan")
    clock.set(at("2026-04-01T00:00:01+08:00"))
    sweep(rt)
    (late,) = _violations(rt)
    assert (late.rule, late.category, late.org_unit_id) == ("SUP-4", "9", _unit_id(rt, "某街道办事处"))


def test_sup_6_inspection_results_go_to_the_leader_in_charge_then_are_circulated(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(InvalidInput):
        start_inspection_circular(rt, users["zhouba"], period="", findings="x")
    iid = start_inspection_circular(rt, users["zhouba"], period="2026 年第一季度",
                                    findings="区教育局 2 个栏目未按期更新；某街道 1 条留言超期")
    assert set(ready(rt, iid)) == {"leader_reading"}
    _done(rt, iid, "leader_reading", users["zhouba"], form={"leader": "分管副区长 刘某", "instruction": "请各单位限期整改"})
    circular = {"document_number": "区府办督〔2026〕1号", "summary": "一季度督查情况通报"}
    with pytest.raises(InvalidInput, match="上传"):
        _done(rt, iid, "issue", users["zhouba"], form=circular)
    attach(rt, iid, "issue", users["zhouba"], "督查通报.pdf")
    _done(rt, iid, "issue", users["zhouba"], form=circular)
    assert instance(rt, iid).status == "completed"


def test_sup_6_a_satisfaction_survey_runs_once_a_year(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(rt)
    with reading(rt.session_factory) as session:
        (survey,) = session.scalars(select(ProcessInstance).where(
            ProcessInstance.business_key.like("unit:%:satisfaction_survey:2026")))
    assert ready(rt, survey.id)["survey"].due_at == at("2026-12-31T23:59:59+08:00")
    with pytest.raises(ConflictError):
        start_yearly_duty(rt, users["zhouba"], "satisfaction_survey")
    clock.set(at("2027-01-01T00:00:30+08:00"))
    sweep(rt)
    # (the periodic runner also opened the quarter's SUP-2 inspection, late by now: only SUP-6 is checked)
    (late,) = [v for v in _violations(rt) if v.rule == "SUP-6"]
    assert late.org_unit_id == _unit_id(rt, "某区")
    run_periodic(rt)  # a new year: the next survey
    with reading(rt.session_factory) as session:
        assert session.scalar(select(ProcessInstance.id).where(
            ProcessInstance.business_key.like("unit:%:satisfaction_survey:2027"))) is not None


def test_sup_7_each_department_compiles_and_publishes_its_disclosure_report(rt, users, clock):
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(rt)
    with reading(rt.session_factory) as session:  # 1/31 has passed: this year's waits for next year
        assert session.scalar(select(PeriodicRun.state).where(PeriodicRun.kind == "yearly:disclosure_report")) == (
            "baseline")
    clock.set(at("2027-01-04T09:00:00+08:00"))
    run_periodic(rt)
    with reading(rt.session_factory) as session:
        reports = {row.title: row.id for row in session.scalars(select(ProcessInstance).where(
            ProcessInstance.business_key.like("unit:%:disclosure_report:2027")))}
    assert set(reports) == {"区教育局2026年度政府信息公开工作年度报告", "某街道办事处2026年度政府信息公开工作年度报告"}
    iid = reports["区教育局2026年度政府信息公开工作年度报告"]
    assert ready(rt, iid)["compile"].due_at == at("2027-01-31T23:59:59+08:00")
    attach(rt, iid, "compile", users["zhangsan"], "年度报告.pdf")
    _done(rt, iid, "compile", users["zhangsan"], form={"summary": "主动公开 1,200 条"})
    _done(rt, iid, "approve", users["zhaoliu"], outcome="pass")
    _done(rt, iid, "publish", users["zhangsan"], form={"where": "区教育局网站/政府信息公开/年度报告"})
    assert instance(rt, iid).status == "completed"
    clock.set(at("2027-02-01T08:00:00+08:00"))
    sweep(rt)
    (late,) = [v for v in _violations(rt) if v.rule == "SUP-7"]
    assert (late.category, late.org_unit_id) == ("2", _unit_id(rt, "某街道办事处"))


def _evaluation(rt, unit) -> Evaluation:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Evaluation).where(Evaluation.org_unit_id == _unit_id(rt, unit)))


def test_sup_8_the_annual_evaluation_feeds_performance_appraisal_commends_good_units_and_circulates_poor_ones(
        rt, users):
    with pytest.raises(Forbidden, match="SUP-8"):
        start_evaluations(rt, users["zhangsan"], year=2025)
    started = start_evaluations(rt, users["zhouba"], year=2025)
    assert len(started) == 2
    with pytest.raises(ConflictError, match="SUP-8"):
        start_evaluations(rt, users["zhouba"], year=2025)
    bureau, street = (_evaluation(rt, u).instance_id for u in ("区教育局", "某街道办事处"))
    _done(rt, bureau, "self_assessment", users["zhangsan"], form={"summary": "全年发布 800 条"})
    with pytest.raises(InvalidInput, match="0 至 100"):
        _done(rt, bureau, "evaluate", users["zhouba"], outcome="excellent", form={"score": "九十五", "basis": "测评"})
    _done(rt, bureau, "evaluate", users["zhouba"], outcome="excellent", form={"score": "95", "basis": "第三方测评 96 分"})
    _done(rt, bureau, "commend", users["zhouba"], form={"document_number": "区府办〔2026〕8号", "text": "予以表扬"})
    _done(rt, street, "self_assessment", users["huanglei"], form={"summary": "栏目更新不足"})
    _done(rt, street, "evaluate", users["zhouba"], outcome="fail", form={"score": "52", "basis": "抽查 3 次不合格"})
    _done(rt, street, "criticise", users["zhouba"], form={"document_number": "区府办〔2026〕9号",
                                                           "text": "予以通报批评，限期整改"})
    good, poor = _evaluation(rt, "区教育局"), _evaluation(rt, "某街道办事处")
    assert (good.grade, good.score, good.circular["kind"]) == ("excellent", 95, "commendation")
    assert (poor.grade, poor.score, poor.circular["kind"]) == ("fail", 52, "criticism")
    # PEN-2: a failed evaluation may lead to a summons; a unit that passed gives no such ground.
    with pytest.raises(InvalidInput, match="SUP-8"):
        start_accountability(rt, users["zhouba"], unit_id=_unit_id(rt, "区教育局"), trigger="failed_evaluation",
                             action="summons", summary="考核不合格")
    assert start_accountability(rt, users["zhouba"], unit_id=_unit_id(rt, "某街道办事处"), trigger="failed_evaluation",
                                action="summons", summary="2025 年度考核不合格")


def test_sup_8_an_evaluation_year_must_have_begun(sqlite_rt, sqlite_users):
    with pytest.raises(InvalidInput):
        start_evaluations(sqlite_rt, sqlite_users["zhouba"], year=2027)  # the clock is in 2026
    assert _evaluation(sqlite_rt, "区教育局") is None
