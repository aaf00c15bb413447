"""Timers obey the injected clock; the sweep fires a due timer once and only once."""

import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from db.models import AuditEvent, HumanTask, Incident, ProcessInstance
from db.session import reading
from engine import deploy, start_process
from engine.sweep import fire_due_timers
from tests.helpers import instance

FIXTURE = Path(__file__).parent / "fixtures" / "timer_escalation.bpmn"


def _start(rt, users) -> int:
    deploy(rt, FIXTURE.read_bytes(), deployed_by="tests")
    return start_process(rt, "timer_escalation", users["zhangsan"], title="超时测试", business_key="test:1")


def _tasks(rt, instance_id):
    with reading(rt.session_factory) as session:
        return {t.bpmn_id: t.state for t in session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id))}


def test_a_12_hour_timer_is_due_12_hours_after_the_task_opened(rt, users, clock):
    started = clock.now()
    instance_id = _start(rt, users)
    with reading(rt.session_factory) as session:
        due = session.get(ProcessInstance, instance_id).next_timer_at
    assert (due - started).total_seconds() == 12 * 3600


def test_the_timer_does_not_fire_early_and_fires_once_when_due(rt, users, clock):
    instance_id = _start(rt, users)
    clock.advance(hours=11, minutes=59)
    assert fire_due_timers(rt) == 0
    assert _tasks(rt, instance_id) == {"review": "ready"}

    clock.advance(minutes=2)
    assert fire_due_timers(rt) == 1
    assert _tasks(rt, instance_id) == {"review": "cancelled", "escalate": "ready"}
    assert fire_due_timers(rt) == 0  # nothing left to fire: a timer fires once
    with reading(rt.session_factory) as session:
        fired = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id,
                                                         AuditEvent.action == "timer")).all()
        assert len(fired) == 1
        assert session.get(ProcessInstance, instance_id).next_timer_at is None


def test_completing_the_task_in_time_cancels_the_timer(rt, users, clock):
    from engine import complete_task

    instance_id = _start(rt, users)
    with reading(rt.session_factory) as session:
        review = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id))
    complete_task(rt, review, users["lisi"], outcome="done")
    clock.advance(hours=13)
    assert fire_due_timers(rt) == 0
    with reading(rt.session_factory) as session:
        row = session.get(ProcessInstance, instance_id)
        assert row.status == "completed" and row.next_timer_at is None


def _deploy_variant(rt, expression: str, key: str) -> None:
    xml = FIXTURE.read_bytes().replace(b"add_hours(now, 12)", expression.encode())
    deploy(rt, xml.replace(b'id="timer_escalation"', f'id="{key}"'.encode()), deployed_by="tests")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_off_3_a_30_calendar_day_timer_fires_on_day_31_not_on_day_30(rt, users, clock):
    # Started Mon 2026-03-02 10:00 Beijing: day 30 after the start day is 4/1, so the timer is
    # due at 4/1 23:59:59 and fires on the 31st day (4/2), never on the 30th.
    clock.set(_at("2026-03-02T10:00+08:00"))
    _deploy_variant(rt, "add_calendar_days(start, 30)", "thirty_days")
    instance_id = start_process(rt, "thirty_days", users["zhangsan"], title="下线 30 天", business_key="test:30")
    clock.set(_at("2026-04-01T23:59:00+08:00"))
    assert fire_due_timers(rt) == 0
    clock.set(_at("2026-04-02T00:00:00+08:00"))
    assert fire_due_timers(rt) == 1
    assert _tasks(rt, instance_id)["escalate"] == "ready"


