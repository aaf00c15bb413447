"""REV-1 … REV-5: three-level review (三审三校) through the engine, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import func, select

from db.models import ContentItem, HumanTask, OrgUnit, ProcessInstance, RoleGrant
from db.session import reading, transaction
from engine import (
    Forbidden,
    InvalidInput,
    SeparationOfDutiesViolation,
    claim_task,
    complete_task,
    return_task,
)
from engine.queries import history
from tests.helpers import instance, item_of, ready, snapshot, submit, task_id


def _pass(rt, iid, bpmn_id, actor, opinion="同意"):
    complete_task(rt, task_id(rt, iid, bpmn_id), actor, outcome="pass", opinion=opinion)


def _rows(rt, iid) -> list[tuple[str, str]]:
    """Every task row the instance ever had, in order: (bpmn id, state)."""
    with reading(rt.session_factory) as session:
        return [(t.bpmn_id, t.state) for t in session.scalars(
            select(HumanTask).where(HumanTask.instance_id == iid).order_by(HumanTask.id))]


def test_rev_1_nothing_is_published_before_every_review_passed(rt, users):
    """A portal item stays 审核中 and unpublished until review, sign-off and the centre's review all passed."""
    iid = submit(rt, users["zhangsan"])
    assert set(ready(rt, iid)) == {"review"}  # no sign or publish step is open yet
    assert item_of(rt, iid).status == "in_review"
    _pass(rt, iid, "review", users["lisi"])
    assert set(ready(rt, iid)) == {"sign"} and item_of(rt, iid).published_at is None
    _pass(rt, iid, "sign", users["wangwu"])
    assert set(ready(rt, iid)) == {"egov_review"} and item_of(rt, iid).status == "in_review"
    _pass(rt, iid, "egov_review", users["sunqi"])
    item = item_of(rt, iid)
    assert item.status == "published" and item.published_at is not None


def test_rev_1_no_later_step_exists_until_the_one_before_it_passed(rt, users):
    """Sign-off or final review cannot be done early: their task rows do not exist yet."""
    iid = submit(rt, users["zhangsan"])
    assert _rows(rt, iid) == [("review", "ready")]
    assert item_of(rt, iid).published_at is None
    # The signer cannot step in for the reviewer to jump ahead.
    with pytest.raises(Forbidden):
        _pass(rt, iid, "review", users["wangwu"])
    _pass(rt, iid, "review", users["lisi"])
    assert _rows(rt, iid) == [("review", "completed"), ("sign", "ready")]
    assert item_of(rt, iid).published_at is None


def test_rev_1_a_returned_item_goes_through_every_review_again(rt, users):
    """A return at the last step does not let the revised text skip the earlier reviews."""
    iid = submit(rt, users["zhangsan"])
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    return_task(rt, task_id(rt, iid, "egov_review"), users["sunqi"], reason="附件缺失")
    complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit",
                  form={"title": "关于开展校园安全检查的通知", "body": "各学校：请于本周完成自查（附件已补）。"})
    assert set(ready(rt, iid)) == {"review"}
    _pass(rt, iid, "review", users["lisi"])
    assert set(ready(rt, iid)) == {"sign"} and item_of(rt, iid).status == "in_review"
    _pass(rt, iid, "sign", users["wangwu"])
    assert item_of(rt, iid).status == "in_review"
    _pass(rt, iid, "egov_review", users["sunqi"])
    assert item_of(rt, iid).status == "published" and instance(rt, iid).status == "completed"
    assert [bpmn for bpmn, _ in _rows(rt, iid)] == [
        "review", "sign", "egov_review", "revise", "review", "sign", "egov_review"]


def test_rev_2_editor_then_reviewer_then_signer_whose_sign_off_is_final(rt, users):
    """The trail shows the three steps in order; after the signer nothing else is asked and the flow ends."""
    iid = submit(rt, users["zhangsan"], kind="wechat")
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"], "同意发布")
    assert ready(rt, iid) == {}
    assert instance(rt, iid).status == "completed" and item_of(rt, iid).status == "published"
    with reading(rt.session_factory) as session:
        steps = [(h.actor, h.role, h.action) for h in history(session, iid)]
    assert steps == [("张三", "editor", "start"), ("李四", "reviewer", "complete"),
                     ("王五", "signer", "complete"), ("系统", None, "service_task"), ("系统", None, "end")]


def test_rev_2_only_an_editor_may_submit_an_item(rt, users):
    """The first of the three steps is the editor's: a reviewer cannot start an item."""
    with pytest.raises(Forbidden, match="内容编辑"):
        submit(rt, users["lisi"])
    with reading(rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(ContentItem)) == 0
        assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 0


