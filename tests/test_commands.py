"""Commands refuse what they must, say why, and change nothing when they refuse."""

import pytest
from sqlalchemy import select

from db.models import User
from db.session import reading, transaction
from engine import (
    Actor,
    ConflictError,
    Forbidden,
    InvalidInput,
    NotFound,
    cancel_instance,
    claim_task,
    complete_task,
)
from engine.queries import history
from tests.helpers import instance, item_of, ready, snapshot, submit, task_id


@pytest.mark.parametrize("outsider", ["zhouba", "huanglei", "chenjing", "liuyang"])
def test_a_user_outside_the_lane_can_neither_complete_nor_claim(rt, users, outsider):
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(Forbidden, match="需要“内容审核”角色"):
        complete_task(rt, task_id(rt, iid, "review"), users[outsider], outcome="pass")
    with pytest.raises(Forbidden):
        claim_task(rt, task_id(rt, iid, "review"), users[outsider])
    assert snapshot(rt, iid) == before


def test_a_deactivated_user_is_refused(rt, users):
    iid = submit(rt, users["zhangsan"])
    with transaction(rt.session_factory) as session:
        session.get(User, users["lisi"].user_id).active = False
    before = snapshot(rt, iid)
    with pytest.raises(Forbidden, match="停用"):
        complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    assert snapshot(rt, iid) == before


def test_an_unknown_user_or_task_is_a_clear_error(rt, users):
    iid = submit(rt, users["zhangsan"])
    with pytest.raises(Forbidden, match="用户不存在"):
        complete_task(rt, task_id(rt, iid, "review"), Actor(999_999), outcome="pass")
    with pytest.raises(NotFound, match="任务 424242 不存在"):
        complete_task(rt, 424242, users["lisi"], outcome="pass")


def test_an_outcome_the_step_does_not_offer_is_refused(rt, users):
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="不是此环节可选的办理结果"):
        complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="resubmit")
    assert snapshot(rt, iid) == before


@pytest.mark.parametrize("form", [{"typename": "BpmnWorkflow"}, {"title": {"typename": "x"}},
                                  {"body": [{"typename": "x"}]}])
def test_form_data_with_a_typename_key_is_refused(rt, users, form):
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="return", opinion="改")
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="typename"):
        complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit", form=form)
    assert snapshot(rt, iid) == before


def test_a_claimed_task_belongs_to_its_claimer(rt, users):
    from db.models import OrgUnit, RoleGrant

    with transaction(rt.session_factory) as session:
        unit = session.scalar(select(OrgUnit).where(OrgUnit.name == "区教育局"))
        zhaoliu = session.scalar(select(User).where(User.username == "zhaoliu"))
        session.add(RoleGrant(user_id=zhaoliu.id, role="signer", org_unit_id=unit.id))
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    sign = task_id(rt, iid, "sign")
    claim_task(rt, sign, users["wangwu"])
    assert ready(rt, iid)["sign"].assignee_id == users["wangwu"].user_id
    with pytest.raises(Forbidden, match="王五签收"):
        complete_task(rt, sign, users["zhaoliu"], outcome="pass")
    with pytest.raises(Forbidden, match="王五签收"):
        claim_task(rt, sign, users["zhaoliu"])
    complete_task(rt, sign, users["wangwu"], outcome="pass")
    assert set(ready(rt, iid)) == {"egov_review"}


def test_the_starter_withdraws_with_a_reason_and_everything_ends_together(rt, users):
    iid = submit(rt, users["zhangsan"])
    with pytest.raises(InvalidInput, match="必须填写理由"):
        cancel_instance(rt, iid, users["zhangsan"], reason="")
    with pytest.raises(Forbidden, match="发起人"):
        cancel_instance(rt, iid, users["lisi"], reason="不想审")
    cancel_instance(rt, iid, users["zhangsan"], reason="稿件重复")
    assert instance(rt, iid).status == "cancelled" and instance(rt, iid).ended_at is not None
    assert ready(rt, iid) == {} and item_of(rt, iid).status == "cancelled"
    with reading(rt.session_factory) as session:
        last = history(session, iid)[-1]
    assert (last.actor, last.action, last.opinion) == ("张三", "cancel", "稿件重复")
    with pytest.raises(ConflictError, match="已结束"):
        cancel_instance(rt, iid, users["zhangsan"], reason="再撤一次")


def test_history_lists_who_did_what_in_which_role_when_and_why(rt, users, clock):
    iid = submit(rt, users["zhangsan"])
    clock.advance(minutes=30)
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="内容准确")
    with reading(rt.session_factory) as session:
        rows = history(session, iid)
    assert [(r.actor, r.role, r.action, r.outcome_label, r.opinion) for r in rows] == [
        ("张三", "editor", "start", None, None), ("李四", "reviewer", "complete", "通过", "内容准确")]
    assert (rows[1].at - rows[0].at).total_seconds() == 1800
