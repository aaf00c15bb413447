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


def _timer_events(rt) -> dict[int, int]:
    """How many 'timer' events (firings) each instance has in its trail."""
    with reading(rt.session_factory) as session:
        return dict(session.execute(select(AuditEvent.instance_id, func.count()).where(
            AuditEvent.action == "timer").group_by(AuditEvent.instance_id)).all())


def _versions(rt, instance_ids) -> dict[int, int]:
    with reading(rt.session_factory) as session:
        return {i: session.get(ProcessInstance, i).version for i in instance_ids}


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
    """Timers fire in batches; an instance whose firing fails is set aside and fired alone (where it
    becomes an incident), and the rest of its batch is written once."""
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
    fired, versions = _timer_events(rt), _versions(rt, (first, broken, last))
    assert fired == {first: 1, last: 1}
    assert versions[first] == versions[last] == versions[broken] + 1  # one save each, none for the broken one
    assert _tasks(rt, first)["escalate"] == _tasks(rt, last)["escalate"] == "ready"


def test_a_sweep_that_died_holding_a_batch_leaves_it_to_others_once_its_lease_runs_out(rt, users, clock):
    """A worker killed after leasing a batch (before writing) fires nothing; the timers are not lost:
    other sweeps pass the batch over while the lease lasts, then fire each timer exactly once."""
    from engine.timer_batch import LEASE, take

    instance_ids = [_start(rt, users) for _ in range(3)]
    clock.advance(hours=13)
    assert sorted(take(rt, 50)) == sorted(instance_ids)  # … and the worker dies here
    assert fire_due_timers(rt) == 0
    clock.advance(seconds=LEASE.total_seconds())
    assert fire_due_timers(rt) == 3
    assert fire_due_timers(rt) == 0
    with reading(rt.session_factory) as session:
        leases = session.scalars(select(ProcessInstance.timer_lease_until)
                                 .where(ProcessInstance.id.in_(instance_ids))).all()
    assert _timer_events(rt) == dict.fromkeys(instance_ids, 1)
    assert leases == [None, None, None]  # a save ends the lease


def test_a_task_completed_while_its_timer_is_being_fired_wins_and_the_timer_does_not_fire(rt, users, clock,
                                                                                           monkeypatch):
    """The sweep fires workflows in memory before it takes the write lock; a reviewer who completes the
    task in between has moved the instance on, so the sweep's result is dropped, not written over it."""
    import engine.timer_batch
    from engine import complete_task

    late, other = _start(rt, users), _start(rt, users)
    clock.advance(hours=13)
    real = engine.timer_batch._compute

    def compute_then_reviewer_acts(rt_, instance_ids, result):
        computed = real(rt_, instance_ids, result)
        with reading(rt.session_factory) as session:
            review = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == late,
                                                               HumanTask.bpmn_id == "review"))
        complete_task(rt, review, users["lisi"], outcome="done")
        return computed

    monkeypatch.setattr(engine.timer_batch, "_compute", compute_then_reviewer_acts)
    assert fire_due_timers(rt) == 1
    assert _tasks(rt, late) == {"review": "completed"}
    assert _tasks(rt, other) == {"review": "cancelled", "escalate": "ready"}
    with reading(rt.session_factory) as session:
        row = session.get(ProcessInstance, late)
        assert (row.status, row.next_timer_at, row.timer_lease_until) == ("completed", None, None)
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.instance_id == late, AuditEvent.action == "timer")) == 0


