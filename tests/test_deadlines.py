"""Deadline rows and calendar corrections: a stored deadline keeps what it was computed from, and
an administrator's correction moves open deadlines in one audited transaction (or not at all).

Dates by hand from the 2026 notice (国办发明电〔2025〕7号): 劳动节 5/1 (Fri)–5/5 (Tue) off, 5/9 (Sat)
works. From Tue 2026-04-28, 3 working days are 4/29=1, 4/30=2, (5/1–5/5 off), 5/6=3.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import AuditEvent, CalendarOverride, Deadline, HumanTask, ProcessInstance
from db.session import reading
from engine import complete_task, deploy, start_process
from engine.calendar import CalendarNotCovered
from engine.calendar_store import declare_year, list_overrides, remove_override, set_day
from engine.exceptions import Forbidden, InvalidInput
from engine.sweep import fire_due_timers

FIXTURE = Path(__file__).parent / "fixtures" / "working_day_deadline.bpmn"
TUESDAY_10AM = datetime(2026, 4, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def shanghai_end_of(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T23:59:59+08:00").astimezone(UTC)


def _start(rt, users, clock, when=TUESDAY_10AM) -> int:
    clock.set(when)
    deploy(rt, FIXTURE.read_bytes(), deployed_by="tests")
    return start_process(rt, "working_day_deadline", users["zhangsan"], title="期限测试", business_key="test:wd")


def _state(rt, instance_id):
    with reading(rt.session_factory) as session:
        row = session.get(ProcessInstance, instance_id)
        deadline = session.scalar(select(Deadline).where(Deadline.instance_id == instance_id))
        task = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                      HumanTask.bpmn_id == "review"))
        return row, deadline, task


def _events(rt, action):
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_working_day_timer_keeps_what_it_was_computed_from(rt, users, clock):
    instance_id = _start(rt, users, clock)
    row, deadline, task = _state(rt, instance_id)
    assert row.next_timer_at == shanghai_end_of("2026-05-06")
    assert (deadline.rule, deadline.amount, deadline.start_at) == ("working_days", 3, TUESDAY_10AM)
    assert (deadline.due_at, deadline.state, deadline.bpmn_id) == (shanghai_end_of("2026-05-06"), "open", "overdue")
    assert task.due_at == shanghai_end_of("2026-05-06")  # the inbox shows the boundary timer's deadline


def test_a_calendar_correction_moves_an_open_deadline_and_audits_it(rt, users, clock):
    instance_id = _start(rt, users, clock)
    clock.advance(hours=1)
    # Thu 4/30 becomes a rest day: 4/29=1, 5/6=2, 5/7=3.
    change = set_day(rt, users["gaoyuan"].user_id, date(2026, 4, 30), working=False, name="调休放假",
                     reason="省政府补充通知")
    assert change.moved_deadlines == 1
    row, deadline, task = _state(rt, instance_id)
    assert deadline.due_at == task.due_at == row.next_timer_at == shanghai_end_of("2026-05-07")
    moved = _events(rt, "deadline_recomputed")
    assert len(moved) == 1 and moved[0].instance_id == instance_id
    assert moved[0].data["old_due"] == "2026-05-06T23:59:59+08:00"
    assert moved[0].data["new_due"] == "2026-05-07T23:59:59+08:00"
    assert moved[0].opinion == "省政府补充通知" and moved[0].actor_name == "高远"
    assert _events(rt, "calendar_day_set")[0].data["moved_deadlines"] == 1

    # The timer inside the workflow moved too: it does not fire at the old instant …
    clock.set(shanghai_end_of("2026-05-06") + timedelta(hours=1))
    assert fire_due_timers(rt) == 0
    # … and fires once after the new one.
    clock.set(shanghai_end_of("2026-05-07") + timedelta(seconds=1))
    assert fire_due_timers(rt) == 1
    _, deadline, task = _state(rt, instance_id)
    assert deadline.state == "closed" and task.state == "cancelled"


def test_completing_the_task_closes_its_deadline(sqlite_rt, sqlite_users, clock):
    instance_id = _start(sqlite_rt, sqlite_users, clock)
    _, _, task = _state(sqlite_rt, instance_id)
    complete_task(sqlite_rt, task.id, sqlite_users["lisi"], outcome="done")
    row, deadline, _ = _state(sqlite_rt, instance_id)
    assert deadline.state == "closed" and row.next_timer_at is None
    # A closed deadline is history: a later correction leaves it alone.
    change = set_day(sqlite_rt, sqlite_users["gaoyuan"].user_id, date(2026, 4, 30), working=False,
                     name="调休放假", reason="补充通知")
    assert change.moved_deadlines == 0


def test_a_timer_into_an_uncovered_year_fails_the_command_and_writes_nothing(rt, users, clock):
    # Wed 2026-12-30: 12/31 = 1, then 2027, which nobody has entered.
    with reading(rt.session_factory) as session:
        before = session.scalar(select(func.count()).select_from(ProcessInstance))
    with pytest.raises(CalendarNotCovered) as caught:
        _start(rt, users, clock, when=datetime(2026, 12, 30, 2, 0, tzinfo=UTC))
    assert caught.value.message.startswith("2027 年节假日安排尚未录入")
    with reading(rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(ProcessInstance)) == before
        assert session.scalar(select(func.count()).select_from(Deadline)) == 0


def test_declaring_a_year_lets_deadlines_reach_it_and_withdrawing_it_is_refused_while_needed(
        sqlite_rt, sqlite_users, clock):
    admin = sqlite_users["gaoyuan"].user_id
    set_day(sqlite_rt, admin, date(2027, 1, 1), working=False, name="元旦", reason="国办发明电")
    year = declare_year(sqlite_rt, admin, 2027, reason="国办发明电：2027 年部分节假日安排")
    # 3 working days from Wed 12/30: 12/31=1, 1/1 元旦 (entered above) off, 1/2-1/3 weekend, 1/4=2, 1/5=3.
    instance_id = _start(sqlite_rt, sqlite_users, clock, when=datetime(2026, 12, 30, 2, 0, tzinfo=UTC))
    _, deadline, _ = _state(sqlite_rt, instance_id)
    assert deadline.due_at == shanghai_end_of("2027-01-05")

    with reading(sqlite_rt.session_factory) as session:
        overrides_before = session.scalar(select(func.count()).select_from(CalendarOverride)
                                          .where(CalendarOverride.removed_at.is_(None)))
    with pytest.raises(InvalidInput, match="2027 年"):
        remove_override(sqlite_rt, admin, year.override_id, reason="误录")
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(CalendarOverride)
                              .where(CalendarOverride.removed_at.is_(None))) == overrides_before
    assert not _events(sqlite_rt, "calendar_override_removed")


def test_removing_an_override_moves_the_deadline_back(sqlite_rt, sqlite_users, clock):
    instance_id = _start(sqlite_rt, sqlite_users, clock)
    admin = sqlite_users["gaoyuan"].user_id
    change = set_day(sqlite_rt, admin, date(2026, 4, 30), working=False, name="调休放假", reason="补充通知")
    assert _state(sqlite_rt, instance_id)[1].due_at == shanghai_end_of("2026-05-07")
    undo = remove_override(sqlite_rt, admin, change.override_id, reason="通知已撤回")
    assert undo.moved_deadlines == 1
    assert _state(sqlite_rt, instance_id)[1].due_at == shanghai_end_of("2026-05-06")
    assert list_overrides(sqlite_rt, 2026) == []


def test_elapsed_and_fixed_deadlines_are_not_moved_by_the_calendar(sqlite_rt, sqlite_users, clock):
    clock.set(TUESDAY_10AM)
    deploy(sqlite_rt, (Path(__file__).parent / "fixtures" / "timer_escalation.bpmn").read_bytes(),
           deployed_by="tests")
    instance_id = start_process(sqlite_rt, "timer_escalation", sqlite_users["zhangsan"], title="12 小时",
                                business_key="test:12h")
    change = set_day(sqlite_rt, sqlite_users["gaoyuan"].user_id, date(2026, 4, 28), working=False,
                     name="放假", reason="测试")
    assert change.moved_deadlines == 0
    with reading(sqlite_rt.session_factory) as session:
        deadline = session.scalar(select(Deadline).where(Deadline.instance_id == instance_id))
    assert (deadline.rule, deadline.amount) == ("hours", 12)
    assert deadline.due_at == datetime(2026, 4, 28, 14, 0, tzinfo=UTC)


def test_only_a_top_level_administrator_may_change_the_calendar(sqlite_rt, sqlite_users):
    for username in ("liuyang", "zhangsan", "chenjing"):  # district admin, editor, auditor
        with pytest.raises(Forbidden, match="最上级单位的系统管理员"):
            set_day(sqlite_rt, sqlite_users[username].user_id, date(2026, 4, 30), working=False,
                    name="放假", reason="测试")
    assert list_overrides(sqlite_rt) == []
    assert not _events(sqlite_rt, "calendar_day_set")


def test_a_calendar_change_needs_a_reason_and_a_sane_year(sqlite_rt, sqlite_users):
    admin = sqlite_users["gaoyuan"].user_id
    with pytest.raises(InvalidInput, match="理由"):
        set_day(sqlite_rt, admin, date(2026, 4, 30), working=False, name="放假", reason="  ")
    with pytest.raises(InvalidInput, match="已经录入"):
        declare_year(sqlite_rt, admin, 2026, reason="重复")
    with pytest.raises(InvalidInput, match="年份"):
        declare_year(sqlite_rt, admin, 1999, reason="太早")
    assert list_overrides(sqlite_rt) == []


def test_setting_a_day_twice_keeps_only_the_latest_in_force(sqlite_rt, sqlite_users):
    admin = sqlite_users["gaoyuan"].user_id
    set_day(sqlite_rt, admin, date(2026, 4, 30), working=False, name="放假", reason="第一次")
    set_day(sqlite_rt, admin, date(2026, 4, 30), working=True, name="上班", reason="更正")
    in_force = list_overrides(sqlite_rt, 2026)
    assert [(o.day, o.kind, o.reason) for o in in_force] == [(date(2026, 4, 30), "work", "更正")]
    with reading(sqlite_rt.session_factory) as session:  # the first one is history, not deleted
        assert session.scalar(select(func.count()).select_from(CalendarOverride)) == 2


def test_the_public_functions_honour_stored_overrides_when_given_a_session(sqlite_rt, sqlite_users):
    from engine.calendar import add_working_days

    start = datetime.fromisoformat("2026-04-28T10:00+08:00")
    assert add_working_days(start, 2) == datetime.fromisoformat("2026-04-30T23:59:59+08:00")
    set_day(sqlite_rt, sqlite_users["gaoyuan"].user_id, date(2026, 4, 30), working=False, name="放假", reason="通知")
    with reading(sqlite_rt.session_factory) as session:
        # 4/29=1, 4/30 now off, 5/1-5/5 off, 5/6=2.
        assert add_working_days(start, 2, session=session) == datetime.fromisoformat("2026-05-06T23:59:59+08:00")
    assert add_working_days(start, 2) == datetime.fromisoformat("2026-04-30T23:59:59+08:00")  # bundled data


def test_under_the_rolling_policy_a_calendar_day_timer_is_rolled_and_recomputed(sqlite_rt, sqlite_users, clock):
    sqlite_rt.roll_calendar_days = True
    xml = FIXTURE.read_bytes().replace(b"add_working_days(start, 3)", b"add_calendar_days(start, 3)")
    xml = xml.replace(b'id="working_day_deadline"', b'id="calendar_day_deadline"')
    clock.set(TUESDAY_10AM)
    deploy(sqlite_rt, xml, deployed_by="tests")
    instance_id = start_process(sqlite_rt, "calendar_day_deadline", sqlite_users["zhangsan"], title="顺延",
                                business_key="test:roll")
    # 4/28 + 3 calendar days = 5/1, inside 劳动节 (5/1-5/5): rolled to Wed 5/6.
    _, deadline, _ = _state(sqlite_rt, instance_id)
    assert (deadline.rule, deadline.due_at) == ("calendar_days_rolled", shanghai_end_of("2026-05-06"))
    set_day(sqlite_rt, sqlite_users["gaoyuan"].user_id, date(2026, 5, 5), working=True, name="上班", reason="测试")
    assert _state(sqlite_rt, instance_id)[1].due_at == shanghai_end_of("2026-05-05")
