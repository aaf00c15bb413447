"""DEC-1 … DEC-5: closure and deregistration (关停注销) of a site or account.

Dates by hand (2026 notice: 清明 4/4 (Sat)–4/6 (Mon) off): a closure notice published Mon 3/2
stays 30 calendar days, to 4/1 23:59:59; an account deregistered Thu 4/2 must be filed within 5
working days: 4/3=1, (4/4–4/6 off), 4/7=2, 4/8=3, 4/9=4, 4/10=5, so by 4/10 23:59:59.
"""

from datetime import datetime

import pytest
from sqlalchemy import select

from db.models import Asset, Violation
from db.session import reading
from engine import InvalidInput, complete_task
from engine.assets import start_decommission
from engine.sweep import sweep
from tests.helpers import instance, ready, register_asset, task_id

WEIBO = "某区教育"


def _asset(rt, name=WEIBO) -> Asset:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset).where(Asset.name == name))


def _website(rt) -> int:
    return register_asset(rt, "website", "区教育局网站", attributes={"domain": "jyj.mouqu.gov.cn"})


def _apply(rt, users, asset_id=None, grounds="consolidation") -> int:
    return start_decommission(rt, users["zhangsan"], asset_id or _asset(rt).id, grounds=grounds,
                              plan="内容并入区教育发布公众号")


def _do(rt, iid, step, actor, outcome="pass", **kwargs):
    complete_task(rt, task_id(rt, iid, step), actor, outcome=outcome, **kwargs)


NOTICE = {"announced_where": "某区教育 微博", "announcement": "本账号将关停，内容迁移至区教育发布。"}


def _approved_new_media(rt, users, clock) -> int:
    clock.set(datetime.fromisoformat("2026-02-26T10:00+08:00"))
    iid = _apply(rt, users)
    _do(rt, iid, "head_consent", users["zhaoliu"])
    _do(rt, iid, "district_review", users["zhouba"])
    _do(rt, iid, "city_review", users["wujiu"])
    _do(rt, iid, "province_approval", users["zhengshi"])
    return iid


def _deregistered(rt, users, clock) -> int:
    iid = _approved_new_media(rt, users, clock)
    clock.set(datetime.fromisoformat("2026-03-02T10:00+08:00"))
    _do(rt, iid, "nm_notice", users["zhangsan"], outcome="done", form=NOTICE)
    clock.set(datetime.fromisoformat("2026-04-02T10:00+08:00"))
    sweep(rt)
    _do(rt, iid, "nm_where", users["zhangsan"], outcome="done", form=NOTICE)
    return iid


def test_dec_1_a_new_media_closure_needs_the_head_then_district_city_province_before_anything_starts(rt, users, clock):
    iid = _apply(rt, users)
    for step, who, role in (("head_consent", "zhaoliu", "unit_head"), ("district_review", "zhouba", "district_office"),
                            ("city_review", "wujiu", "city_office"),
                            ("province_approval", "zhengshi", "province_office")):
        assert set(ready(rt, iid)) == {step} and ready(rt, iid)[step].role == role
        assert _asset(rt).state == "online"
        _do(rt, iid, step, users[who])
    assert _asset(rt).state == "closing" and set(ready(rt, iid)) == {"nm_notice"}


