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
    """Only the step's role holders in the item's unit may work it; others are told which role it needs."""
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(Forbidden, match="需要“内容审核”角色"):
        complete_task(rt, task_id(rt, iid, "review"), users[outsider], outcome="pass")
    with pytest.raises(Forbidden):
        claim_task(rt, task_id(rt, iid, "review"), users[outsider])
    assert snapshot(rt, iid) == before


def test_a_deactivated_user_is_refused(rt, users):
    """A departed colleague's account stops working at once, even for tasks of a role they held."""
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
    """A review cannot be "resubmitted": only the outcomes the diagram offers at this step are accepted."""
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="不是此环节可选的办理结果"):
        complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="resubmit")
    assert snapshot(rt, iid) == before


@pytest.mark.parametrize("form", [{"typename": "BpmnWorkflow"}, {"title": {"typename": "x"}},
                                  {"body": [{"typename": "x"}]}])
def test_form_data_with_a_typename_key_is_refused(rt, users, form):
    """A typename key would be interpreted by SpiffWorkflow on load, so it is refused wherever it hides."""
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="return", opinion="改")
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="typename"):
        complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit", form=form)
    assert snapshot(rt, iid) == before


def test_a_claimed_task_belongs_to_its_claimer(rt, users):
    """After 王五 claims the sign-off, 赵六 (granted signer) can neither work nor claim it."""
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
    """Withdrawal needs a reason, is the starter's, and ends the instance, its tasks and the item together."""
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


def _grant(rt, username: str, role: str, unit_name: str = "区教育局") -> None:
    from db.models import OrgUnit, RoleGrant

    with transaction(rt.session_factory) as session:
        unit = session.scalar(select(OrgUnit).where(OrgUnit.name == unit_name))
        user = session.scalar(select(User).where(User.username == username))
        session.add(RoleGrant(user_id=user.id, role=role, org_unit_id=unit.id))


def _deactivate(rt, actor: Actor) -> None:
    with transaction(rt.session_factory) as session:
        session.get(User, actor.user_id).active = False


@pytest.mark.parametrize("stage, outsider", [("sign", "zhangsan"), ("sign", "linfang"),
                                             ("egov_review", "lisi"), ("egov_review", "zhouba")])
def test_later_steps_are_closed_to_people_outside_their_lane(rt, users, stage, outsider):
    """林芳 signs for 某街道办事处, not for 区教育局; the unit's own people cannot do the centre's step."""
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    if stage == "egov_review":
        complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    before = snapshot(rt, iid)
    with pytest.raises(Forbidden, match="您不是"):
        complete_task(rt, task_id(rt, iid, stage), users[outsider], outcome="pass")
    with pytest.raises(Forbidden):
        claim_task(rt, task_id(rt, iid, stage), users[outsider])
    assert snapshot(rt, iid) == before


def test_a_deactivated_user_can_neither_claim_nor_cancel(rt, users):
    iid = submit(rt, users["zhangsan"])
    _deactivate(rt, users["lisi"])
    before = snapshot(rt, iid)
    with pytest.raises(Forbidden, match="停用"):
        claim_task(rt, task_id(rt, iid, "review"), users["lisi"])
    _deactivate(rt, users["zhangsan"])
    with pytest.raises(Forbidden, match="停用"):
        cancel_instance(rt, iid, users["zhangsan"], reason="不发了")
    assert snapshot(rt, iid) == before


def test_form_data_with_a_typename_key_is_refused_even_on_a_step_without_a_form(rt, users):
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="typename"):
        complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass",
                      form={"note": {"deep": [{"typename": "BpmnWorkflow"}]}})
    assert snapshot(rt, iid) == before


def test_an_overlong_opinion_is_refused_and_changes_nothing(rt, users):
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="意见不能超过"):
        complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="好" * 2001)
    assert snapshot(rt, iid) == before