def test_rev_2_a_wechat_item_is_published_the_moment_the_signer_signs(rt, users, clock):
    """For new media the unit's signer is the last word: nothing waits after the sign-off."""
    iid = submit(rt, users["zhangsan"], kind="wechat")
    _pass(rt, iid, "review", users["lisi"])
    assert item_of(rt, iid).status == "in_review"
    clock.advance(hours=2)
    _pass(rt, iid, "sign", users["wangwu"])
    row, item = instance(rt, iid), item_of(rt, iid)
    assert (row.status, row.ended_at) == ("completed", clock.now())
    assert (item.status, item.published_at) == ("published", clock.now())
    with reading(rt.session_factory) as session:
        assert history(session, iid)[-1].action == "end"


def test_rev_3_a_reviewer_holding_the_signer_role_is_refused_at_sign_with_the_reason(rt, users):
    """李四 holds both roles: having reviewed, she is told why she cannot sign, and 王五 signs instead."""
    iid = submit(rt, users["zhangsan"])
    _pass(rt, iid, "review", users["lisi"])
    before = snapshot(rt, iid)
    with pytest.raises(SeparationOfDutiesViolation) as refused:
        _pass(rt, iid, "sign", users["lisi"])
    assert "同一人对同一事项只能办理一个环节" in refused.value.message and "内容审核" in refused.value.message
    assert snapshot(rt, iid) == before  # nothing changed
    _pass(rt, iid, "sign", users["wangwu"])
    assert set(ready(rt, iid)) == {"egov_review"}


def test_rev_3_an_editor_who_is_also_a_reviewer_cannot_review_their_own_item(rt, users):
    """黄磊 is editor and reviewer of 某街道办事处: his own item needs someone else's review."""
    iid = submit(rt, users["huanglei"], kind="wechat")  # 黄磊: editor and reviewer of 某街道办事处
    before = snapshot(rt, iid)
    with pytest.raises(SeparationOfDutiesViolation):
        _pass(rt, iid, "review", users["huanglei"])
    assert snapshot(rt, iid) == before


def test_rev_3_acting_again_in_the_same_lane_after_a_return_is_allowed(rt, users):
    """The reviewer who returned an item reviews the revision: still one lane, so it is allowed."""
    iid = submit(rt, users["zhangsan"])
    return_task(rt, task_id(rt, iid, "review"), users["lisi"], reason="标题有误")
    complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit",
                  form={"title": "关于开展校园安全检查的通知（修订）", "body": "各学校：请于本周五前完成自查。"})
    _pass(rt, iid, "review", users["lisi"])
    assert set(ready(rt, iid)) == {"sign"}


def test_rev_3_a_reviewer_holding_the_signer_role_cannot_claim_the_sign_off_either(rt, users):
    iid = submit(rt, users["zhangsan"])
    _pass(rt, iid, "review", users["lisi"])
    before = snapshot(rt, iid)
    with pytest.raises(SeparationOfDutiesViolation, match="同一人"):
        claim_task(rt, task_id(rt, iid, "sign"), users["lisi"])
    assert snapshot(rt, iid) == before
    assert ready(rt, iid)["sign"].assignee_id is None


def test_rev_3_a_signer_who_returned_an_item_may_not_review_it_afterwards(rt, users):
    """Returning is acting: the signer who sent it back stays in the signer's lane."""
    with transaction(rt.session_factory) as session:
        unit = session.scalar(select(OrgUnit).where(OrgUnit.name == "区教育局"))
        session.add(RoleGrant(user_id=users["wangwu"].user_id, role="reviewer", org_unit_id=unit.id))
    iid = submit(rt, users["zhangsan"])
    _pass(rt, iid, "review", users["lisi"])
    return_task(rt, task_id(rt, iid, "sign"), users["wangwu"], reason="数据需核实")
    complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit",
                  form={"title": "关于开展校园安全检查的通知", "body": "各学校：数据已核实。"})
    before = snapshot(rt, iid)
    with pytest.raises(SeparationOfDutiesViolation, match="同一人"):
        _pass(rt, iid, "review", users["wangwu"])
    assert snapshot(rt, iid) == before
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    assert set(ready(rt, iid)) == {"egov_review"}


def test_rev_4_returning_without_a_reason_is_refused_and_changes_nothing(rt, users):
    """The editor must learn why: a return with an empty or blank reason is refused."""
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    for reason in ["", "   "]:
        with pytest.raises(InvalidInput, match="必须填写理由"):
            return_task(rt, task_id(rt, iid, "review"), users["lisi"], reason=reason)
    assert snapshot(rt, iid) == before


