"""OPEN-1 … OPEN-4, OPEN-6, OPEN-7: opening a government new-media account.

Dates by hand: approved Mon 2026-03-02; 365 calendar days later is 2027-03-02, so the go-live
deadline ends 2027-03-02 23:59:59 Beijing time (calendar days need no 2027 holiday schedule).
An announcement published 2026-03-10 stays until 30 days later, 2026-04-09 23:59:59.
"""

from datetime import datetime

import pytest
from sqlalchemy import select

from db.models import Asset, Violation
from db.session import reading
from engine import InvalidInput, complete_task
from engine.assets import start_open_new_media
from engine.sweep import sweep
from tests.helpers import attach, instance, ready, register_asset, task_id

PLAN = {"leadership": "分管副局长牵头", "funding": "年度预算列支", "rules": "三审三校制度",
        "contact_person": "张三", "contact_phone": "010-12345678"}


def _apply(rt, users, **kwargs) -> int:
    args = {"platform": "douyin", "name": "区教育发布", "purpose": "unit", "real_name_verified": True,
            "plan": PLAN} | kwargs
    return start_open_new_media(rt, users["zhangsan"], **args)


def _asset(rt, iid) -> Asset:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset).where(Asset.id == int(instance(rt, iid).business_key.split(":")[1])))


def _do(rt, iid, step, actor, outcome="pass", **kwargs):
    complete_task(rt, task_id(rt, iid, step), actor, outcome=outcome, **kwargs)


def _approved(rt, users, clock) -> int:
    clock.set(datetime.fromisoformat("2026-03-02T10:00+08:00"))
    iid = _apply(rt, users)
    _do(rt, iid, "head_consent", users["zhaoliu"])
    _do(rt, iid, "district_approval", users["zhouba"])
    return iid


def _filed(rt, users, clock) -> int:
    iid = _approved(rt, users, clock)
    _do(rt, iid, "register_systems", users["zhangsan"], outcome="done", form={"filing_reference": "全国系统 0302"})
    _do(rt, iid, "district_filing", users["zhouba"], outcome="done")
    _do(rt, iid, "city_filing", users["wujiu"], outcome="done")
    return iid


def test_open_1_the_unit_head_consents_then_the_district_office_approves_the_plan(rt, users, clock):
    iid = _apply(rt, users)
    asset = _asset(rt, iid)
    assert asset.state == "applying" and asset.attributes["opening_plan"]["contact_person"] == "张三"
    assert set(ready(rt, iid)) == {"head_consent"} and ready(rt, iid)["head_consent"].role == "unit_head"
    _do(rt, iid, "head_consent", users["zhaoliu"])
    assert ready(rt, iid)["district_approval"].role == "district_office"
    _do(rt, iid, "district_approval", users["zhouba"])
    assert _asset(rt, iid).state == "approved"


