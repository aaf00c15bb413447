"""REV-9: responsibility for an item is traced to the supplying unit and the three reviewers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import User
from db.session import reading
from engine import Forbidden, complete_task
from engine.responsibility import responsibility_trace
from tests.helpers import submit, task_id


def test_rev_9_the_trace_names_the_supplier_unit_and_each_reviewer_with_times_and_opinions(rt, users, clock):
    iid = submit(rt, users["zhangsan"], kind="portal_column")
    steps = [("review", "lisi", "return", "请补充检查范围"), ("revise", "zhangsan", "resubmit", ""),
             ("review", "lisi", "pass", "同意"), ("sign", "wangwu", "pass", "同意签发"),
             ("egov_review", "sunqi", "pass", "同意上线")]
    for bpmn, who, outcome, opinion in steps:
        clock.advance(minutes=10)
        form = {"title": "关于开展校园安全检查的通知", "body": "范围含食堂。"} if bpmn == "revise" else None
        complete_task(rt, task_id(rt, iid, bpmn), users[who], outcome=outcome, opinion=opinion, form=form)
    with reading(rt.session_factory) as session:
        auditor = session.scalar(select(User).where(User.username == "chenjing"))
        trace = responsibility_trace(session, auditor, iid)
    assert trace.supplier_unit == "区教育局" and trace.published_at is not None
    lanes = {lane.role: lane for lane in trace.lanes}
    assert [lane.role for lane in trace.lanes[:4]] == ["editor", "reviewer", "signer", "egov_center"]
    assert [(a.actor, a.outcome) for a in lanes["editor"].acts] == [("张三", "提交"), ("张三", "重新提交")]
    assert [(a.actor, a.outcome, a.opinion) for a in lanes["reviewer"].acts] == [
        ("李四", "退回修改", "请补充检查范围"), ("李四", "通过", "同意")]
    assert [(a.actor, a.opinion) for a in lanes["signer"].acts] == [("王五", "同意签发")]
    assert [(a.actor, a.opinion) for a in lanes["egov_center"].acts] == [("孙七", "同意上线")]
    times = [a.at for lane in trace.lanes for a in lane.acts]
    assert len(set(times)) == len(times)  # each act carries its own time
    assert lanes["egov_center"].acts[0].at < trace.published_at or lanes["egov_center"].acts[0].at == trace.published_at


def test_rev_9_only_auditors_and_administrators_may_trace(sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"])
    with reading(sqlite_rt.session_factory) as session:
        editor = session.scalar(select(User).where(User.username == "zhangsan"))
        with pytest.raises(Forbidden):
            responsibility_trace(session, editor, iid)
