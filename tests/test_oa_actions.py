"""The OA actions on a task (engine/oa_actions.py): each is one transaction, audited with its
reason, refused with a sentence — and changing nothing — for the wrong person, another unit's
people, a completed task or a missing reason."""

import pytest
from sqlalchemy import select

from db.models import HumanTask, Notification, TaskCopy
from db.session import reading
from engine import ConflictError, Forbidden, InvalidInput, claim_task, complete_task
from engine.oa_actions import (
    add_signer_after,
    copy_item,
    delegate_task,
    release_task,
    resolve_delegation,
    transfer_task,
    urge_task,
    withdraw_task,
)
from engine.queries import may_view_instance
from tests.helpers import events, grant, ready, snapshot, submit, task_id, task_row


def _notified(rt, username_id: int, kind: str) -> list[Notification]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(Notification).where(Notification.user_id == username_id,
                                                               Notification.kind == kind)))


# --- release -----------------------------------------------------------------------------

def test_a_claimed_group_task_can_be_released_back_to_the_group(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    with pytest.raises(InvalidInput, match="尚未签收"):
        release_task(rt, review, users["lisi"])
    claim_task(rt, review, users["lisi"])
    release_task(rt, review, users["lisi"], reason="出差三天")
    assert task_row(rt, review).assignee_id is None
    assert [e.opinion for e in events(rt, iid, "release")] == ["出差三天"]


def test_a_personal_task_cannot_be_released(sqlite_rt, sqlite_users):
    """The returned item is the submitting editor's own work (REV-4), not a group's."""
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="return", opinion="补充日期")
    with pytest.raises(InvalidInput, match="转办"):
        release_task(rt, task_id(rt, iid, "revise"), users["zhangsan"])


# --- 转办 ---------------------------------------------------------------------------------

def test_transfer_hands_the_task_to_another_holder_of_the_role_with_the_reason(rt, users):
    grant(rt, "wangwu", "reviewer")
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    transfer_task(rt, review, users["lisi"], to_user_id=users["wangwu"].user_id, reason="李四出差，请王五审核")
    assert task_row(rt, review).assignee_id == users["wangwu"].user_id
    (event,) = events(rt, iid, "transfer")
    assert (event.actor_name, event.opinion, event.data["to_name"]) == ("李四", "李四出差，请王五审核", "王五")
    assert _notified(rt, users["wangwu"].user_id, "transfer")
    with pytest.raises(Forbidden):  # 李四 no longer holds it
        complete_task(rt, review, users["lisi"], outcome="pass")
    complete_task(rt, review, users["wangwu"], outcome="pass", opinion="同意")
    # the transfer is not an act in the lane: 李四 may still sign (REV-3 counts acts, not hand-overs)
    complete_task(rt, task_id(rt, iid, "sign"), users["lisi"], outcome="pass", opinion="签发")


@pytest.mark.parametrize(("who", "to", "reason", "error", "message"), [
    ("lisi", "wangwu", "", InvalidInput, "必须填写理由"),  # missing reason
    ("lisi", "huanglei", "请协助", InvalidInput, "没有“内容审核”角色"),  # another unit's reviewer
    ("lisi", "zhaoliu", "请协助", InvalidInput, "没有“内容审核”角色"),  # same unit, no such role
    ("lisi", "lisi", "请协助", InvalidInput, "不能转办给自己"),
    ("zhouba", "wangwu", "越权", Forbidden, "不是“内容审核（二审）”的办理人"),  # wrong user
    ("huanglei", "wangwu", "越权", Forbidden, "不是“内容审核（二审）”的办理人"),  # wrong unit
])
def test_transfer_refusals_change_nothing(sqlite_rt, sqlite_users, who, to, reason, error, message):
    rt, users = sqlite_rt, sqlite_users
    grant(rt, "wangwu", "reviewer")
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(error, match=message):
        transfer_task(rt, task_id(rt, iid, "review"), users[who], to_user_id=users[to].user_id, reason=reason)
    assert snapshot(rt, iid) == before