def test_once_a_signer_claims_the_sign_off_the_other_signer_is_refused(rt, users, clock):
    """王五 claims; 李四, also a signer of 区教育局 and not the reviewer here, no longer sees or works it."""
    from engine.queries import todo

    _grant(rt, "zhaoliu", "reviewer")
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["zhaoliu"], outcome="pass")
    sign = task_id(rt, iid, "sign")
    with reading(rt.session_factory) as session:
        assert sign in [t.id for t in todo(session, users["lisi"].user_id)]
    claim_task(rt, sign, users["wangwu"])
    claimed = ready(rt, iid)["sign"]
    assert (claimed.assignee_id, claimed.claimed_at) == (users["wangwu"].user_id, clock.now())
    before = snapshot(rt, iid)
    with pytest.raises(Forbidden, match="此任务已由王五签收"):
        complete_task(rt, sign, users["lisi"], outcome="pass")
    with pytest.raises(Forbidden, match="此任务已由王五签收"):
        claim_task(rt, sign, users["lisi"])
    assert snapshot(rt, iid) == before
    with reading(rt.session_factory) as session:
        assert sign not in [t.id for t in todo(session, users["lisi"].user_id)]
        assert [t.id for t in todo(session, users["wangwu"].user_id) if t.claimed_by_me] == [sign]
        assert [(h.actor, h.action) for h in history(session, iid)][-1] == ("王五", "claim")


def test_claiming_a_task_twice_is_harmless(rt, users):
    iid = submit(rt, users["zhangsan"])
    claim_task(rt, task_id(rt, iid, "review"), users["lisi"])
    before = snapshot(rt, iid)
    claim_task(rt, task_id(rt, iid, "review"), users["lisi"])
    assert snapshot(rt, iid) == before


def test_withdrawing_cancels_the_open_task_rows(rt, users):
    """The withdrawn review leaves every inbox, and nobody is recorded as having done it."""
    from db.models import HumanTask

    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    version = instance(rt, iid).version
    cancel_instance(rt, iid, users["zhangsan"], reason="稿件重复")
    with reading(rt.session_factory) as session:
        row = session.get(HumanTask, review)
        assert (row.state, row.completed_by_id) == ("cancelled", None)
    assert instance(rt, iid).version == version + 1 and instance(rt, iid).end_reason == "稿件重复"


def test_a_task_of_a_withdrawn_item_can_no_longer_be_worked(rt, users):
    """A reviewer with the page still open is told the item changed, not allowed to act on it."""
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    cancel_instance(rt, iid, users["zhangsan"], reason="稿件重复")
    before = snapshot(rt, iid)
    with pytest.raises(ConflictError, match="已不在待办状态"):
        complete_task(rt, review, users["lisi"], outcome="pass")
    with pytest.raises(ConflictError, match="已不在待办状态"):
        claim_task(rt, review, users["lisi"])
    assert snapshot(rt, iid) == before


def test_an_administrator_may_withdraw_an_item_and_is_recorded_as_such(rt, users):
    iid = submit(rt, users["zhangsan"])
    cancel_instance(rt, iid, users["liuyang"], reason="内容违规，管理员撤销")
    assert instance(rt, iid).status == "cancelled" and item_of(rt, iid).status == "cancelled"
    with reading(rt.session_factory) as session:
        last = history(session, iid)[-1]
    assert (last.actor, last.role, last.action, last.opinion) == ("刘洋", "admin", "cancel", "内容违规，管理员撤销")


@pytest.mark.parametrize("who", ["lisi", "wangwu", "sunqi", "chenjing"])
def test_only_the_starter_or_an_administrator_may_withdraw(rt, users, who):
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(Forbidden, match="只有发起人或.*系统管理员"):
        cancel_instance(rt, iid, users[who], reason="撤销")
    assert snapshot(rt, iid) == before


def test_withdrawing_an_unknown_item_is_a_clear_error(rt, users):
    with pytest.raises(NotFound, match="流程实例 424242 不存在"):
        cancel_instance(rt, 424242, users["zhangsan"], reason="撤销")


