"""Timers obey the injected clock; the sweep fires a due timer once and only once."""

from pathlib import Path

from sqlalchemy import select

from db.models import AuditEvent, HumanTask, ProcessInstance
from db.session import reading
from engine import deploy, start_process
from engine.sweep import fire_due_timers

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
