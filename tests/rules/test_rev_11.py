"""REV-11: errors found by inspection are corrected in 30 minutes (urgent) or before the end of that
working day (general), and the case closes on the report to the office.

Dates by hand: Mon 2026-03-02 is a working day, office hours end 17:30 (profile default). Fri
2026-04-03 at 18:00 is after hours; 4/4–4/6 are 清明 (Sat–Mon, 2026 notice), so a general item
dispatched then is due Tue 4/7 at 17:30.
"""

from datetime import datetime

import pytest
from sqlalchemy import select

from db.models import Asset, ProcessInstance, Violation
from db.session import reading
from engine import Forbidden, complete_task
from engine.assets import start_correction
from engine.calendar import calendar_for
from engine.sweep import sweep
from tests.helpers import instance, ready, task_id


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _account(rt) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset.id).where(Asset.name == "区教育发布"))


def _violations(rt) -> list[Violation]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(Violation)))


@pytest.mark.parametrize(("start", "due", "why"), [
    ("2026-03-02T10:00+08:00", "2026-03-02T17:30+08:00", "during office hours: the same day"),
    ("2026-03-02T17:30+08:00", "2026-03-03T17:30+08:00", "at closing time: the next working day"),
    ("2026-04-03T18:00+08:00", "2026-04-07T17:30+08:00", "Friday evening before 清明 4/4-4/6: Tuesday"),
    ("2026-02-14T10:00+08:00", "2026-02-14T17:30+08:00", "make-up Saturday 2/14 is a working day"),
    ("2026-03-01T09:00:00Z", "2026-03-02T17:30+08:00", "Sunday 17:00 in Beijing: Monday"),
])
def test_rev_11_end_of_the_working_day_on_the_official_calendar(start, due, why):
    assert calendar_for().end_of_workday(at(start), 17 * 60 + 30) == at(due), why


def test_rev_11_an_urgent_error_is_corrected_within_30_minutes_or_recorded(rt, users, clock):
    clock.set(at("2026-03-02T10:00+08:00"))
    iid = start_correction(rt, users["sunqi"], _account(rt), urgency="urgent", finding="首页领导姓名错字")
    with reading(rt.session_factory) as session:
        account_unit = session.get(Asset, _account(rt)).org_unit_id
    # The operator (某区) dispatches; the work lands on the account's own unit (区教育局).
    assert instance(rt, iid).org_unit_id == account_unit
    assert (ready(rt, iid)["urgent_fix"].role, ready(rt, iid)["urgent_fix"].org_unit_id) == ("editor", account_unit)
    assert instance(rt, iid).next_timer_at == at("2026-03-02T10:30+08:00")
    clock.set(at("2026-03-02T10:29+08:00"))
    sweep(rt)
    assert _violations(rt) == []
    clock.set(at("2026-03-02T10:31+08:00"))
    sweep(rt)
    (late,) = _violations(rt)
    assert late.rule == "REV-11" and ready(rt, iid)["late_notice"].role == "district_office"


def test_rev_11_a_general_error_before_the_end_of_the_working_day_and_the_office_closes_the_case(
        sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    clock.set(at("2026-04-03T18:00+08:00"))
    iid = start_correction(rt, users["sunqi"], _account(rt), urgency="general", finding="通知中日期有误")
    assert instance(rt, iid).next_timer_at == at("2026-04-07T17:30+08:00")
    clock.set(at("2026-04-07T09:00+08:00"))
    complete_task(rt, task_id(rt, iid, "general_fix"), users["zhangsan"], outcome="done",
                  form={"correction": "已更正为 4 月 7 日"})
    complete_task(rt, task_id(rt, iid, "office_confirm"), users["zhouba"], outcome="return", opinion="附件日期也要改")
    complete_task(rt, task_id(rt, iid, "general_fix"), users["zhangsan"], outcome="done",
                  form={"correction": "正文和附件均已更正"})
    complete_task(rt, task_id(rt, iid, "office_confirm"), users["zhouba"], outcome="pass")
    assert instance(rt, iid).status == "completed" and _violations(rt) == []


def test_rev_11_only_the_portal_operator_dispatches_and_a_correction_does_not_block_the_account(
        sqlite_rt, sqlite_users):
    from engine.assets import start_temporary_offline

    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(Forbidden, match="REV-11"):
        start_correction(rt, users["zhouba"], _account(rt), urgency="urgent", finding="x")
    start_correction(rt, users["sunqi"], _account(rt), urgency="general", finding="错别字")
    assert start_temporary_offline(rt, users["zhangsan"], _account(rt), path="approval", reason_kind="rectification",
                                   reason="整改")
    with reading(rt.session_factory) as session:
        keys = set(session.scalars(select(ProcessInstance.business_key)))
    assert any(key.endswith(":correction:1") for key in keys)
