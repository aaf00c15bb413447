"""REV-13 舆情应对 and REV-18 意见征集, driven through the engine with the injected clock.

The clock starts Mon 2026-03-02 09:00 Beijing time. 2026: 清明 Sat 4/4 – Mon 4/6 off.
"""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from db.models import OrgUnit, Violation
from db.session import reading, transaction
from engine import InvalidInput, complete_task
from engine.content import start_consultation
from engine.opinion import start_public_opinion
from engine.policy import load_policy
from engine.queries import history
from engine.sweep import sweep
from tests.helpers import instance, item_of, ready, register_asset, submit, task_id


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _do(rt, iid, bpmn_id, actor, outcome, **kwargs):
    complete_task(rt, task_id(rt, iid, bpmn_id), actor, outcome=outcome, **kwargs)


def _account(rt) -> int:
    from db.models import Asset

    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset.id).where(Asset.name == "区教育发布"))


def _violations(rt) -> list[Violation]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(Violation)))


# --- REV-13 ----------------------------------------------------------------------------------------

def test_rev_13_the_principal_leader_hears_it_at_once_starts_the_plan_and_is_kept_informed(rt, users, clock):
    iid = start_public_opinion(rt, users["zhangsan"], trigger="public_attention", asset_id=_account(rt),
                               summary="网传某校食堂食品安全问题，转发量上升", source="微博话题")
    brief = ready(rt, iid)["leader_brief"]
    assert (brief.role, brief.due_at) == ("unit_head", clock.now() + timedelta(minutes=30))
    clock.advance(minutes=10)
    _do(rt, iid, "leader_brief", users["zhaoliu"], "start_plan", form={"plan": "启动食品安全舆情应急预案，成立专班"})
    assert ready(rt, iid)["handle"].due_at == clock.now() + timedelta(hours=24)
    _do(rt, iid, "handle", users["zhangsan"], "update", form={"progress": "已到校核查，发布情况说明"})
    _do(rt, iid, "leader_informed", users["zhaoliu"], "read")
    _do(rt, iid, "handle", users["zhangsan"], "done", form={"progress": "舆情平息，热度下降"})
    office = ready(rt, iid)["office_report"]
    with reading(rt.session_factory) as session:
        assert session.get(OrgUnit, office.org_unit_id).name == "某区"
    _do(rt, iid, "office_report", users["zhouba"], "received")
    assert instance(rt, iid).status == "completed"  # a new-media account: no report to the city bureau
    with reading(rt.session_factory) as session:
        acts = [(h.actor, h.role) for h in history(session, iid) if h.action == "complete"]
    assert acts == [("赵六", "unit_head"), ("张三", "editor"), ("赵六", "unit_head"), ("张三", "editor"),
                    ("周八", "district_office")]