def test_a_deadline_computed_before_the_calendar_changed_is_computed_again_with_the_new_calendar(
        rt, users, clock, monkeypatch):
    """Firing the 12-hour timer opens 督办 with a 1-working-day deadline. An administrator declares the
    next Monday a holiday while the sweep holds the fired workflow in memory: the instance is fired
    again with the calendar now in force, so the deadline falls on Tuesday, not Monday."""
    import engine.timer_batch
    from engine.calendar_store import set_day

    xml = FIXTURE.read_bytes().replace(
        b"<bpmn:flowNodeRef>end_escalated</bpmn:flowNodeRef>",
        b"<bpmn:flowNodeRef>end_escalated</bpmn:flowNodeRef><bpmn:flowNodeRef>late</bpmn:flowNodeRef>"
        b"<bpmn:flowNodeRef>end_late</bpmn:flowNodeRef>",
    ).replace(
        b'<bpmn:endEvent id="end_done">',
        b'<bpmn:boundaryEvent id="late" attachedToRef="escalate"><bpmn:outgoing>f5</bpmn:outgoing>'
        b'<bpmn:timerEventDefinition id="late_timer"><bpmn:timeDate>add_working_days(now, 1)</bpmn:timeDate>'
        b'</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        b'<bpmn:endEvent id="end_late"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>'
        b'<bpmn:sequenceFlow id="f5" sourceRef="late" targetRef="end_late" />'
        b'<bpmn:endEvent id="end_done">',
    ).replace(b'id="timer_escalation"', b'id="escalation_chain"')
    deploy(rt, xml, deployed_by="tests")
    clock.set(_at("2026-03-06T09:00+08:00"))  # a Friday
    instance_id = start_process(rt, "escalation_chain", users["zhangsan"], title="督办期限", business_key="test:chain")
    clock.set(_at("2026-03-06T22:00+08:00"))
    real = engine.timer_batch._compute

    def compute_then_calendar_changes(rt_, instance_ids, result):
        computed = real(rt_, instance_ids, result)
        set_day(rt, users["gaoyuan"].user_id, _at("2026-03-09T00:00+08:00").date(), working=False,
                name="临时放假", reason="测试：计算之后、写入之前调整日历")
        return computed

    monkeypatch.setattr(engine.timer_batch, "_compute", compute_then_calendar_changes)
    assert fire_due_timers(rt) == 1
    assert instance(rt, instance_id).next_timer_at == _at("2026-03-10T23:59:59+08:00")
    with reading(rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.instance_id == instance_id, AuditEvent.action == "timer")) == 1


def test_a_batch_whose_writing_fails_keeps_nothing_and_each_timer_then_fires_exactly_once(rt, users, clock,
                                                                                         monkeypatch):
    """A failure while the batch writes (after other instances of it were written) rolls the whole batch
    back; its instances are fired again one transaction each, so none fires twice and only the
    failing one becomes an incident."""
    import engine.instances

    first, broken, last = (_start(rt, users) for _ in range(3))
    clock.advance(hours=13)
    real = engine.instances.write

    def write(rt_, session, loaded, encoded):
        if loaded.row.id == broken:
            raise RuntimeError("写入督办任务失败")
        return real(rt_, session, loaded, encoded)

    monkeypatch.setattr(engine.instances, "write", write)
    assert fire_due_timers(rt, batch=3) == 2
    fired, versions = _timer_events(rt), _versions(rt, (first, broken, last))
    with reading(rt.session_factory) as session:
        incident = session.scalar(select(Incident).where(Incident.instance_id == broken))
    assert fired == {first: 1, last: 1}
    assert versions[first] == versions[last] == versions[broken] + 1
    assert incident.kind == "timer" and "写入督办任务失败" in incident.error


def test_an_item_suspended_while_a_sweep_holds_it_fires_at_the_first_sweep_after_it_resumes(rt, users, clock,
                                                                                             monkeypatch):
    """The batch that found it suspended fires nothing for it and ends its lease, so resuming it does
    not leave its overdue timer waiting for the lease to run out."""
    import engine.timer_batch
    from engine.instance_admin import resume_instance, suspend_instance

    instance_id = _start(rt, users)
    clock.advance(hours=13)
    real = engine.timer_batch._compute

    def suspended_first(rt_, instance_ids, result):
        suspend_instance(rt, instance_id, users["liuyang"].user_id, reason="暂停，待核实")
        return real(rt_, instance_ids, result)

    monkeypatch.setattr(engine.timer_batch, "_compute", suspended_first)
    assert fire_due_timers(rt) == 0
    monkeypatch.undo()
    assert _tasks(rt, instance_id) == {"review": "ready"}
    resume_instance(rt, instance_id, users["liuyang"].user_id, reason="核实完毕")
    assert fire_due_timers(rt) == 1  # the clock has not moved: no lease was left to run out
    assert _tasks(rt, instance_id) == {"review": "cancelled", "escalate": "ready"}
