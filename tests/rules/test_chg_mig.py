"""CHG-1, CHG-4, MIG-1, MIG-2: reporting changes, and archiving on consolidation or redesign.

Dates by hand (2026 notice: 清明 4/4 (Sat)–4/6 (Mon) off): a change filed Thu 4/2 must reach
the national system within 5 working days: 4/3=1, 4/7=2, 4/8=3, 4/9=4, 4/10=5 → 4/10 23:59:59.
"""

from datetime import datetime

import pytest
from sqlalchemy import select

from db.models import Asset, OrgUnit, Violation
from db.session import reading
from engine import InvalidInput, complete_task
from engine.assets import start_change_info, start_migration
from engine.sweep import sweep
from tests.helpers import instance, ready, register_asset, task_id


def _asset(rt, name) -> Asset:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset).where(Asset.name == name))


def _website(rt) -> int:
    return register_asset(rt, "website", "区教育局网站",
                          attributes={"domain": "old.mouqu.gov.cn", "identifier_code": "1101000050"})


def _do(rt, iid, step, actor, outcome="pass", **kwargs):
    complete_task(rt, task_id(rt, iid, step), actor, outcome=outcome, **kwargs)


def test_chg_1_a_website_change_is_filed_with_the_city_approval_bureau(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    site = _website(rt)
    iid = start_change_info(rt, users["zhangsan"], site, {"responsible_person": "李四", "contacts": "010-87654321"})
    assert ready(rt, iid)["city_filing"].role == "city_office"
    assert _asset(rt, "区教育局网站").attributes.get("responsible_person") is None  # not before the filing
    _do(rt, iid, "city_filing", users["wujiu"])
    attributes = _asset(rt, "区教育局网站").attributes
    assert (attributes["responsible_person"], attributes["contacts"]) == ("李四", "010-87654321")
    assert instance(rt, iid).status == "completed"


def test_chg_1_a_new_media_change_needs_the_head_the_district_and_the_national_update_in_5_working_days(
        rt, users, clock):
    clock.set(datetime.fromisoformat("2026-04-01T10:00+08:00"))
    iid = start_change_info(rt, users["zhangsan"], _asset(rt, "区教育发布").id, {"host_unit": "某区"})
    _do(rt, iid, "head_consent", users["zhaoliu"])
    clock.set(datetime.fromisoformat("2026-04-02T10:00+08:00"))
    _do(rt, iid, "district_filing", users["zhouba"])
    moved = _asset(rt, "区教育发布")
    with reading(rt.session_factory) as session:
        assert moved.org_unit_id == session.scalar(select(OrgUnit.id).where(OrgUnit.name == "某区"))
    assert set(ready(rt, iid)) == {"national_update"}
    clock.set(datetime.fromisoformat("2026-04-10T23:59:00+08:00"))
    sweep(rt)
    with reading(rt.session_factory) as session:
        assert session.scalars(select(Violation)).all() == []
    clock.set(datetime.fromisoformat("2026-04-11T00:00:00+08:00"))
    sweep(rt)
    with reading(rt.session_factory) as session:
        (late,) = session.scalars(select(Violation)).all()
    assert late.rule == "CHG-1" and "supervise" in ready(rt, iid)


def test_chg_1_a_report_must_say_what_changes(sqlite_rt, sqlite_users):
    with pytest.raises(InvalidInput, match="至少一项"):
        start_change_info(sqlite_rt, sqlite_users["zhangsan"], _asset(sqlite_rt, "区教育发布").id, {"contacts": " "})
    with pytest.raises(InvalidInput, match="只有网站有域名"):
        start_change_info(sqlite_rt, sqlite_users["zhangsan"], _asset(sqlite_rt, "区教育发布").id,
                          {"domain": "x.gov.cn"})


def test_mig_2_a_domain_change_is_announced_on_the_original_site_first(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = start_change_info(rt, users["zhangsan"], _website(rt), {"domain": "jyj.mouqu.gov.cn"})
    assert set(ready(rt, iid)) == {"domain_notice"}
    _do(rt, iid, "domain_notice", users["zhangsan"], outcome="done",
        form={"announced_where": "old.mouqu.gov.cn 首页", "announcement": "本网站域名变更为 jyj.mouqu.gov.cn。"})
    _do(rt, iid, "city_filing", users["wujiu"])
    site = _asset(rt, "区教育局网站")
    assert site.attributes["domain"] == "jyj.mouqu.gov.cn"
    assert site.attributes["closure_notice"]["announced_where"] == "old.mouqu.gov.cn 首页"


ARCHIVE = {"archive_location": "https://old.mouqu.gov.cn/archive/", "pages": "2015–2025 年通知公告 1,203 篇",
           "marking": "页面顶部标注“已归档”及归档时间"}


def test_mig_1_valuable_pages_are_archived_reachable_and_marked(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    clock.set(datetime.fromisoformat("2026-05-11T10:00+08:00"))
    iid = start_migration(rt, users["zhangsan"], _website(rt), reason="网站改版")
    with pytest.raises(InvalidInput, match="已归档"):
        _do(rt, iid, "archive", users["zhangsan"], outcome="done", form={**ARCHIVE, "marking": ""})
    _do(rt, iid, "archive", users["zhangsan"], outcome="done", form=ARCHIVE)
    # The operator checks; a gap goes back with a reason.
    _do(rt, iid, "verify", users["sunqi"], outcome="return", opinion="部分页面无法访问")
    _do(rt, iid, "archive", users["zhangsan"], outcome="done", form=ARCHIVE)
    _do(rt, iid, "verify", users["sunqi"])
    site = _asset(rt, "区教育局网站")
    assert site.attributes["archive"] == ARCHIVE and site.attributes["archived_at"] == "2026-05-11T10:00+08:00"


def test_chg_4_a_column_that_cannot_be_kept_up_is_archived_the_same_way(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    column_id = register_asset(rt, "column", "教育动态")
    iid = start_migration(rt, users["zhangsan"], column_id, reason="栏目长期无法保障更新，归档后关闭")
    _do(rt, iid, "archive", users["zhangsan"], outcome="done", form=ARCHIVE)
    _do(rt, iid, "verify", users["sunqi"])
    assert "archived_at" in _asset(rt, "教育动态").attributes
