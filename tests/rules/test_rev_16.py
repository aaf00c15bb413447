"""REV-16: daily duty reading (值班读网): the day's new items are read, errors corrected at once and logged.

The clock starts Mon 2026-03-02 09:00 Beijing time.
"""

import pytest
from sqlalchemy import func, select

from db.models import Asset, DutyReading, ProcessInstance
from db.session import reading
from engine import ConflictError, Forbidden, InvalidInput, complete_task
from engine.clock import to_shanghai
from engine.duty import items_to_read, record_duty_reading
from tests.helpers import instance, ready, submit, task_id


def _asset(rt, name) -> Asset:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset).where(Asset.name == name))


def _publish(rt, users, kind="wechat", title="区教育局召开安全工作会议") -> int:
    iid = submit(rt, users["zhangsan"], kind=kind, title=title)
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    if kind == "portal_column":
        complete_task(rt, task_id(rt, iid, "egov_review"), users["sunqi"], outcome="pass")
    with reading(rt.session_factory) as session:
        return int(session.get(ProcessInstance, iid).business_key.partition(":")[2])


def _today(rt, asset) -> list[int]:
    with reading(rt.session_factory) as session:
        return [i.id for i in items_to_read(session, asset, to_shanghai(rt.clock.now()).date())]


def _corrections(rt) -> list[ProcessInstance]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(ProcessInstance).where(ProcessInstance.business_key.like("%:correction:%"))))


def test_rev_16_the_days_new_items_are_read_and_an_error_is_dispatched_for_correction_at_once(rt, users, clock):
    first, second = _publish(rt, users), _publish(rt, users, title="秋季招生简章")
    account = _asset(rt, "区教育发布")
    assert _today(rt, account) == [first, second]
    clock.advance(hours=1)
    log_id = record_duty_reading(rt, users["sunqi"], account.id, read_item_ids=[first, second],
                                 findings=[{"finding": "招生简章中报名日期有误", "urgency": "urgent"}])
    (correction,) = _corrections(rt)
    assert set(ready(rt, correction.id)) == {"urgent_fix"}  # REV-11: 30 minutes from now
    assert (instance(rt, correction.id).next_timer_at - clock.now()).total_seconds() == 30 * 60
    with reading(rt.session_factory) as session:
        log = session.get(DutyReading, log_id)
        assert (log.items_read, log.findings[0]["instance_id"]) == ([first, second], correction.id)


def test_rev_16_every_new_item_must_be_read_before_the_reading_is_logged(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    first, _second = _publish(rt, users), _publish(rt, users, title="第二条")
    account = _asset(rt, "区教育发布")
    with pytest.raises(InvalidInput, match="还有 1 条未审看"):
        record_duty_reading(rt, users["sunqi"], account.id, read_item_ids=[first],
                            findings=[{"finding": "错字", "urgency": "general"}])
    with reading(rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(DutyReading)) == 0
    assert _corrections(rt) == []  # nothing half-done: no correction either


def test_rev_16_the_host_unit_corrects_its_own_error_at_once_and_logs_it(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    item = _publish(rt, users)
    account = _asset(rt, "区教育发布")
    with pytest.raises(InvalidInput, match="立即纠正"):
        record_duty_reading(rt, users["zhangsan"], account.id, read_item_ids=[item], findings=[{"finding": "错字"}])
    record_duty_reading(rt, users["zhangsan"], account.id, read_item_ids=[item],
                        findings=[{"finding": "“安全”误为“按全”", "correction": "已在后台更正"}])
    with pytest.raises(ConflictError, match="今天已经值班读网"):
        record_duty_reading(rt, users["zhangsan"], account.id, read_item_ids=[item])
    with pytest.raises(Forbidden):
        record_duty_reading(rt, users["huanglei"], account.id, read_item_ids=[item])
    assert _corrections(rt) == []


def test_rev_16_a_websites_reading_covers_the_portal_items_of_the_units_below_it(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    portal_item = _publish(rt, users, kind="portal_column", title="区教育局门户通知")
    _publish(rt, users, title="只在公众号发布")
    portal = _asset(rt, "某区人民政府门户网站")
    assert _today(rt, portal) == [portal_item]
    clock.advance(days=1)
    assert _today(rt, portal) == []  # a new day: nothing new yet
    assert record_duty_reading(rt, users["sunqi"], portal.id, read_item_ids=[], note="当日无新发布信息")
