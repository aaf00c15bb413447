"""会签 / 或签: a user task worked by every member of its lane (all of) or by any one of them.

column_adjustment.bpmn's office approval is a 会签 with one veto (CHG-3); tests/fixtures/
any_of_review.bpmn is a 或签. Each member gets a task row of their own; REV-3 still applies."""

from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import Asset, HumanTask, ProcessInstance
from db.session import reading
from engine import (
    DeploymentRejected,
    Forbidden,
    InvalidInput,
    check_diagram,
    complete_task,
    deploy,
    start_process,
)
from engine.assets import start_column_adjustment
from tests.helpers import grant, register_asset

FIXTURE = Path(__file__).parent / "fixtures" / "any_of_review.bpmn"


def _tasks(rt, iid) -> list[HumanTask]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(HumanTask).where(HumanTask.instance_id == iid).order_by(HumanTask.id)))


def _status(rt, iid) -> str:
    with reading(rt.session_factory) as session:
        return session.get(ProcessInstance, iid).status


def _adjustment(rt, users):
    grant(rt, "chenjing", "district_office", unit="某区")  # a second member of the district office
    column = register_asset(rt, "column", "教育动态")
    return column, start_column_adjustment(rt, users["sunqi"], column, proposal="拆分为两个子栏目")


def test_chg_3_all_of_every_office_member_gets_a_task_and_all_must_approve(rt, users):
    column, iid = _adjustment(rt, users)
    tasks = _tasks(rt, iid)
    assert [(t.bpmn_id, t.assignee_id) for t in tasks] == [
        ("office_approval", users["zhouba"].user_id), ("office_approval", users["chenjing"].user_id)]
    with pytest.raises(Forbidden, match="已由周八签收"):  # each member works only their own
        complete_task(rt, tasks[0].id, users["chenjing"], outcome="pass")
    complete_task(rt, tasks[0].id, users["zhouba"], outcome="pass", opinion="同意")
    assert _status(rt, iid) == "running"  # one of two: not yet
    complete_task(rt, tasks[1].id, users["chenjing"], outcome="pass", opinion="同意")
    assert _status(rt, iid) == "completed"
    with reading(rt.session_factory) as session:
        assert session.get(Asset, column).attributes["column_structure"] == "拆分为两个子栏目"


def test_chg_3_all_of_one_refusal_ends_it_and_withdraws_the_other_members_tasks(rt, users):
    column, iid = _adjustment(rt, users)
    first, second = _tasks(rt, iid)
    with pytest.raises(InvalidInput, match="必须填写理由"):
        complete_task(rt, second.id, users["chenjing"], outcome="reject")
    complete_task(rt, second.id, users["chenjing"], outcome="reject", opinion="影响用户使用习惯")
    assert [t.state for t in _tasks(rt, iid)] == ["cancelled", "completed"]
    assert _status(rt, iid) == "completed"
    with reading(rt.session_factory) as session:
        assert "column_structure" not in (session.get(Asset, column).attributes or {})


