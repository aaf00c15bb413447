"""A failure at any point after the engine advanced leaves the last committed state intact."""

import pytest

import engine.audit
import engine.instances
from engine import complete_task
from engine.exceptions import HandlerFailed
from tests.helpers import item_of, ready, snapshot, submit, task_id


class Crash(RuntimeError):
    pass


def _crash(*_args, **_kwargs):
    raise Crash("simulated crash")


@pytest.mark.parametrize("where", ["sync_human_tasks", "audit_record", "dump_workflow"])
def test_a_crash_after_the_workflow_advanced_changes_nothing(rt, users, monkeypatch, where):
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    before = snapshot(rt, iid)
    if where == "sync_human_tasks":
        monkeypatch.setattr(engine.instances, "sync_human_tasks", _crash)
    elif where == "dump_workflow":
        monkeypatch.setattr(engine.instances, "dump_workflow", _crash)
    else:
        real = engine.audit.record

        def record(session, **kwargs):
            if kwargs.get("action") == "complete":
                raise Crash("simulated crash")
            return real(session, **kwargs)

        monkeypatch.setattr(engine.audit, "record", record)
    with pytest.raises(Crash):
        complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    assert snapshot(rt, iid) == before

    monkeypatch.undo()
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    assert set(ready(rt, iid)) == {"sign"}


def test_a_failing_publish_handler_rolls_the_sign_off_back(rt, users, monkeypatch):
    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    before = snapshot(rt, iid)

    def broken(_params, _ctx):
        raise ConnectionError("发布系统无响应")

    monkeypatch.setitem(rt.handlers, "publish_content", broken)
    with pytest.raises(HandlerFailed, match="发布系统无响应"):
        complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    assert snapshot(rt, iid) == before and item_of(rt, iid).status == "in_review"

    monkeypatch.undo()
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    assert item_of(rt, iid).status == "published"
