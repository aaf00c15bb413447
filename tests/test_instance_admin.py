"""Instance administration: suspend/resume (a suspended instance fires no timers, runs no jobs, and its
tasks cannot be claimed or completed), cancel, list and filter; each action audited with its reason
and allowed only to administrators of the instance's unit or above."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AuditEvent, ServiceJob, User
from db.session import reading
from engine import Actor, cancel_instance, claim_task, complete_task, deploy, start_process
from engine.exceptions import ConflictError, Forbidden, InvalidInput
from engine.instance_admin import (
    InstanceFilter,
    instance_detail,
    list_instances,
    resume_instance,
    suspend_instance,
)
from engine.jobs import run_service_job
from engine.sweep import sweep
from tests.helpers import instance, item_of, ready, snapshot, submit, task_id

WD_FIXTURE = Path(__file__).parent / "fixtures" / "working_day_deadline.bpmn"


def events(rt, iid, action) -> list[AuditEvent]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == iid, AuditEvent.action == action)))


def test_a_suspended_instance_refuses_claim_and_completion_and_changes_nothing(rt, users):
    iid = submit(rt, users["zhangsan"])
    suspend_instance(rt, iid, users["liuyang"].user_id, reason="稿件涉及的政策正在复核")
    before = snapshot(rt, iid)
    for attempt in (lambda: claim_task(rt, task_id(rt, iid, "review"), users["lisi"]),
                    lambda: complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")):
        with pytest.raises(ConflictError) as refused:
            attempt()
        assert "挂起" in refused.value.message
    assert snapshot(rt, iid) == before

    resume_instance(rt, iid, users["liuyang"].user_id, reason="复核完毕")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    assert set(ready(rt, iid)) == {"sign"}
    assert [e.opinion for e in events(rt, iid, "suspend")] == ["稿件涉及的政策正在复核"]
    assert [e.opinion for e in events(rt, iid, "resume")] == ["复核完毕"]
    assert events(rt, iid, "suspend")[0].actor_name == "刘洋"


def test_a_suspended_instance_fires_no_timer_until_it_is_resumed(rt, users, clock):
    clock.set(datetime(2026, 4, 28, 2, 0, tzinfo=UTC))
    deploy(rt, WD_FIXTURE.read_bytes(), deployed_by="tests")
    iid = start_process(rt, "working_day_deadline", users["zhangsan"], title="期限", business_key="test:suspend-timer")
    suspend_instance(rt, iid, users["gaoyuan"].user_id, reason="暂停督办")
    clock.set(datetime.fromisoformat("2026-05-07T09:00:00+08:00"))  # the 3 working days are long past
    assert sweep(rt).timers == 0
    assert set(ready(rt, iid)) == {"review"}

    resume_instance(rt, iid, users["gaoyuan"].user_id, reason="恢复督办")
    assert sweep(rt).timers == 1
    assert set(ready(rt, iid)) == {"escalate"}


def test_a_suspended_instance_sends_no_deadline_reminder_until_it_is_resumed(rt, users, clock):
    clock.set(datetime(2026, 4, 28, 2, 0, tzinfo=UTC))
    deploy(rt, WD_FIXTURE.read_bytes(), deployed_by="tests")
    iid = start_process(rt, "working_day_deadline", users["zhangsan"], title="期限提醒", business_key="test:suspend-remind")
    suspend_instance(rt, iid, users["gaoyuan"].user_id, reason="暂停督办")
    clock.set(datetime.fromisoformat("2026-04-30T08:00:00+08:00"))  # the 即将到期 notice was due at 00:00
    assert sweep(rt).reminders == 0
    resume_instance(rt, iid, users["gaoyuan"].user_id, reason="恢复督办")
    assert sweep(rt).reminders == 1


def test_a_suspended_instance_runs_no_background_job_until_it_is_resumed(rt, users, clock, monkeypatch):
    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    real = rt.handlers["publish_content"]
    monkeypatch.setitem(rt.handlers, "publish_content", lambda *_: (_ for _ in ()).throw(OSError("接口超时")))
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")  # first attempt fails
    monkeypatch.setitem(rt.handlers, "publish_content", real)
    suspend_instance(rt, iid, users["liuyang"].user_id, reason="发布渠道维护")
    with reading(rt.session_factory) as session:
        job_id = session.scalar(select(ServiceJob.id).where(ServiceJob.instance_id == iid))
    clock.advance(seconds=31)
    assert sweep(rt).jobs == 0  # the retry is due, but the instance is suspended
    assert run_service_job(rt, job_id) == "skipped"  # a message already in flight does nothing either
    assert item_of(rt, iid).status == "in_review"

    resume_instance(rt, iid, users["liuyang"].user_id, reason="维护结束")  # sends the queued job again
    assert item_of(rt, iid).status == "published"
    assert instance(rt, iid).status == "completed"


def test_suspend_and_resume_need_a_reason_and_an_administrator_of_the_unit(rt, users):
    iid = submit(rt, users["zhangsan"])
    with pytest.raises(InvalidInput):
        suspend_instance(rt, iid, users["liuyang"].user_id, reason="  ")
    for outsider in ("zhangsan", "chenjing", "zhouba"):  # editor, auditor, district office: not admins
        with pytest.raises(Forbidden):
            suspend_instance(rt, iid, users[outsider].user_id, reason="试图挂起")
    suspend_instance(rt, iid, users["liuyang"].user_id, reason="核查")
    with pytest.raises(ConflictError):
        suspend_instance(rt, iid, users["gaoyuan"].user_id, reason="重复挂起")
    with pytest.raises(Forbidden):
        resume_instance(rt, iid, users["zhangsan"].user_id, reason="我要继续")
    assert instance(rt, iid).suspended


def test_an_administrator_cancels_a_suspended_instance_with_a_reason(rt, users):
    iid = submit(rt, users["zhangsan"])
    suspend_instance(rt, iid, users["liuyang"].user_id, reason="核查")
    cancel_instance(rt, iid, Actor(users["liuyang"].user_id), reason="稿件重复提交，撤销")
    row = instance(rt, iid)
    assert row.status == "cancelled" and row.end_reason == "稿件重复提交，撤销"
    assert ready(rt, iid) == {}
    assert events(rt, iid, "cancel")[0].role == "admin"


def test_instances_are_listed_newest_first_and_filtered(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    first = submit(rt, users["zhangsan"], title="关于秋季开学的通知")
    second = submit(rt, users["zhangsan"], title="关于防汛工作的通知")
    street = submit(rt, users["huanglei"], title="街道便民通知")
    suspend_instance(rt, second, users["liuyang"].user_id, reason="核查")
    with reading(rt.session_factory) as session:
        district_admin = session.get(User, users["liuyang"].user_id)

        def ids(**kw):
            return [r.id for r in list_instances(session, district_admin, InstanceFilter(**kw))]

        assert ids() == [street, second, first]
        assert ids(status="suspended") == [second]
        assert ids(text="防汛") == [second]
        assert ids(key="content_review", version=1, before_id=second) == [first]
        assert ids(version=2) == []


def test_the_detail_shows_where_the_instance_stands_and_its_variables(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    with reading(rt.session_factory) as session:
        admin = session.get(User, users["liuyang"].user_id)
        detail = instance_detail(rt, session, admin, iid)
        assert [e[0] for e in detail.open_elements] == ["review"]
        assert dict(detail.variables)["target_kind"] == "portal_column"
        editor = session.get(User, users["zhangsan"].user_id)
        with pytest.raises(Forbidden):
            instance_detail(rt, session, editor, iid)
