"""OFF-1 … OFF-5: temporary offline (临时下线) of a site or account, driven as the users would.

Dates by hand: 2026-03-02 is a Monday; 30 calendar days after it end at 2026-04-01 23:59:59
Beijing time, so an asset taken offline on 3/2 must be back by then (OFF-3).
"""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from db.models import Asset, AssetEvent, HumanTask, Violation
from db.session import reading, transaction
from engine import ConflictError, Forbidden, InvalidInput, complete_task
from engine.assets import start_temporary_offline
from engine.sweep import sweep
from tests.helpers import instance, ready, register_asset, task_id

WECHAT = "区教育发布"
OFFLINE_DAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Mon 10:00 Beijing


def _asset(rt, name=WECHAT) -> Asset:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset).where(Asset.name == name))


def _website_of_the_bureau(rt) -> int:
    """A website run by 区教育局 (test data: the registry's own rules are OPEN-2's business)."""
    return register_asset(rt, "website", "区教育局网站")


def _apply(rt, users, asset_id=None, **kwargs) -> int:
    args = {"path": "approval", "reason_kind": "rectification", "reason": "账号内容全面整改"} | kwargs
    return start_temporary_offline(rt, users["zhangsan"], asset_id or _asset(rt).id, **args)


def _approve_all(rt, users, iid) -> None:
    for step, who in (("district_review", "zhouba"), ("city_review", "wujiu"), ("province_approval", "zhengshi")):
        complete_task(rt, task_id(rt, iid, step), users[who], outcome="pass", opinion="同意")


def _announce(rt, users, iid) -> None:
    complete_task(rt, task_id(rt, iid, "announce"), users["zhangsan"], outcome="done",
                  form={"announced_where": "区教育发布 公众号", "announcement": "本账号将于近日临时下线整改。"})


def _offline(rt, users, clock) -> int:
    clock.set(OFFLINE_DAY)
    iid = _apply(rt, users)
    _approve_all(rt, users, iid)
    _announce(rt, users, iid)
    return iid


def _violations(rt) -> list[Violation]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(Violation)))


def test_off_1_the_application_climbs_district_city_province_then_the_announcement_takes_it_offline(rt, users, clock):
    clock.set(OFFLINE_DAY)
    iid = _apply(rt, users)
    for step, role in (("district_review", "district_office"), ("city_review", "city_office"),
                       ("province_approval", "province_office")):
        assert set(ready(rt, iid)) == {step} and ready(rt, iid)[step].role == role
        assert _asset(rt).state == "online"  # nothing happens to the asset before approval
        complete_task(rt, task_id(rt, iid, step), users[{"district_review": "zhouba", "city_review": "wujiu",
                                                         "province_approval": "zhengshi"}[step]], outcome="pass")
    # Approved: the unit announces first, and only then does the asset go offline.
    assert set(ready(rt, iid)) == {"announce"} and ready(rt, iid)["announce"].assignee_id == users["zhangsan"].user_id
    assert _asset(rt).state == "online"
    _announce(rt, users, iid)
    asset = _asset(rt)
    assert asset.state == "offline" and asset.attributes["offline_announcement"]["announced_where"]
    with reading(rt.session_factory) as session:
        event = session.scalar(select(AssetEvent).where(AssetEvent.asset_id == asset.id))
        assert (event.from_state, event.to_state, event.instance_id, event.data) == (
            "online", "offline", iid, {"path": "approval"})
    assert set(ready(rt, iid)) == {"restore"}


def test_off_1_a_refusal_needs_a_reason_and_leaves_the_asset_online(rt, users, clock):
    iid = _apply(rt, users)
    complete_task(rt, task_id(rt, iid, "district_review"), users["zhouba"], outcome="pass")
    with pytest.raises(InvalidInput, match="理由"):
        complete_task(rt, task_id(rt, iid, "city_review"), users["wujiu"], outcome="reject")
    complete_task(rt, task_id(rt, iid, "city_review"), users["wujiu"], outcome="reject", opinion="整改方案不完整")
    assert instance(rt, iid).status == "completed" and _asset(rt).state == "online"


def test_off_1_a_website_may_not_go_offline_for_an_upgrade(sqlite_rt, sqlite_users):
    website = _website_of_the_bureau(sqlite_rt)
    with pytest.raises(InvalidInput, match="OFF-1"):
        _apply(sqlite_rt, sqlite_users, asset_id=website, reason_kind="upgrade")
    # New media may go offline for a system upgrade.
    assert _apply(sqlite_rt, sqlite_users, reason_kind="upgrade")


def test_off_1_only_the_host_unit_applies_and_only_for_an_online_asset(sqlite_rt, sqlite_users, clock):
    with pytest.raises(Forbidden, match="主办单位"):
        start_temporary_offline(sqlite_rt, sqlite_users["huanglei"], _asset(sqlite_rt).id, path="approval",
                                reason_kind="rectification", reason="整改")
    _apply(sqlite_rt, sqlite_users)
    with pytest.raises(ConflictError, match="正在办理"):
        _apply(sqlite_rt, sqlite_users)