def test_a_completed_task_cannot_be_transferred_and_the_answer_names_who_did_it(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    grant(rt, "wangwu", "reviewer")
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    with pytest.raises(ConflictError, match="此任务已由李四于"):
        transfer_task(rt, review, users["lisi"], to_user_id=users["wangwu"].user_id, reason="晚了")


def test_transfer_refuses_someone_who_acted_in_another_lane_rev_3(sqlite_rt, sqlite_users):
    """REV-3: the editor of the item cannot be handed its review, even holding the reviewer role."""
    rt, users = sqlite_rt, sqlite_users
    grant(rt, "zhangsan", "reviewer")
    iid = submit(rt, users["zhangsan"])
    with pytest.raises(InvalidInput, match="编辑、审核、签发权限相互分离"):
        transfer_task(rt, task_id(rt, iid, "review"), users["lisi"], to_user_id=users["zhangsan"].user_id, reason="请审")


# --- 委派 and 加签 --------------------------------------------------------------------------

def test_delegate_a_colleague_works_it_and_gives_it_back_the_owner_decides(rt, users):
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    delegate_task(rt, review, users["lisi"], to_user_id=users["zhaoliu"].user_id, reason="请核实数据")
    row = task_row(rt, review)
    assert (row.assignee_id, row.delegate_id, row.delegate_kind) == (users["lisi"].user_id, users["zhaoliu"].user_id,
                                                                     "delegate")
    with pytest.raises(Forbidden):  # the delegate advises; the owner decides
        complete_task(rt, review, users["zhaoliu"], outcome="pass")
    with pytest.raises(ConflictError, match="已委派给赵六"):
        transfer_task(rt, review, users["lisi"], to_user_id=users["wangwu"].user_id, reason="x")
    with pytest.raises(InvalidInput, match="办理意见"):
        resolve_delegation(rt, review, users["zhaoliu"], opinion="")
    with pytest.raises(Forbidden, match="没有委派给您"):
        resolve_delegation(rt, review, users["wangwu"], opinion="我来")
    resolve_delegation(rt, review, users["zhaoliu"], opinion="数据已核实无误")
    assert task_row(rt, review).delegate_id is None
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    actions = [(e.action, e.actor_name, e.opinion) for e in events(rt, iid, "delegate") + events(rt, iid, "delegate_resolve")]
    assert actions == [("delegate", "李四", "请核实数据"), ("delegate_resolve", "赵六", "数据已核实无误")]


def test_delegating_outside_the_items_units_is_refused(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="不是本事项所属单位或其上级单位的人员"):
        delegate_task(rt, task_id(rt, iid, "review"), users["lisi"], to_user_id=users["huanglei"].user_id, reason="x")
    with pytest.raises(InvalidInput, match="必须填写理由"):
        delegate_task(rt, task_id(rt, iid, "review"), users["lisi"], to_user_id=users["zhaoliu"].user_id, reason=" ")
    assert snapshot(rt, iid) == before


def test_sign_before_me_the_added_signer_decides_first_and_it_counts_as_an_act_rev_3(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    delegate_task(rt, review, users["lisi"], to_user_id=users["wangwu"].user_id, reason="请王五先会签", kind="sign_before")
    with pytest.raises(InvalidInput, match="必须填写理由"):  # 退回 needs a reason here too (REV-4)
        resolve_delegation(rt, review, users["wangwu"], opinion="", outcome="return")
    resolve_delegation(rt, review, users["wangwu"], opinion="同意", outcome="pass")
    (event,) = events(rt, iid, "countersign")
    assert (event.actor_name, event.role, event.data["outcome"]) == ("王五", "reviewer", "pass")
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    # 王五 signed in the review lane, so the sign-off is 李四's… who reviewed: nobody is left but a new signer
    with pytest.raises(Forbidden, match="同一人对同一事项只能办理一个环节"):
        complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")


def test_sign_after_me_i_approve_now_and_the_added_signer_decides(rt, users):
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    add_signer_after(rt, review, users["lisi"], to_user_id=users["zhaoliu"].user_id, opinion="我同意，请赵局长定")
    row = task_row(rt, review)
    assert (row.assignee_id, row.added_by_id) == (users["zhaoliu"].user_id, users["lisi"].user_id)
    (event,) = events(rt, iid, "countersign")
    assert (event.actor_name, event.data["kind"], event.data["to_name"]) == ("李四", "after", "赵六")
    complete_task(rt, review, users["zhaoliu"], outcome="pass", opinion="同意")
    assert "sign" in ready(rt, iid)
    with pytest.raises(InvalidInput, match="必须填写理由"):
        add_signer_after(rt, task_id(rt, iid, "sign"), users["wangwu"], to_user_id=users["zhaoliu"].user_id, opinion="")


# --- 撤回 ---------------------------------------------------------------------------------

def test_withdraw_reopens_my_step_while_the_next_has_not_acted(rt, users):
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    sign = task_id(rt, iid, "sign")
    claim_task(rt, sign, users["wangwu"])  # claiming is not acting
    urge_task(rt, sign, users["zhangsan"], message="请尽快")  # nor is being urged
    reopened = withdraw_task(rt, review, users["lisi"], reason="漏看了一处错别字")
    open_now = ready(rt, iid)
    assert set(open_now) == {"review"} and open_now["review"].id == reopened
    assert open_now["review"].assignee_id == users["lisi"].user_id
    assert task_row(rt, sign).state == "cancelled"
    (event,) = events(rt, iid, "withdraw")
    assert (event.actor_name, event.opinion) == ("李四", "漏看了一处错别字")
    complete_task(rt, reopened, users["lisi"], outcome="return", opinion="第二段有错别字")
    assert set(ready(rt, iid)) == {"revise"}


def test_withdraw_is_refused_once_the_next_step_acted_or_by_someone_else(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    with pytest.raises(InvalidInput, match="尚未办理"):
        withdraw_task(rt, review, users["lisi"], reason="x")
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    with pytest.raises(InvalidInput, match="必须填写理由"):
        withdraw_task(rt, review, users["lisi"], reason="")
    with pytest.raises(Forbidden, match="只有办理此环节的人"):
        withdraw_task(rt, review, users["wangwu"], reason="x")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass", opinion="签发")
    before = snapshot(rt, iid)
    with pytest.raises(ConflictError, match="下一环节已经办理"):
        withdraw_task(rt, review, users["lisi"], reason="想改")
    assert snapshot(rt, iid) == before


def test_withdraw_is_refused_when_the_item_already_ended(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    sign = task_id(rt, iid, "sign")
    complete_task(rt, sign, users["wangwu"], outcome="pass", opinion="签发")  # publishes and ends
    with pytest.raises(ConflictError, match="已经办结"):
        withdraw_task(rt, sign, users["wangwu"], reason="想撤回")


# --- 抄送 ---------------------------------------------------------------------------------

def test_copy_lets_readers_of_the_items_units_see_it(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    with reading(rt.session_factory) as session:
        from db.models import ProcessInstance, User

        row = session.get(ProcessInstance, iid)
        assert not any(may_view_instance(session, session.get(User, users[name].user_id), row) for name in ("wangwu", "wujiu"))
    count = copy_item(rt, iid, users["lisi"], to_user_ids=[users["wangwu"].user_id, users["wujiu"].user_id],
                      note="请阅知", task_id=task_id(rt, iid, "review"))
    assert count == 2
    with reading(rt.session_factory) as session:
        row = session.get(ProcessInstance, iid)
        assert all(may_view_instance(session, session.get(User, users[name].user_id), row) for name in ("wangwu", "wujiu"))
        assert session.scalar(select(TaskCopy.note).where(TaskCopy.to_user_id == users["wujiu"].user_id)) == "请阅知"
    assert events(rt, iid, "cc")[0].data["to_names"] == ["王五", "吴九"]
    assert _notified(rt, users["wangwu"].user_id, "cc")


@pytest.mark.parametrize(("who", "to", "note", "error", "message"), [
    ("lisi", "huanglei", "请阅", InvalidInput, "不是本事项所属单位或其上级单位的人员"),  # wrong unit
    ("lisi", "zhaoliu", "", InvalidInput, "必须填写理由"),  # missing note
    ("huanglei", "zhaoliu", "请阅", Forbidden, "只有发起人或当前环节的办理人"),  # wrong user
    ("zhouba", "zhaoliu", "请阅", Forbidden, "只有发起人或当前环节的办理人"),
])
def test_copy_refusals(sqlite_rt, sqlite_users, who, to, note, error, message):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    with pytest.raises(error, match=message):
        copy_item(rt, iid, users[who], to_user_ids=[users[to].user_id], note=note)
    with reading(rt.session_factory) as session:
        assert session.scalar(select(TaskCopy.id)) is None


# --- 催办 ---------------------------------------------------------------------------------

def test_urge_is_counted_shown_to_the_holders_and_not_repeated_within_an_hour(rt, users, clock):
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    assert urge_task(rt, review, users["zhangsan"], message="明天要发") == 1
    with pytest.raises(InvalidInput, match="1 小时内已催办过"):
        urge_task(rt, review, users["zhangsan"], message="再催")
    assert urge_task(rt, review, users["zhaoliu"], message="单位负责人督办") == 2  # a supervisor
    clock.advance(hours=2)
    assert urge_task(rt, review, users["zhangsan"], message="请今天办完") == 3
    row = task_row(rt, review)
    assert (row.urge_count, row.last_urged_at) == (3, clock.now())
    assert len(_notified(rt, users["lisi"].user_id, "urge")) == 3
    assert [e.role for e in events(rt, iid, "urge")] == [None, "unit_head", None]


@pytest.mark.parametrize(("who", "message", "error", "text"), [
    ("huanglei", "快", Forbidden, "只有发起人、本单位负责人或上级政府办公室"),  # another unit
    ("wangwu", "快", Forbidden, "只有发起人、本单位负责人或上级政府办公室"),  # same unit, no say
    ("lisi", "快", InvalidInput, "您就是此环节的办理人"),
    ("zhangsan", "", InvalidInput, "必须填写理由"),
])
def test_urge_refusals(sqlite_rt, sqlite_users, who, message, error, text):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    with pytest.raises(error, match=text):
        urge_task(rt, task_id(rt, iid, "review"), users[who], message=message)
    assert task_row(rt, task_id(rt, iid, "review")).urge_count == 0


def test_a_completed_task_cannot_be_urged(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    with pytest.raises(ConflictError, match="李四"):
        urge_task(rt, review, users["zhangsan"], message="快")


def test_every_oa_action_is_one_transaction_a_failure_writes_nothing(sqlite_rt, sqlite_users, monkeypatch):
    """A crash after the change was staged (here: the notification) leaves task, audit and copies as they were."""
    rt, users = sqlite_rt, sqlite_users
    grant(rt, "wangwu", "reviewer")
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    before = snapshot(rt, iid)

    def boom(*args, **kwargs):
        raise RuntimeError("mail server down")

    monkeypatch.setattr("engine.oa_actions.notify", boom)
    for action in (lambda: transfer_task(rt, review, users["lisi"], to_user_id=users["wangwu"].user_id, reason="r"),
                   lambda: delegate_task(rt, review, users["lisi"], to_user_id=users["zhaoliu"].user_id, reason="r"),
                   lambda: urge_task(rt, review, users["zhangsan"], message="m"),
                   lambda: copy_item(rt, iid, users["lisi"], to_user_ids=[users["zhaoliu"].user_id], note="n")):
        with pytest.raises(RuntimeError):
            action()
    assert snapshot(rt, iid) == before
    with reading(rt.session_factory) as session:
        assert session.scalar(select(HumanTask.urge_count).where(HumanTask.id == review)) == 0
        assert session.scalar(select(TaskCopy.id)) is None
