"""Moving a running instance to a newer version of its process (SpiffWorkflow's spec diff and
migration helpers, with GovFlow's guards): allowed where the elements it stands on and has passed
exist in both versions, refused with a sentence naming the missing ones otherwise."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AuditEvent, Deadline, HumanTask, ProcessDefinition
from db.session import reading
from engine import claim_task, complete_task, deploy, start_process
from engine.exceptions import ConflictError, Forbidden, InvalidInput
from engine.migration import migrate_instance
from tests.helpers import instance, ready, snapshot, submit, task_id

BASE = (Path(__file__).resolve().parent.parent / "processes" / "content_review.bpmn").read_text(encoding="utf-8")
WD_FIXTURE = (Path(__file__).parent / "fixtures" / "working_day_deadline.bpmn").read_text(encoding="utf-8")
ANCHOR = '<bpmn:sequenceFlow id="f_start_review"'


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def with_final_check() -> bytes:
    """v2: WeChat items get a 发布前复核 step in the signer lane between the channel gateway and publishing."""
    text = _edit(BASE, '<bpmn:sequenceFlow id="f_target_wechat" name="微信公众号" sourceRef="target_gateway" targetRef="publish">',
                 '<bpmn:sequenceFlow id="f_target_wechat" name="微信公众号" sourceRef="target_gateway" targetRef="final_check">')
    text = _edit(text, ANCHOR, '<bpmn:userTask id="final_check" name="发布前复核"><bpmn:incoming>f_target_wechat</bpmn:incoming>'
                 '<bpmn:outgoing>f_final_publish</bpmn:outgoing></bpmn:userTask>'
                 '<bpmn:sequenceFlow id="f_final_publish" sourceRef="final_check" targetRef="publish" />' + ANCHOR)
    text = _edit(text, "<bpmn:incoming>f_target_wechat</bpmn:incoming>\n      <bpmn:incoming>f_register_form_publish</bpmn:incoming>",
                 "<bpmn:incoming>f_final_publish</bpmn:incoming>\n      <bpmn:incoming>f_register_form_publish</bpmn:incoming>")
    return _edit(text, "<bpmn:flowNodeRef>publish</bpmn:flowNodeRef>",
                 "<bpmn:flowNodeRef>publish</bpmn:flowNodeRef><bpmn:flowNodeRef>final_check</bpmn:flowNodeRef>").encode()


def with_sign_deadline(days: int = 3) -> bytes:
    """v2: a non-interrupting `add_working_days(start, N)` timer on the sign-off."""
    text = _edit(BASE, ANCHOR, '<bpmn:boundaryEvent id="sign_overdue" name="签发超时" attachedToRef="sign" cancelActivity="false">'
                 '<bpmn:outgoing>f_sign_overdue</bpmn:outgoing><bpmn:timerEventDefinition id="sign_overdue_def">'
                 f'<bpmn:timeDate>add_working_days(start, {days})</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
                 '<bpmn:endEvent id="sign_reminded" name="已提醒"><bpmn:incoming>f_sign_overdue</bpmn:incoming></bpmn:endEvent>'
                 '<bpmn:sequenceFlow id="f_sign_overdue" sourceRef="sign_overdue" targetRef="sign_reminded" />' + ANCHOR)
    return _edit(text, "<bpmn:flowNodeRef>sign</bpmn:flowNodeRef>",
                 "<bpmn:flowNodeRef>sign</bpmn:flowNodeRef><bpmn:flowNodeRef>sign_overdue</bpmn:flowNodeRef>"
                 "<bpmn:flowNodeRef>sign_reminded</bpmn:flowNodeRef>").encode()


def renamed(old_id: str, new_id: str, text: str = BASE) -> bytes:
    """v2 in which element `old_id` has a new id (to the engine: one element removed, one added)."""
    return text.replace(f'"{old_id}"', f'"{new_id}"').replace(f">{old_id}<", f">{new_id}<").encode()


def definition_version(rt, iid) -> int:
    with reading(rt.session_factory) as session:
        return session.get(ProcessDefinition, instance(rt, iid).definition_id).version


def test_an_instance_waiting_at_review_moves_to_version_2_and_takes_its_new_step(rt, users):
    iid = submit(rt, users["zhangsan"], kind="wechat")
    v2 = deploy(rt, with_final_check(), deployed_by="tests", note="增加发布前复核")
    result = migrate_instance(rt, iid, users["gaoyuan"].user_id, definition_id=v2.definition_id,
                              reason="按新规定补充复核")
    assert (result.from_version, result.to_version) == (1, 2)
    assert definition_version(rt, iid) == 2
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    assert set(ready(rt, iid)) == {"final_check"}
    with reading(rt.session_factory) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.instance_id == iid, AuditEvent.action == "migrate"))
    assert event.opinion == "按新规定补充复核" and event.data["to_version"] == 2 and event.actor_name == "高远"


def test_an_instance_not_migrated_stays_on_version_1(rt, users):
    iid = submit(rt, users["zhangsan"], kind="wechat")
    deploy(rt, with_final_check(), deployed_by="tests", note="增加发布前复核")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    assert definition_version(rt, iid) == 1
    assert instance(rt, iid).status == "completed"


def test_a_deadline_added_on_the_current_step_starts_at_the_migration_and_the_claim_is_kept(rt, users, clock):
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    claim_task(rt, task_id(rt, iid, "sign"), users["wangwu"])
    clock.set(datetime.fromisoformat("2026-03-03T10:00:00+08:00"))  # Tuesday
    v2 = deploy(rt, with_sign_deadline(3), deployed_by="tests", note="签发限 3 个工作日")
    result = migrate_instance(rt, iid, users["gaoyuan"].user_id, definition_id=v2.definition_id, reason="新增签发期限")
    assert result.restructured == ["sign"]
    sign = ready(rt, iid)["sign"]
    assert sign.assignee_id == users["wangwu"].user_id
    assert sign.due_at == datetime.fromisoformat("2026-03-06T23:59:59+08:00")
    with reading(rt.session_factory) as session:
        deadline = session.scalar(select(Deadline).where(Deadline.instance_id == iid, Deadline.state == "open"))
    assert (deadline.rule, deadline.amount, deadline.bpmn_id) == ("working_days", 3, "sign_overdue")
    complete_task(rt, sign.id, users["wangwu"], outcome="pass")
    assert set(ready(rt, iid)) == {"egov_review"}


def test_a_waiting_timer_unchanged_in_the_new_version_keeps_its_due_instant(rt, users, clock):
    clock.set(datetime(2026, 4, 28, 2, 0, tzinfo=UTC))
    deploy(rt, WD_FIXTURE.encode(), deployed_by="tests")
    iid = start_process(rt, "working_day_deadline", users["zhangsan"], title="期限", business_key="test:migrate-timer")
    due = ready(rt, iid)["review"].due_at
    clock.advance(days=1)
    v2 = deploy(rt, WD_FIXTURE.replace('name="督办"', 'name="区政府办督办"').encode(), deployed_by="tests", note="改名")
    migrate_instance(rt, iid, users["gaoyuan"].user_id, definition_id=v2.definition_id, reason="同步新名称")
    assert ready(rt, iid)["review"].due_at == due
    assert instance(rt, iid).next_timer_at == due


def test_migration_is_refused_naming_the_current_step_missing_from_the_new_version(rt, users):
    iid = submit(rt, users["zhangsan"])
    v2 = deploy(rt, renamed("review", "content_check"), deployed_by="tests", note="审核环节改名")
    before = snapshot(rt, iid)
    with pytest.raises(ConflictError) as refused:
        migrate_instance(rt, iid, users["gaoyuan"].user_id, definition_id=v2.definition_id, reason="试迁移")
    assert refused.value.message == "当前环节 review（内容审核（二审））在版本 2 中不存在，无法迁移。"
    assert snapshot(rt, iid) == before


def test_migration_is_refused_naming_a_passed_step_missing_from_the_new_version(rt, users):
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    v2 = deploy(rt, renamed("review_decision", "review_gateway"), deployed_by="tests", note="网关改名")
    before = snapshot(rt, iid)
    with pytest.raises(ConflictError) as refused:
        migrate_instance(rt, iid, users["gaoyuan"].user_id, definition_id=v2.definition_id, reason="试迁移")
    assert "review_decision（审核结论）" in refused.value.message and "已删除" in refused.value.message
    assert snapshot(rt, iid) == before


def test_migration_needs_a_newer_version_of_the_same_process_a_reason_and_an_administrator(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    v2 = deploy(rt, with_final_check(), deployed_by="tests", note="v2")
    with reading(rt.session_factory) as session:
        v1_id = instance(rt, iid).definition_id
        other = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == "temporary_offline"))
    for target in (v1_id, other):
        with pytest.raises(InvalidInput):
            migrate_instance(rt, iid, users["gaoyuan"].user_id, definition_id=target, reason="试")
    with pytest.raises(InvalidInput):
        migrate_instance(rt, iid, users["gaoyuan"].user_id, definition_id=v2.definition_id, reason=" ")
    with pytest.raises(Forbidden):
        migrate_instance(rt, iid, users["zhangsan"].user_id, definition_id=v2.definition_id, reason="试")
    with reading(rt.session_factory) as session:
        assert session.scalar(select(HumanTask.bpmn_id).where(HumanTask.instance_id == iid,
                                                              HumanTask.state == "ready")) == "review"
    assert definition_version(rt, iid) == 1
