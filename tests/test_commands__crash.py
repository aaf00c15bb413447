"""A failure at any point after the engine advanced leaves the last committed state intact."""

import pytest

import engine.audit
import engine.instances
from engine import complete_task
from tests.helpers import instance, item_of, ready, snapshot, submit, task_id


class Crash(RuntimeError):
    pass


def _crash(*_args, **_kwargs):
    raise Crash("simulated crash")


def _crash_on(monkeypatch, action: str) -> None:
    """engine.audit.record raises when the command records `action`: after the workflow advanced."""
    real = engine.audit.record

    def record(session, **kwargs):
        if kwargs.get("action") == action:
            raise Crash("simulated crash")
        return real(session, **kwargs)

    monkeypatch.setattr(engine.audit, "record", record)


@pytest.mark.parametrize("where", ["sync_human_tasks", "audit_record", "dump_workflow"])
def test_a_crash_after_the_workflow_advanced_changes_nothing(rt, users, monkeypatch, where):
    """Whether the inbox sync, the audit write or the serialization fails, the review is still to do."""
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    before = snapshot(rt, iid)
    if where == "sync_human_tasks":
        monkeypatch.setattr(engine.instances, "sync_human_tasks", _crash)
    elif where == "dump_workflow":
        monkeypatch.setattr(engine.instances, "dump_changes", _crash)
    else:
        _crash_on(monkeypatch, "complete")
    with pytest.raises(Crash):
        complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    assert snapshot(rt, iid) == before

    monkeypatch.undo()
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    assert set(ready(rt, iid)) == {"sign"}


def test_a_failing_publish_handler_keeps_the_sign_off_and_leaves_the_item_unpublished(rt, users, monkeypatch):
    """If the publishing system is down, the sign-off stands and publishing waits for a retry."""
    from db.models import ServiceJob
    from db.session import reading

    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")

    def broken(_params, _ctx):
        raise ConnectionError("发布系统无响应")

    monkeypatch.setitem(rt.handlers, "publish_content", broken)
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    assert ready(rt, iid) == {} and item_of(rt, iid).status == "in_review"
    assert instance(rt, iid).status == "running"
    with reading(rt.session_factory) as session:
        job = session.query(ServiceJob).filter_by(instance_id=iid).one()
        assert (job.state, job.attempts) == ("queued", 1) and "发布系统无响应" in job.last_error


def _counts(rt) -> dict:
    """Rows of every table a command writes, to prove a crashed one left no trace anywhere."""
    from sqlalchemy import func, select

    from db.models import AuditEvent, ContentItem, HumanTask, ProcessInstance
    from db.session import reading

    with reading(rt.session_factory) as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (AuditEvent, ContentItem, HumanTask, ProcessInstance)}


def test_a_crash_after_a_revision_was_applied_keeps_the_old_text(rt, users, monkeypatch):
    """The revised title and body are written with the step or not at all."""
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="return", opinion="请修改标题")
    before = snapshot(rt, iid)
    title = item_of(rt, iid).title
    monkeypatch.setattr(engine.instances, "sync_human_tasks", _crash)
    with pytest.raises(Crash):
        complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit",
                      form={"title": "改后的标题", "body": "改后的正文。"})
    assert snapshot(rt, iid) == before
    assert (item_of(rt, iid).title, instance(rt, iid).title) == (title, title)

    monkeypatch.undo()
    complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit",
                  form={"title": "改后的标题", "body": "改后的正文。"})
    assert item_of(rt, iid).title == "改后的标题" and set(ready(rt, iid)) == {"review"}


@pytest.mark.parametrize("where", ["end_event", "sync_human_tasks"])
def test_a_crash_after_the_publish_handler_ran_leaves_the_item_unpublished(rt, users, clock, monkeypatch, where):
    """The publish job marked the item published in its own transaction; a crash undoes exactly that.

    The sign-off committed before the job started, so it stands; the job is retried after its
    backoff by the sweep and then publishes.
    """
    from engine.jobs import run_service_job
    from engine.sweep import sweep

    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    queued = []
    monkeypatch.setattr(rt, "dispatcher", queued.append)  # hold the publish job back
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    if where == "end_event":
        _crash_on(monkeypatch, "end")
    else:
        monkeypatch.setattr(engine.instances, "sync_human_tasks", _crash)
    assert run_service_job(rt, queued[0]) == "retry"
    assert (item_of(rt, iid).status, item_of(rt, iid).published_at) == ("in_review", None)
    assert instance(rt, iid).status == "running" and ready(rt, iid) == {}

    monkeypatch.undo()
    assert sweep(rt).jobs == 0  # not before its backoff
    clock.advance(seconds=31)
    assert sweep(rt).jobs == 1
    assert item_of(rt, iid).status == "published" and instance(rt, iid).status == "completed"


def test_a_failing_publish_handler_after_the_egov_review_keeps_the_centres_pass(rt, users, clock, monkeypatch):
    """The centre's pass is committed; publication is a job that is retried until the system answers."""
    from engine.sweep import sweep

    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")

    def broken(_params, _ctx):
        raise RuntimeError("网站群系统返回 503")

    monkeypatch.setitem(rt.handlers, "publish_content", broken)
    complete_task(rt, task_id(rt, iid, "egov_review"), users["sunqi"], outcome="pass")
    assert ready(rt, iid) == {} and item_of(rt, iid).status == "in_review"

    monkeypatch.undo()
    clock.advance(seconds=31)
    sweep(rt)
    assert item_of(rt, iid).status == "published"


def test_a_crash_while_submitting_leaves_no_half_created_item(rt, users, monkeypatch):
    """The item, its instance, its first task and its 'start' event are created together or not at all."""
    before = _counts(rt)
    monkeypatch.setattr(engine.instances, "sync_human_tasks", _crash)
    with pytest.raises(Crash):
        submit(rt, users["zhangsan"])
    assert _counts(rt) == before

    monkeypatch.undo()
    iid = submit(rt, users["zhangsan"])
    assert set(ready(rt, iid)) == {"review"}


def test_a_crash_while_withdrawing_leaves_the_item_under_review(rt, users, monkeypatch):
    from engine import cancel_instance

    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    monkeypatch.setattr(engine.instances, "sync_human_tasks", _crash)
    with pytest.raises(Crash):
        cancel_instance(rt, iid, users["zhangsan"], reason="稿件重复")
    assert snapshot(rt, iid) == before

    monkeypatch.undo()
    cancel_instance(rt, iid, users["zhangsan"], reason="稿件重复")
    assert item_of(rt, iid).status == "cancelled" and ready(rt, iid) == {}


def test_a_crash_while_claiming_leaves_the_task_unclaimed(rt, users, monkeypatch):
    from engine import claim_task

    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    _crash_on(monkeypatch, "claim")
    with pytest.raises(Crash):
        claim_task(rt, task_id(rt, iid, "review"), users["lisi"])
    assert snapshot(rt, iid) == before and ready(rt, iid)["review"].claimed_at is None