def test_dec_1_the_grounds_are_checked_and_a_refusal_changes_nothing(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(InvalidInput, match="DEC-1"):
        _apply(rt, users, grounds="不想办了")
    iid = _apply(rt, users)
    _do(rt, iid, "head_consent", users["zhaoliu"], outcome="reject", opinion="账号仍有大量关注者")
    assert instance(rt, iid).status == "completed" and _asset(rt).state == "online"


def test_dec_2_the_closure_notice_stays_30_days_before_the_where_it_went_notice(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _approved_new_media(rt, users, clock)
    clock.set(datetime.fromisoformat("2026-03-02T10:00+08:00"))
    _do(rt, iid, "nm_notice", users["zhangsan"], outcome="done", form=NOTICE)
    assert ready(rt, iid) == {}  # the announcement period runs
    clock.set(datetime.fromisoformat("2026-04-01T23:59:00+08:00"))
    sweep(rt)
    assert ready(rt, iid) == {}
    clock.set(datetime.fromisoformat("2026-04-02T00:00:00+08:00"))
    sweep(rt)
    assert set(ready(rt, iid)) == {"nm_where"} and _asset(rt).state == "closing"
    _do(rt, iid, "nm_where", users["zhangsan"], outcome="done", form=NOTICE)
    assert _asset(rt).state == "closed"


def test_dec_3_a_website_closes_only_after_its_filings_and_domain_are_deregistered(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    website = _website(rt)
    iid = _apply(rt, users, asset_id=website)
    assert set(ready(rt, iid)) == {"city_review"}  # a website applies to 市行政审批服务局
    _do(rt, iid, "city_review", users["wujiu"])
    _do(rt, iid, "province_approval", users["zhengshi"])
    _do(rt, iid, "web_notice", users["zhangsan"], outcome="done", form=NOTICE)
    _do(rt, iid, "web_where", users["zhangsan"], outcome="done", form=NOTICE)
    receipts = {"icp": "京ICP备000001号注销", "label": "标识注销 2026-01", "police_filing": "公安备案注销 01",
                "domain": "域名注销 01"}
    with pytest.raises(InvalidInput, match="域名注销回执"):
        _do(rt, iid, "web_deregister", users["zhangsan"], outcome="done", form={**receipts, "domain": ""})
    _do(rt, iid, "web_deregister", users["zhangsan"], outcome="done", form=receipts)
    assert _asset(rt, "区教育局网站").state == "closing"
    assert _asset(rt, "区教育局网站").attributes["deregistration"] == receipts


def test_dec_4_the_website_is_closed_after_the_report_to_the_state_council_office(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _apply(rt, users, asset_id=_website(rt))
    for step, who in (("city_review", "wujiu"), ("province_approval", "zhengshi")):
        _do(rt, iid, step, users[who])
    for step in ("web_notice", "web_where"):
        _do(rt, iid, step, users["zhangsan"], outcome="done", form=NOTICE)
    _do(rt, iid, "web_deregister", users["zhangsan"], outcome="done",
        form={"icp": "1", "label": "2", "police_filing": "3", "domain": "4"})
    assert set(ready(rt, iid)) == {"web_report"}
    _do(rt, iid, "web_report", users["zhangsan"], outcome="done", form={"filing_reference": "国办报送 2026-001"})
    assert _asset(rt, "区教育局网站").state == "closed" and instance(rt, iid).status == "completed"


def test_dec_5_the_national_filing_is_due_within_5_working_days_of_deregistration(rt, users, clock):
    iid = _deregistered(rt, users, clock)
    assert _asset(rt).state == "closed" and set(ready(rt, iid)) == {"nm_filing"}
    clock.set(datetime.fromisoformat("2026-04-10T23:59:00+08:00"))
    sweep(rt)
    with reading(rt.session_factory) as session:
        assert session.scalars(select(Violation)).all() == []
    clock.set(datetime.fromisoformat("2026-04-11T00:00:00+08:00"))
    sweep(rt)
    with reading(rt.session_factory) as session:
        (violation,) = session.scalars(select(Violation)).all()
    assert (violation.rule, violation.instance_id) == ("DEC-5", iid)
    assert set(ready(rt, iid)) == {"nm_filing", "nm_filing_supervise"}
    _do(rt, iid, "nm_filing", users["zhangsan"], outcome="done", form={"filing_reference": "新媒体备案 0410"})
    _do(rt, iid, "nm_filing_supervise", users["zhouba"], outcome="done")
    assert instance(rt, iid).status == "completed"


def test_dec_5_a_filing_in_time_ends_the_closure_without_a_violation(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _deregistered(rt, users, clock)
    clock.set(datetime.fromisoformat("2026-04-09T10:00+08:00"))
    _do(rt, iid, "nm_filing", users["zhangsan"], outcome="done", form={"filing_reference": "新媒体备案 0409"})
    clock.set(datetime.fromisoformat("2026-05-01T10:00+08:00"))
    sweep(rt)
    assert instance(rt, iid).status == "completed"
    with reading(rt.session_factory) as session:
        assert session.scalars(select(Violation)).all() == []


def test_dec_7_the_office_orders_an_unmaintained_account_integrated_first_then_closed(rt, users, clock):
    from engine import Forbidden
    from engine.assets import start_account_cleanup

    account = _asset(rt).id
    with pytest.raises(Forbidden, match="DEC-7"):
        start_account_cleanup(rt, users["zhangsan"], account, grounds="not_updated", notice="半年未更新")
    with pytest.raises(InvalidInput, match="DEC-7"):
        start_account_cleanup(rt, users["zhouba"], account, grounds="不喜欢", notice="x")
    clock.set(datetime.fromisoformat("2026-03-02T10:00+08:00"))
    iid = start_account_cleanup(rt, users["zhouba"], account, grounds="not_updated", notice="半年未更新，整合后关停")
    # The host unit's people do the work: the lanes resolve from the account's unit, not the office's.
    assert ready(rt, iid)["integrate"].role == "editor" and _asset(rt).state == "online"
    with pytest.raises(InvalidInput, match="内容整合到的账号"):
        _do(rt, iid, "integrate", users["zhangsan"], outcome="done", form={"target": "", "summary": "全部迁移"})
    _do(rt, iid, "integrate", users["zhangsan"], outcome="done", form={"target": "区教育发布", "summary": "全部迁移"})
    assert _asset(rt).state == "online"  # integrated first; nothing closed yet
    _do(rt, iid, "head_consent", users["zhaoliu"])
    assert _asset(rt).state == "closing"
    _do(rt, iid, "notice", users["zhangsan"], outcome="done", form=NOTICE)
    clock.set(datetime.fromisoformat("2026-04-02T00:00:00+08:00"))
    sweep(rt)
    _do(rt, iid, "where", users["zhangsan"], outcome="done", form=NOTICE)
    assert _asset(rt).state == "closed" and _asset(rt).attributes["integration"]["target"] == "区教育发布"
    _do(rt, iid, "filing", users["zhangsan"], outcome="done", form={"filing_reference": "新媒体备案 0402"})
    assert instance(rt, iid).status == "completed"