def test_the_full_history_of_a_published_item_reads_in_order(rt, users, clock):
    """The trail names every person of the three reviews (REV-9): name, role, action, opinion, time."""
    iid = submit(rt, users["zhangsan"])
    steps = [("review", "lisi", "return", "请补充检查范围"), ("revise", "zhangsan", "resubmit", ""),
             ("review", "lisi", "pass", "同意"), ("sign", "wangwu", "pass", "同意签发"),
             ("egov_review", "sunqi", "pass", "同意上线")]
    for bpmn, who, outcome, opinion in steps:
        clock.advance(minutes=10)
        form = {"title": "关于开展校园安全检查的通知", "body": "范围含食堂。"} if bpmn == "revise" else None
        complete_task(rt, task_id(rt, iid, bpmn), users[who], outcome=outcome, opinion=opinion, form=form)
    with reading(rt.session_factory) as session:
        rows = history(session, iid)
    assert [(r.actor, r.role, r.action, r.outcome_label, r.opinion) for r in rows] == [
        ("张三", "editor", "start", None, None),
        ("李四", "reviewer", "complete", "退回修改", "请补充检查范围"),
        ("张三", "editor", "complete", "重新提交", None),
        ("李四", "reviewer", "complete", "通过", "同意"),
        ("王五", "signer", "complete", "签发", "同意签发"),
        ("孙七", "egov_center", "complete", "同意上线", "同意上线"),
        ("系统", None, "service_task", None, None),  # the approval form registered (REV-14)
        ("系统", None, "service_task", None, None),  # the publication itself (publish_content)
        ("系统", None, "end", None, None),
    ]
    times = [r.at for r in rows]
    assert times == sorted(times) and (times[-1] - times[0]).total_seconds() == 50 * 60


def test_form_data_on_a_step_without_a_form_is_refused(rt, users):
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="没有需要填写的表单"):
        complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", form={"junk": "x" * 1000})
    assert snapshot(rt, iid) == before


def test_the_trail_records_the_cleaned_form_values_not_the_raw_submission(rt, users):
    from db.models import AuditEvent

    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="return", opinion="改标题")
    complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit",
                  form={"title": "  新标题  ", "body": "正文", "junk": "a" * 10_000})
    with reading(rt.session_factory) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == iid)
                                .order_by(AuditEvent.id.desc())).first()
    assert event.data["form"] == {"title": "新标题", "body": "正文"}


def test_an_administrator_of_another_branch_cannot_withdraw(rt, users):
    from db.models import OrgUnit, RoleGrant

    with transaction(rt.session_factory) as session:
        street = session.scalar(select(OrgUnit).where(OrgUnit.name == "某街道办事处"))
        session.add(RoleGrant(user_id=users["huanglei"].user_id, role="admin", org_unit_id=street.id))
    iid = submit(rt, users["zhangsan"])  # an item of 区教育局, a sibling of the street office
    with pytest.raises(Forbidden, match="系统管理员"):
        cancel_instance(rt, iid, users["huanglei"], reason="越权撤销")
    cancel_instance(rt, iid, users["liuyang"], reason="管理员撤销")  # the district's administrator may
    assert instance(rt, iid).status == "cancelled"


def test_an_outsider_asking_to_withdraw_an_ended_item_learns_nothing_about_it(rt, users):
    iid = submit(rt, users["zhangsan"])
    cancel_instance(rt, iid, users["zhangsan"], reason="重复")
    with pytest.raises(Forbidden):
        cancel_instance(rt, iid, users["lisi"], reason="再撤")


def test_each_runtime_has_its_own_handler_table(sqlite_url, clock):
    from engine import make_runtime

    first, second = make_runtime(sqlite_url, clock), make_runtime(sqlite_url, clock)
    first.handlers["publish_content"] = lambda params, ctx: {}
    assert second.handlers["publish_content"] is not first.handlers["publish_content"]