def test_rev_4_a_returned_item_goes_back_to_its_editor_with_the_reason(rt, users):
    """The submitting editor gets the item back with the reason; the resubmitted text replaces the old."""
    iid = submit(rt, users["zhangsan"])
    return_task(rt, task_id(rt, iid, "review"), users["lisi"], reason="请补充检查范围")
    revise = ready(rt, iid)["revise"]
    assert revise.assignee_id == users["zhangsan"].user_id
    with reading(rt.session_factory) as session:
        last = history(session, iid)[-1]
    assert (last.actor, last.outcome_label, last.opinion) == ("李四", "退回修改", "请补充检查范围")

    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="正文"):
        complete_task(rt, revise.id, users["zhangsan"], outcome="resubmit", form={"title": "新标题", "body": ""})
    assert snapshot(rt, iid) == before

    complete_task(rt, revise.id, users["zhangsan"], outcome="resubmit",
                  form={"title": "新标题", "body": "各学校：检查范围含食堂。"})
    item = item_of(rt, iid)
    assert (item.title, item.body) == ("新标题", "各学校：检查范围含食堂。")
    assert instance(rt, iid).title == "新标题"
    assert set(ready(rt, iid)) == {"review"}


@pytest.mark.parametrize("form", [{"title": "新标题"}, {"title": "新标题", "body": "  "},
                                  {"title": "", "body": "正文"}, {}])
def test_rev_4_a_resubmission_missing_title_or_body_is_refused_and_changes_nothing(rt, users, form):
    iid = submit(rt, users["zhangsan"])
    return_task(rt, task_id(rt, iid, "review"), users["lisi"], reason="请补充")
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="请填写"):
        complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit", form=form)
    assert snapshot(rt, iid) == before


def test_rev_4_returning_through_complete_without_an_opinion_is_refused_too(rt, users):
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    with pytest.raises(InvalidInput, match="必须填写理由"):
        complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="return", opinion=" ")
    assert snapshot(rt, iid) == before


@pytest.mark.parametrize("stage", ["sign", "egov_review"])
def test_rev_4_a_late_return_reaches_the_submitting_editor_with_its_reason(rt, users, stage):
    iid = submit(rt, users["zhangsan"])
    _pass(rt, iid, "review", users["lisi"])
    if stage == "egov_review":
        _pass(rt, iid, "sign", users["wangwu"])
    holder = {"sign": users["wangwu"], "egov_review": users["sunqi"]}[stage]
    return_task(rt, task_id(rt, iid, stage), holder, reason="表述不规范")
    revise = ready(rt, iid)["revise"]
    assert revise.assignee_id == users["zhangsan"].user_id
    with reading(rt.session_factory) as session:
        last = history(session, iid)[-1]
    assert (last.action, last.outcome_label, last.opinion) == ("complete", "退回修改", "表述不规范")
    complete_task(rt, revise.id, users["zhangsan"], outcome="resubmit",
                  form={"title": "规范后的标题", "body": "规范后的正文。"})
    assert set(ready(rt, iid)) == {"review"}
    assert (item_of(rt, iid).title, item_of(rt, iid).status) == ("规范后的标题", "in_review")


def test_rev_5_portal_content_is_reviewed_last_by_the_district_egov_centre(rt, users):
    """The centre's step is scoped to the district above the unit, and only its pass publishes."""
    iid = submit(rt, users["zhangsan"])
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    egov = ready(rt, iid)["egov_review"]
    with reading(rt.session_factory) as session:
        assert egov.role == "egov_center" and session.get(OrgUnit, egov.org_unit_id).name == "某区"
    assert item_of(rt, iid).status == "in_review"
    _pass(rt, iid, "egov_review", users["sunqi"])
    assert item_of(rt, iid).status == "published"


def test_rev_5_new_media_content_is_published_by_the_unit_without_the_egov_centre(rt, users):
    """A WeChat item is published on the unit's own sign-off; the centre never acts on it."""
    iid = submit(rt, users["zhangsan"], kind="wechat")
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    with reading(rt.session_factory) as session:
        assert all(h.role != "egov_center" for h in history(session, iid))
    assert item_of(rt, iid).status == "published"


def test_rev_5_new_media_content_never_gets_an_egov_review_task(rt, users):
    iid = submit(rt, users["zhangsan"], kind="wechat")
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    assert [bpmn for bpmn, _ in _rows(rt, iid)] == ["review", "sign"]


def test_rev_5_the_egov_centre_must_pass_before_portal_content_goes_online(rt, users):
    """Until 孙七 passes it, the signed portal item is not published and the instance runs on."""
    iid = submit(rt, users["zhangsan"])
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    assert (instance(rt, iid).status, item_of(rt, iid).published_at) == ("running", None)
    # The unit's own people cannot do the centre's step.
    for name in ["lisi", "wangwu", "zhangsan"]:
        with pytest.raises(Forbidden):
            _pass(rt, iid, "egov_review", users[name])
    _pass(rt, iid, "egov_review", users["sunqi"])
    assert (instance(rt, iid).status, item_of(rt, iid).status) == ("completed", "published")