def test_rev_13_a_websites_issue_also_goes_to_the_leader_in_charge_and_the_city_bureau(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    site = register_asset(rt, "website", "区教育局网站")
    with transaction(rt.session_factory) as session:
        session.scalar(select(OrgUnit).where(OrgUnit.name == "区教育局")).contacts = {"leader": "钱副局长",
                                                                                   "liaisons": ["张三"]}
    iid = start_public_opinion(rt, users["zhangsan"], trigger="superior_notice", asset_id=site,
                               summary="网站栏目长期未更新被市政府办通报", source="市政府办通报〔2026〕5号")
    with reading(rt.session_factory) as session:
        assert "已报分管负责人：钱副局长" in history(session, iid)[0].opinion
    _do(rt, iid, "leader_brief", users["zhaoliu"], "start_plan", form={"plan": "立即整改栏目"})
    _do(rt, iid, "handle", users["zhangsan"], "done", form={"progress": "栏目已更新"})
    _do(rt, iid, "office_report", users["zhouba"], "received")
    bureau = ready(rt, iid)["bureau_report"]
    assert bureau.role == "city_office"
    _do(rt, iid, "bureau_report", users["wujiu"], "received")
    assert instance(rt, iid).status == "completed"


def test_rev_13_the_report_deadline_is_the_profiles_and_a_bad_report_is_refused(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    rt.policy = load_policy(overrides='{"opinion_leader_report_minutes": 10}')
    iid = start_public_opinion(rt, users["zhangsan"], trigger="public_attention", summary="s", source="网络")
    assert ready(rt, iid)["leader_brief"].due_at == clock.now() + timedelta(minutes=10)
    with pytest.raises(InvalidInput):
        start_public_opinion(rt, users["zhangsan"], trigger="rumour", summary="s", source="x")
    with pytest.raises(InvalidInput, match="本单位"):
        start_public_opinion(rt, users["huanglei"], trigger="public_attention", summary="s", source="x",
                             asset_id=_account(rt))


# --- REV-18 ----------------------------------------------------------------------------------------

def _notice(rt, users) -> int:
    iid = submit(rt, users["zhangsan"], title="关于《区中小学课后服务实施方案（征求意见稿）》公开征求意见的公告")
    _do(rt, iid, "review", users["lisi"], "pass")
    _do(rt, iid, "sign", users["wangwu"], "pass")
    _do(rt, iid, "egov_review", users["sunqi"], "pass")
    return item_of(rt, iid).id


RESULTS = {"summary": "共收到意见 36 条，主要涉及收费和时间安排。", "feedback": "采纳 20 条；未采纳 16 条，理由见附表。"}


def test_rev_18_a_consultation_ends_with_its_results_and_feedback_published(rt, users, clock):
    iid = start_consultation(rt, users["zhangsan"], notice_item_id=_notice(rt, users))
    assert item_of(rt, iid).status == "collecting" and ready(rt, iid) == {}
    assert instance(rt, iid).next_timer_at == at("2026-04-01T23:59:59+08:00")  # 30 calendar days
    clock.set(at("2026-04-02T09:00+08:00"))
    sweep(rt)
    assert set(ready(rt, iid)) == {"results"}
    assert instance(rt, iid).next_timer_at == at("2026-04-10T23:59:59+08:00")  # 5 working days, 清明 skipped
    _do(rt, iid, "results", users["zhangsan"], "submit", form=RESULTS)
    _do(rt, iid, "review", users["lisi"], "return", opinion="请补充未采纳理由")
    _do(rt, iid, "results", users["zhangsan"], "submit", form={**RESULTS, "feedback": "采纳 20 条；未采纳 16 条：与上位法不符。"})
    _do(rt, iid, "review", users["lisi"], "pass")
    _do(rt, iid, "sign", users["wangwu"], "pass")
    _do(rt, iid, "egov_review", users["sunqi"], "pass")
    item = item_of(rt, iid)
    assert item.status == "published" and "与上位法不符" in item.body and item.details["approval_form"]
    assert instance(rt, iid).status == "completed" and _violations(rt) == []


def test_rev_18_results_not_published_in_time_are_a_violation(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = start_consultation(rt, users["zhangsan"], notice_item_id=_notice(rt, users))
    clock.set(at("2026-04-02T09:00+08:00"))
    sweep(rt)
    clock.set(at("2026-04-11T00:00:01+08:00"))
    sweep(rt)
    (late,) = _violations(rt)
    assert (late.rule, late.category) == ("REV-18", "2")
    assert set(ready(rt, iid)) == {"results"}  # the results are still owed


def test_rev_18_only_a_published_notice_of_ones_unit_opens_a_consultation_once(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    draft = item_of(rt, submit(rt, users["zhangsan"], title="草稿")).id
    with pytest.raises(InvalidInput, match="REV-18"):
        start_consultation(rt, users["zhangsan"], notice_item_id=draft)
    notice = _notice(rt, users)
    with pytest.raises(InvalidInput, match="REV-18"):
        start_consultation(rt, users["huanglei"], notice_item_id=notice)
    start_consultation(rt, users["zhangsan"], notice_item_id=notice)
    with pytest.raises(InvalidInput, match="已经发起"):
        start_consultation(rt, users["zhangsan"], notice_item_id=notice)