def test_open_1_the_plan_must_be_complete_and_a_refusal_leaves_nothing_opened(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(InvalidInput, match="经费保障"):
        _apply(rt, users, plan={**PLAN, "funding": ""})
    iid = _apply(rt, users)
    _do(rt, iid, "head_consent", users["zhaoliu"])
    _do(rt, iid, "district_approval", users["zhouba"], outcome="reject", opinion="职能与现有账号重复")
    assert _asset(rt, iid).state == "rejected" and instance(rt, iid).status == "completed"


def test_open_2_one_account_per_platform_per_unit_and_none_for_a_campaign(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(InvalidInput, match="OPEN-2"):
        _apply(rt, users, platform="wechat")  # 区教育局 already runs 区教育发布 on WeChat
    with pytest.raises(InvalidInput, match="OPEN-2"):
        _apply(rt, users, purpose="campaign")
    _apply(rt, users)
    with pytest.raises(InvalidInput, match="OPEN-2"):  # an application in progress counts too
        _apply(rt, users)


def test_open_2_checked_again_at_approval(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = _apply(rt, users)
    register_asset(rt, "new_media", "区教育发布", platform="douyin")  # another Douyin account registered meanwhile
    _do(rt, iid, "head_consent", users["zhaoliu"])
    _do(rt, iid, "district_approval", users["zhouba"])
    assert _asset(rt, iid).state == "rejected"


def test_open_3_the_name_is_concise_the_same_on_every_platform_and_real_name_verified(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(InvalidInput, match="OPEN-3"):
        _apply(rt, users, name="区" * 31)
    with pytest.raises(InvalidInput, match="OPEN-3"):
        _apply(rt, users, name="教育局抖音号")  # the unit's accounts are called 区教育发布 / 某区教育
    with pytest.raises(InvalidInput, match="OPEN-3"):
        _apply(rt, users, real_name_verified=False)


def test_open_4_not_live_a_year_after_approval_needs_a_written_explanation_and_is_circulated(rt, users, clock):
    iid = _filed(rt, users, clock)
    clock.set(datetime.fromisoformat("2027-03-02T23:59:00+08:00"))
    sweep(rt)
    with reading(rt.session_factory) as session:
        assert session.scalars(select(Violation)).all() == []
    clock.set(datetime.fromisoformat("2027-03-03T00:00:00+08:00"))
    sweep(rt)
    with reading(rt.session_factory) as session:
        (violation,) = session.scalars(select(Violation)).all()
    assert violation.rule == "OPEN-4"
    assert ready(rt, iid)["explain"].role == "unit_head"
    _do(rt, iid, "explain", users["zhaoliu"], outcome="done", form={"explanation": "平台实名审核延误。"})
    _do(rt, iid, "circulate", users["zhouba"], outcome="done")
    assert set(ready(rt, iid)) == {"go_live"}  # going live is still owed


def test_open_6_the_opening_announcement_stays_30_days(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _filed(rt, users, clock)
    _do(rt, iid, "go_live", users["zhangsan"], outcome="done", form={"account_id": "douyin:qujiaoyu"})
    assert _asset(rt, iid).state == "online"
    clock.set(datetime.fromisoformat("2026-03-10T10:00+08:00"))
    _do(rt, iid, "announce", users["zhangsan"], outcome="done",
        form={"announced_where": "区教育发布 抖音号", "announcement": "区教育发布抖音号正式开通。"})
    clock.set(datetime.fromisoformat("2026-04-09T23:59:00+08:00"))
    sweep(rt)
    assert instance(rt, iid).status == "running"
    clock.set(datetime.fromisoformat("2026-04-10T00:00:00+08:00"))
    sweep(rt)
    assert instance(rt, iid).status == "completed"


def test_open_7_registered_in_the_reporting_systems_and_filed_with_the_city_office(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _approved(rt, users, clock)
    assert set(ready(rt, iid)) == {"register_systems"}
    _do(rt, iid, "register_systems", users["zhangsan"], outcome="done", form={"filing_reference": "全国系统 0302"})
    assert ready(rt, iid)["district_filing"].role == "district_office"
    _do(rt, iid, "district_filing", users["zhouba"], outcome="done")
    assert ready(rt, iid)["city_filing"].role == "city_office"
    _do(rt, iid, "city_filing", users["wujiu"], outcome="done")
    assert set(ready(rt, iid)) == {"go_live"}
    assert _asset(rt, iid).attributes["national_filing"] == {"filing_reference": "全国系统 0302"}


# -- websites (OPEN-2, OPEN-8) ---------------------------------------------------------------------

def _apply_website(rt, users, special_need="全区教育资源公共服务需要独立网站") -> int:
    from engine.assets import start_open_website

    return start_open_website(rt, users["zhangsan"], name="某区教育网", special_need=special_need)


def test_open_2_a_department_opens_a_website_only_for_a_stated_special_need_and_only_one(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users  # 区教育局 is a department (level "unit")
    with pytest.raises(InvalidInput, match="特殊需要"):
        _apply_website(rt, users, special_need="")
    iid = _apply_website(rt, users)
    assert _asset(rt, iid).attributes["special_need"] == "全区教育资源公共服务需要独立网站"
    with pytest.raises(InvalidInput, match="最多开设一个网站"):
        _apply_website(rt, users)


def test_open_8_the_filing_steps_run_in_order_and_the_site_goes_live_only_with_its_identifier_code(rt, users):
    iid = _apply_website(rt, users)
    for step, who in (("head_consent", "zhaoliu"), ("city_approval", "wujiu"), ("province_approval", "zhengshi")):
        _do(rt, iid, step, users[who])
    assert _asset(rt, iid).state == "approved"
    steps = [
        ("domain_label", "zhangsan", {"domain": "jy.mouqu.gov.cn", "label_document": "编办〔2026〕3号"}),
        ("icp_police", "zhangsan", {"icp": "京ICP备2026000001号", "police_filing": "京公网安备 11000002000001号"}),
        ("graded_protection", "zhangsan", {"assessor": "某测评中心", "assessment_report": "DJCP-2026-01",
                                           "network_filing": "BA-2026-01"}),
        ("national_submit", "zhangsan", {"filing_reference": "全国报送 2026-08"}),
        ("district_check", "zhouba", None),
        ("city_check", "wujiu", None),
    ]
    for step, who, form in steps:
        assert set(ready(rt, iid)) == {step}
        assert _asset(rt, iid).state == "approved"  # nothing goes live on the way
        if form and step != "national_submit":  # each external decision is recorded with its document
            with pytest.raises(InvalidInput, match="上传"):
                _do(rt, iid, step, users[who], outcome="done", form=form)
            attach(rt, iid, step, users[who])
        _do(rt, iid, step, users[who], outcome="done", form=form)
    assert set(ready(rt, iid)) == {"identifier_code"} and ready(rt, iid)["identifier_code"].role == "province_office"
    attach(rt, iid, "identifier_code", users["zhengshi"], "国办网站标识码通知.pdf")
    _do(rt, iid, "identifier_code", users["zhengshi"], outcome="done", form={"identifier_code": "1101000099"})
    asset = _asset(rt, iid)
    assert asset.state == "online" and asset.attributes["identifier_code"] == "1101000099"
    assert asset.attributes["domain"] == "jy.mouqu.gov.cn"
    _do(rt, iid, "announce", users["zhangsan"], outcome="done",
        form={"announced_where": "市政府门户网站", "announcement": "某区教育网开通。"})
    assert instance(rt, iid).status == "completed"


def test_open_8_no_website_goes_live_without_an_identifier_code(sqlite_rt):
    from datetime import UTC

    from db.models import OrgUnit
    from db.session import transaction
    from handlers.assets import set_asset_state
    from handlers.registry import HandlerContext

    with transaction(sqlite_rt.session_factory) as session:
        unit = session.scalar(select(OrgUnit.id).where(OrgUnit.name == "区教育局"))
        now = datetime(2026, 3, 2, tzinfo=UTC)
        site = Asset(kind="website", name="无标识码网站", org_unit_id=unit, state="approved", attributes={},
                     created_at=now, updated_at=now)
        session.add(site)
        session.flush()
        ctx = HandlerContext(session=session, now=now, instance_id=None, business_key=f"asset:{site.id}")
        with pytest.raises(ValueError, match="OPEN-8"):
            set_asset_state({"state": "online"}, ctx)
        assert site.state == "approved"


# -- apps (OPEN-5), columns and sub-homepages (OPEN-9, OPEN-10) -------------------------------------

def test_open_5_an_app_goes_live_only_with_a_security_test_report(sqlite_rt, sqlite_users):
    from db.models import OrgUnit
    from db.session import transaction
    from engine.assets import start_app_launch
    from handlers.assets import set_asset_state
    from handlers.registry import HandlerContext

    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(InvalidInput, match="安全检测报告编号"):
        start_app_launch(rt, users["zhangsan"], name="区教育通", tester="某测评中心", report_number="", report_date="2026-02-01")
    iid = start_app_launch(rt, users["zhangsan"], name="区教育通", tester="某测评中心", report_number="AQ-2026-7",
                           report_date="2026-02-01")
    _do(rt, iid, "head_consent", users["zhaoliu"])
    assert ready(rt, iid)["district_approval"].role == "district_office"
    _do(rt, iid, "district_approval", users["zhouba"])
    assert _asset(rt, iid).state == "online"
    # And the registry itself refuses an app without a report on record.
    with transaction(rt.session_factory) as session:
        unit = session.scalar(select(OrgUnit.id).where(OrgUnit.name == "区教育局"))
        now = datetime.fromisoformat("2026-03-02T10:00+08:00")
        app = Asset(kind="app", name="无报告客户端", org_unit_id=unit, state="approved", attributes={},
                    created_at=now, updated_at=now)
        session.add(app)
        session.flush()
        with pytest.raises(ValueError, match="OPEN-5"):
            set_asset_state({"state": "online"}, HandlerContext(session, now, None, f"asset:{app.id}"))


def test_open_9_a_column_states_owner_frequency_and_review_and_needs_operator_and_office(rt, users):
    from engine.assets import start_column_request

    details = {"owner": "张三", "update_frequency": "每周两次", "review": "三审三校后由电子政务中心终审"}
    with pytest.raises(InvalidInput, match="更新频率"):
        start_column_request(rt, users["zhangsan"], action="open", name="教育惠民政策", details={**details,
                                                                                          "update_frequency": ""})
    iid = start_column_request(rt, users["zhangsan"], action="open", name="教育惠民政策", details=details)
    assert ready(rt, iid)["operator_review"].role == "egov_center"
    _do(rt, iid, "operator_review", users["sunqi"])
    assert ready(rt, iid)["office_approval"].role == "district_office"
    _do(rt, iid, "office_approval", users["zhouba"])
    column = _asset(rt, iid)
    assert (column.kind, column.state, column.attributes["column"]["owner"]) == ("column", "online", "张三")
    # Closing goes the same way; a refused closure changes nothing.
    close = start_column_request(rt, users["zhangsan"], action="close", asset_id=column.id, reason="栏目已无更新内容")
    _do(rt, close, "operator_review", users["sunqi"], outcome="reject", opinion="请先归档内容")
    assert _asset(rt, iid).state == "online"
    close = start_column_request(rt, users["zhangsan"], action="close", asset_id=column.id, reason="内容已归档")
    _do(rt, close, "operator_review", users["sunqi"])
    _do(rt, close, "office_approval", users["zhouba"])
    assert _asset(rt, iid).state == "closed"


def test_open_10_a_sub_homepage_opens_like_a_column(sqlite_rt, sqlite_users):
    from engine.assets import start_column_request

    rt, users = sqlite_rt, sqlite_users
    iid = start_column_request(rt, users["zhangsan"], action="open", kind="sub_homepage", name="区教育局小首页",
                               details={"owner": "张三", "update_frequency": "每日", "review": "三审三校"})
    _do(rt, iid, "operator_review", users["sunqi"])
    _do(rt, iid, "office_approval", users["zhouba"], outcome="reject", opinion="暂缓")
    assert (_asset(rt, iid).kind, _asset(rt, iid).state) == ("sub_homepage", "rejected")


def test_open_2_one_website_per_unit_is_checked_again_at_approval(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = _apply_website(rt, users)
    register_asset(rt, "website", "另一个网站")  # a website registered for the unit meanwhile
    for step, who in (("head_consent", "zhaoliu"), ("city_approval", "wujiu"), ("province_approval", "zhengshi")):
        _do(rt, iid, step, users[who])
    assert _asset(rt, iid).state == "rejected" and instance(rt, iid).status == "completed"
