"""Service tasks as background jobs: retried with backoff, then an incident an administrator retries;
deadline reminders (即将到期 / 已超期) to the assignee and the unit head, each sent once."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AuditEvent, Incident, Notification, ProcessInstance, ServiceJob
from db.session import reading
from engine import complete_task, start_process
from engine.exceptions import ConflictError, Forbidden, InvalidInput
from engine.jobs import retry_incident
from engine.sweep import sweep
from tests.helpers import instance, item_of, submit, task_id


def _signed_wechat_item(rt, users) -> int:
    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    return iid


def _job(rt, iid) -> ServiceJob:
    with reading(rt.session_factory) as session:
        return session.scalar(select(ServiceJob).where(ServiceJob.instance_id == iid))


def publish_until_incident(rt, users, clock, monkeypatch, error: Exception) -> int:
    """A signed WeChat item whose publishing fails three times (now and after each backoff): an incident."""
    iid = _signed_wechat_item(rt, users)
    monkeypatch.setitem(rt.handlers, "publish_content", lambda *_: (_ for _ in ()).throw(error))
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    for seconds in (31, 121):
        clock.advance(seconds=seconds)
        sweep(rt)
    return iid


def _open_incident(rt, iid) -> Incident | None:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Incident).where(Incident.instance_id == iid, Incident.resolved_at.is_(None)))


def _notes(rt, username_ids: dict, kind: str) -> dict[str, int]:
    with reading(rt.session_factory) as session:
        rows = session.scalars(select(Notification).where(Notification.kind == kind)).all()
    by_id = {actor.user_id: name for name, actor in username_ids.items()}
    counts: dict[str, int] = {}
    for row in rows:
        counts[by_id[row.user_id]] = counts.get(by_id[row.user_id], 0) + 1
    return counts


def test_a_failing_handler_is_retried_with_backoff_then_becomes_an_incident(rt, users, clock, monkeypatch):
    iid = _signed_wechat_item(rt, users)
    calls = []

    def broken(_params, _ctx):
        calls.append(clock.now())
        raise ConnectionError("微信接口超时")

    monkeypatch.setitem(rt.handlers, "publish_content", broken)
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    assert len(calls) == 1 and _job(rt, iid).attempts == 1

    clock.advance(seconds=29)
    sweep(rt)
    assert len(calls) == 1  # the backoff has not passed
    clock.advance(seconds=2)
    sweep(rt)
    assert len(calls) == 2 and _job(rt, iid).state == "queued"
    clock.advance(seconds=121)
    sweep(rt)
    assert len(calls) == 3
    job, incident = _job(rt, iid), _open_incident(rt, iid)
    assert job.state == "failed" and incident is not None and incident.kind == "service_task"
    assert "微信接口超时" in incident.error and instance(rt, iid).has_incident
    assert item_of(rt, iid).status == "in_review"
    assert _notes(rt, users, "incident") == {"liuyang": 1}  # the administrator of 某区, above 区教育局

    clock.advance(hours=1)
    sweep(rt)
    assert len(calls) == 3  # an incident is not retried on its own


def test_a_retry_after_the_fix_completes_the_item_and_is_audited(rt, users, clock, monkeypatch):
    iid = publish_until_incident(rt, users, clock, monkeypatch, OSError("网络中断"))
    incident = _open_incident(rt, iid)

    monkeypatch.undo()  # the publishing system is back
    retry_incident(rt, incident.id, users["liuyang"].user_id, reason="微信接口已恢复")
    assert item_of(rt, iid).status == "published" and instance(rt, iid).status == "completed"
    assert _open_incident(rt, iid) is None and not instance(rt, iid).has_incident
    with reading(rt.session_factory) as session:
        retry = session.scalar(select(AuditEvent).where(AuditEvent.action == "incident_retry"))
        assert (retry.actor_name, retry.opinion, retry.instance_id) == ("刘洋", "微信接口已恢复", iid)
        failures = session.scalars(select(AuditEvent).where(AuditEvent.action == "service_failed",
                                                            AuditEvent.instance_id == iid)).all()
        assert [event.data["attempt"] for event in failures] == [1, 2, 3]
    with pytest.raises(ConflictError):
        retry_incident(rt, incident.id, users["liuyang"].user_id, reason="再来一次")


def test_only_an_administrator_of_the_unit_or_above_may_retry_and_only_with_a_reason(
        sqlite_rt, sqlite_users, clock, monkeypatch):
    rt, users = sqlite_rt, sqlite_users
    iid = publish_until_incident(rt, users, clock, monkeypatch, OSError("网络中断"))
    incident = _open_incident(rt, iid)
    for username in ("zhangsan", "chenjing", "zhaoliu"):
        with pytest.raises(Forbidden):
            retry_incident(rt, incident.id, users[username].user_id, reason="试试")
    with pytest.raises(InvalidInput):
        retry_incident(rt, incident.id, users["liuyang"].user_id, reason=" ")
    assert _open_incident(rt, iid) is not None and instance(rt, iid).has_incident


def test_a_job_delivered_twice_takes_effect_once(sqlite_rt, sqlite_users, monkeypatch):
    from engine.jobs import run_service_job

    rt, users = sqlite_rt, sqlite_users
    iid = _signed_wechat_item(rt, users)
    sent = []
    monkeypatch.setattr(rt, "dispatcher", sent.append)
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    assert run_service_job(rt, sent[0]) == "done"
    assert run_service_job(rt, sent[0]) == "skipped"  # a redelivered message
    with reading(rt.session_factory) as session:
        ends = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == iid, AuditEvent.action == "end"))
        assert len(ends.all()) == 1
    assert item_of(rt, iid).status == "published"


def test_a_lost_message_is_sent_again_after_the_lease(sqlite_rt, sqlite_users, clock, monkeypatch):
    rt, users = sqlite_rt, sqlite_users
    iid = _signed_wechat_item(rt, users)
    monkeypatch.setattr(rt, "dispatcher", lambda _job_id: None)  # the broker swallowed it
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    monkeypatch.undo()
    assert sweep(rt).jobs == 0
    clock.advance(minutes=5, seconds=1)
    assert sweep(rt).jobs == 1
    assert item_of(rt, iid).status == "published"


# -- reminders ---------------------------------------------------------------------------------

WD_FIXTURE = Path(__file__).parent / "fixtures" / "working_day_deadline.bpmn"


def _deadline_instance(rt, users, clock) -> int:
    from engine import deploy

    # Tue 2026-04-28 10:00: 3 working days = 4/29, 4/30, (劳动节 5/1-5/5), 5/6 → due 5/6 23:59:59;
    # one working day before the due day is Thu 4/30, so the reminder is due at 4/30 00:00.
    clock.set(datetime(2026, 4, 28, 2, 0, tzinfo=UTC))
    deploy(rt, WD_FIXTURE.read_bytes(), deployed_by="tests")
    return start_process(rt, "working_day_deadline", users["zhangsan"], title="期限提醒", business_key="test:remind")


def test_a_reminder_goes_out_one_working_day_before_the_deadline_once(rt, users, clock):
    _deadline_instance(rt, users, clock)
    clock.set(datetime.fromisoformat("2026-04-29T23:59:00+08:00"))
    assert sweep(rt).reminders == 0
    clock.set(datetime.fromisoformat("2026-04-30T00:00:00+08:00"))
    assert sweep(rt).reminders == 1
    # The review is a group task of 区教育局's reviewers (李四), plus the unit head (赵六).
    assert _notes(rt, users, "due_soon") == {"lisi": 1, "zhaoliu": 1}
    clock.advance(hours=2)
    assert sweep(rt).reminders == 0


def test_an_overdue_notice_goes_out_once_and_names_the_step(sqlite_rt, sqlite_users, clock, monkeypatch):
    rt, users = sqlite_rt, sqlite_users
    iid = _deadline_instance(rt, users, clock)
    # Keep the task open past its deadline: the timer would otherwise cancel it.
    monkeypatch.setattr("engine.sweep.fire_due_timers", lambda *_a, **_k: 0)
    clock.set(datetime.fromisoformat("2026-05-07T09:00:00+08:00"))
    assert sweep(rt).reminders == 1
    assert _notes(rt, users, "overdue") == {"lisi": 1, "zhaoliu": 1}
    assert _notes(rt, users, "due_soon") == {}  # already late: no "soon" notice after the fact
    with reading(rt.session_factory) as session:
        note = session.scalar(select(Notification).where(Notification.kind == "overdue"))
        assert "审核" in note.body and "2026-05-06 23:59" in note.body and note.instance_id == iid
    assert sweep(rt).reminders == 0


def test_a_claimed_task_reminds_only_its_assignee_and_the_unit_head(sqlite_rt, sqlite_users, clock):
    from engine import claim_task

    rt, users = sqlite_rt, sqlite_users
    iid = _deadline_instance(rt, users, clock)
    claim_task(rt, task_id(rt, iid, "review"), users["lisi"])
    clock.set(datetime.fromisoformat("2026-04-30T08:00:00+08:00"))
    sweep(rt)
    assert _notes(rt, users, "due_soon") == {"lisi": 1, "zhaoliu": 1}


def test_no_reminder_for_a_deadline_shorter_than_the_lead_time(sqlite_rt, sqlite_users, clock):
    from engine import deploy

    rt, users = sqlite_rt, sqlite_users
    xml = WD_FIXTURE.read_bytes().replace(b"add_working_days(start, 3)", b"add_minutes(start, 30)")
    deploy(rt, xml.replace(b'id="working_day_deadline"', b'id="thirty_minutes"'), deployed_by="tests")
    iid = start_process(rt, "thirty_minutes", users["zhangsan"], title="紧急纠错", business_key="test:30m")
    with reading(rt.session_factory) as session:
        row = session.get(ProcessInstance, iid)
        assert row.next_timer_at is not None
    clock.advance(minutes=10)
    assert sweep(rt).reminders == 0