def test_dec_5_a_5_working_day_timer_across_spring_festival(rt, users, clock):
    # 2026 notice: 春节 2/15-2/23 off, 2/14 (Sat) works. From Thu 2/12: 2/13=1, 2/14=2, 2/24=3,
    # 2/25=4, 2/26=5, so the timer is due at 2/26 23:59:59 Beijing time.
    clock.set(_at("2026-02-12T10:00+08:00"))
    _deploy_variant(rt, "add_working_days(start, 5)", "five_working_days")
    instance_id = start_process(rt, "five_working_days", users["zhangsan"], title="关停备案", business_key="test:5wd")
    assert instance(rt, instance_id).next_timer_at == _at("2026-02-26T23:59:59+08:00")
    clock.set(_at("2026-02-20T10:00+08:00"))  # a calendar-day reading would already be past due
    assert fire_due_timers(rt) == 0
    clock.set(_at("2026-02-26T23:59:00+08:00"))
    assert fire_due_timers(rt) == 0
    clock.set(_at("2026-02-27T00:00:00+08:00"))
    assert fire_due_timers(rt) == 1
    assert _tasks(rt, instance_id)["escalate"] == "ready"


def test_two_sweeps_in_parallel_fire_each_timer_once(rt, users, clock):
    instance_ids = [_start(rt, users) for _ in range(6)]
    clock.advance(hours=13)
    barrier = threading.Barrier(2)
    fired = []

    def sweeper():
        barrier.wait()
        fired.append(fire_due_timers(rt))

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(fired) == 6
    with reading(rt.session_factory) as session:
        events = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "timer", AuditEvent.instance_id.in_(instance_ids)))
    assert events == 6
    assert all(_tasks(rt, i)["escalate"] == "ready" for i in instance_ids)


def test_a_broken_instance_becomes_an_incident_and_the_rest_still_fire(rt, users, clock, monkeypatch):
    import engine.instances

    broken_id, healthy_id = _start(rt, users), _start(rt, users)
    clock.advance(hours=13)
    real = engine.instances.rebuild

    def rebuild(rt_, session, row):
        if row.id == broken_id:
            raise ValueError("状态数据损坏")
        return real(rt_, session, row)

    monkeypatch.setattr(engine.instances, "rebuild", rebuild)
    assert fire_due_timers(rt) == 1
    assert _tasks(rt, healthy_id)["escalate"] == "ready"
    with reading(rt.session_factory) as session:
        incident = session.scalar(select(Incident).where(Incident.instance_id == broken_id))
        assert incident.kind == "timer" and "状态数据损坏" in incident.error
        assert session.get(ProcessInstance, broken_id).has_incident
    # Left alone by later sweeps instead of failing every few seconds …
    assert fire_due_timers(rt) == 0
    # … until an administrator retries it, with a reason.
    monkeypatch.undo()
    from engine.jobs import retry_incident

    retry_incident(rt, incident.id, users["liuyang"].user_id, reason="已修复状态数据")
    assert fire_due_timers(rt) == 1
    assert _tasks(rt, broken_id)["escalate"] == "ready"


def test_a_failed_batch_keeps_nothing_and_each_of_its_timers_then_fires_exactly_once(rt, users, clock, monkeypatch):
    """Timers fire in batches (one transaction each); one broken instance in a batch rolls the batch
    back and its instances fire one by one, so the ones fired before it are not fired twice."""
    import engine.instances

    first, broken, last = (_start(rt, users) for _ in range(3))
    clock.advance(hours=13)
    real = engine.instances.rebuild

    def rebuild(rt_, session, row):
        if row.id == broken:
            raise ValueError("状态数据损坏")
        return real(rt_, session, row)

    monkeypatch.setattr(engine.instances, "rebuild", rebuild)
    assert fire_due_timers(rt, batch=3) == 2
    with reading(rt.session_factory) as session:
        fired = dict(session.execute(select(AuditEvent.instance_id, func.count()).where(
            AuditEvent.action == "timer").group_by(AuditEvent.instance_id)).all())
        versions = {i: session.get(ProcessInstance, i).version for i in (first, broken, last)}
    assert fired == {first: 1, last: 1}
    assert versions[first] == versions[last] == versions[broken] + 1  # one save each, none for the broken one
    assert _tasks(rt, first)["escalate"] == _tasks(rt, last)["escalate"] == "ready"