def test_any_of_the_first_member_to_act_decides(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    deploy(rt, FIXTURE.read_bytes(), deployed_by="tests")
    grant(rt, "wangwu", "reviewer")
    iid = start_process(rt, "any_of_review", users["zhangsan"], title="或签测试", business_key="test:any-of")
    first, second = _tasks(rt, iid)
    assert {first.assignee_id, second.assignee_id} == {users["lisi"].user_id, users["wangwu"].user_id}
    complete_task(rt, second.id, users["wangwu"], outcome="return", opinion="数据有误")
    assert [t.state for t in _tasks(rt, iid)] == ["cancelled", "completed"]
    assert _status(rt, iid) == "completed"


def test_rev_3_a_member_who_acted_in_another_lane_gets_no_task(sqlite_rt, sqlite_users):
    """The editor also holding the reviewer role is left out of the 或签 of their own item."""
    rt, users = sqlite_rt, sqlite_users
    deploy(rt, FIXTURE.read_bytes(), deployed_by="tests")
    grant(rt, "zhangsan", "reviewer")
    iid = start_process(rt, "any_of_review", users["zhangsan"], title="或签测试", business_key="test:rev3")
    assert [t.assignee_id for t in _tasks(rt, iid)] == [users["lisi"].user_id]


def test_with_nobody_eligible_the_step_goes_to_the_group_instead_of_passing_by_itself(sqlite_rt, sqlite_users):
    """黄磊 is the street office's only reviewer and he started the item: one group task, not an empty 会签."""
    rt, users = sqlite_rt, sqlite_users
    deploy(rt, FIXTURE.read_bytes(), deployed_by="tests")
    iid = start_process(rt, "any_of_review", users["huanglei"], title="无人可审", business_key="test:nobody")
    (task,) = _tasks(rt, iid)
    assert (task.state, task.assignee_id, task.role) == ("ready", None, "reviewer")
    assert _status(rt, iid) == "running"


def _mi(characteristics: str, lane: str = "reviewer", task: str = "userTask") -> bytes:
    text = FIXTURE.read_text(encoding="utf-8")
    start = text.index("<bpmn:multiInstanceLoopCharacteristics>")
    end = text.index("</bpmn:multiInstanceLoopCharacteristics>") + len("</bpmn:multiInstanceLoopCharacteristics>")
    text = text[:start] + characteristics + text[end:]
    if lane != "reviewer":
        text = text.replace('<bpmn:lane id="reviewer" name="内容审核">', f'<bpmn:lane id="{lane}" name="x">')
    if task != "userTask":
        text = text.replace('<bpmn:userTask id="review"', f'<bpmn:{task} id="review"').replace("</bpmn:userTask>", f"</bpmn:{task}>")
    return text.encode("utf-8")


CARD = "<bpmn:loopCardinality>lane_member_count('reviewer')</bpmn:loopCardinality>"
DONE = "<bpmn:completionCondition>outcome != 'pass'</bpmn:completionCondition>"


@pytest.mark.parametrize(("characteristics", "message"), [
    (f'<bpmn:multiInstanceLoopCharacteristics isSequential="true">{CARD}{DONE}</bpmn:multiInstanceLoopCharacteristics>',
     "只支持并行"),
    (f"<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>people</bpmn:loopDataInputRef>{DONE}"
     "</bpmn:multiInstanceLoopCharacteristics>", "不能使用 loopDataInputRef"),
    (f"<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality>{DONE}"
     "</bpmn:multiInstanceLoopCharacteristics>", "人数只能写作 lane_member_count\\('reviewer'\\)"),
    (f"<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>lane_member_count('signer')</bpmn:loopCardinality>"
     f"{DONE}</bpmn:multiInstanceLoopCharacteristics>", "本泳道角色"),
    (f"<bpmn:multiInstanceLoopCharacteristics>{CARD}</bpmn:multiInstanceLoopCharacteristics>", "必须写明完成条件"),
    (f"<bpmn:multiInstanceLoopCharacteristics>{CARD}<bpmn:completionCondition>policy['x'] == 1</bpmn:completionCondition>"
     "</bpmn:multiInstanceLoopCharacteristics>", "只能读取 outcome"),
    (f"<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>__import__('os')</bpmn:loopCardinality>{DONE}"
     "</bpmn:multiInstanceLoopCharacteristics>", "不允许"),
])
def test_deploy_refuses_a_multi_instance_it_cannot_run_safely(sqlite_rt, characteristics, message):
    with pytest.raises(DeploymentRejected, match=message) as refused:
        check_diagram(sqlite_rt, _mi(characteristics))
    assert refused.value.element_id == "review"


def test_deploy_refuses_loops_outside_user_tasks(sqlite_rt):
    standard = '<bpmn:standardLoopCharacteristics loopMaximum="3" />'
    with pytest.raises(DeploymentRejected, match="不能设置循环"):
        check_diagram(sqlite_rt, _mi(standard))
    with pytest.raises(DeploymentRejected, match="不是用户任务"):
        check_diagram(sqlite_rt, _mi(f"<bpmn:multiInstanceLoopCharacteristics>{CARD}{DONE}"
                                     "</bpmn:multiInstanceLoopCharacteristics>", task="task"))


def test_deploy_accepts_all_of_and_any_of_and_says_which(sqlite_rt):
    assert check_diagram(sqlite_rt, FIXTURE.read_bytes()).task_info["review"]["multi"] == "any"
    all_of = _mi(f"<bpmn:multiInstanceLoopCharacteristics>{CARD}{DONE}</bpmn:multiInstanceLoopCharacteristics>")
    assert check_diagram(sqlite_rt, all_of).task_info["review"]["multi"] == "all"