def test_off_2_a_second_offline_in_the_same_year_is_refused(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _offline(rt, users, clock)
    complete_task(rt, task_id(rt, iid, "restore"), users["zhangsan"], outcome="done")
    assert _asset(rt).state == "online"
    clock.set(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="OFF-2"):
        _apply(rt, users)
    clock.set(datetime(2027, 1, 4, 2, 0, tzinfo=UTC))  # a new calendar year: allowed again
    assert _apply(rt, users)


def test_off_2_the_quota_is_checked_again_at_approval(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    clock.set(OFFLINE_DAY)
    iid = _apply(rt, users)
    with transaction(rt.session_factory) as session:  # an approved offline recorded meanwhile (e.g. migrated data)
        session.add(AssetEvent(asset_id=_asset(rt).id, from_state="online", to_state="offline", instance_id=None,
                               data={"path": "approval"}, note="", occurred_at=OFFLINE_DAY))
    _approve_all(rt, users, iid)
    assert ready(rt, iid) == {} and instance(rt, iid).status == "completed"
    assert _asset(rt).state == "online"


def test_off_2_a_force_majeure_report_does_not_count(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    clock.set(OFFLINE_DAY)
    iid = _apply(rt, users, path="force_majeure", reason_kind="", reason="机房长时间停电")
    for step, who in (("fm_district", "zhouba"), ("fm_city", "wujiu")):
        complete_task(rt, task_id(rt, iid, step), users[who], outcome="done")
    complete_task(rt, task_id(rt, iid, "restore"), users["zhangsan"], outcome="done")
    assert _apply(rt, users)  # the year's one approved offline is still available


def test_off_3_not_back_after_30_days_is_a_violation_and_the_district_office_steps_in(rt, users, clock):
    iid = _offline(rt, users, clock)
    clock.set(datetime.fromisoformat("2026-04-01T23:59:00+08:00"))  # day 30: still allowed
    sweep(rt)
    assert _violations(rt) == [] and set(ready(rt, iid)) == {"restore"}
    clock.set(datetime.fromisoformat("2026-04-02T00:00:00+08:00"))  # day 31
    sweep(rt)
    (violation,) = _violations(rt)
    assert (violation.rule, violation.category, violation.instance_id) == ("OFF-3", "1", iid)
    assert set(ready(rt, iid)) == {"restore", "supervise"}  # the unit must still restore it
    assert ready(rt, iid)["supervise"].role == "district_office"
    complete_task(rt, task_id(rt, iid, "restore"), users["zhangsan"], outcome="done")
    complete_task(rt, task_id(rt, iid, "supervise"), users["zhouba"], outcome="done", opinion="已通报")
    assert _asset(rt).state == "online" and instance(rt, iid).status == "completed"


def test_off_3_restored_in_time_leaves_no_violation(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _offline(rt, users, clock)
    clock.set(datetime.fromisoformat("2026-03-20T10:00:00+08:00"))
    complete_task(rt, task_id(rt, iid, "restore"), users["zhangsan"], outcome="done")
    clock.set(datetime.fromisoformat("2026-05-01T10:00:00+08:00"))
    sweep(rt)
    assert _violations(rt) == [] and instance(rt, iid).status == "completed"


def test_off_4_a_new_media_report_goes_to_the_district_then_the_city_office(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _apply(rt, users, path="force_majeure", reason_kind="", reason="平台故障")
    assert _asset(rt).state == "offline"  # already down: the report records it at once
    assert set(ready(rt, iid)) == {"fm_district"}
    complete_task(rt, task_id(rt, iid, "fm_district"), users["zhouba"], outcome="done")
    assert set(ready(rt, iid)) == {"fm_city"}


def test_off_4_a_website_report_goes_to_the_city_level_directly(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _apply(rt, users, asset_id=_website_of_the_bureau(rt), path="force_majeure", reason_kind="",
                 reason="光缆中断")
    assert set(ready(rt, iid)) == {"fm_city"}


def test_off_5_an_overstay_is_registered_as_a_pen_1_type_one_violation_and_circulated(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = _offline(rt, users, clock)
    clock.set(datetime.fromisoformat("2026-04-03T09:00:00+08:00"))
    sweep(rt)
    (violation,) = _violations(rt)
    assert violation.category == "1" and violation.org_unit_id == _asset(rt).org_unit_id
    with reading(rt.session_factory) as session:
        supervise = session.scalar(select(HumanTask).where(HumanTask.instance_id == iid,
                                                           HumanTask.bpmn_id == "supervise"))
    assert supervise.name.endswith("（通报）") and supervise.state == "ready"
