"""REV-1 … REV-5: three-level review (三审三校) through the engine, on SQLite and PostgreSQL."""

import pytest

from db.session import reading
from engine import InvalidInput, SeparationOfDutiesViolation, complete_task, return_task
from engine.queries import history
from tests.helpers import instance, item_of, ready, snapshot, submit, task_id


def _pass(rt, iid, bpmn_id, actor, opinion="同意"):
    complete_task(rt, task_id(rt, iid, bpmn_id), actor, outcome="pass", opinion=opinion)


def test_rev_1_nothing_is_published_before_every_review_passed(rt, users):
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


def test_rev_2_editor_then_reviewer_then_signer_whose_sign_off_is_final(rt, users):
    iid = submit(rt, users["zhangsan"], kind="wechat")
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"], "同意发布")
    assert ready(rt, iid) == {}
    assert instance(rt, iid).status == "completed" and item_of(rt, iid).status == "published"
    with reading(rt.session_factory) as session:
        steps = [(h.actor, h.role, h.action) for h in history(session, iid)]
    assert steps == [("张三", "editor", "start"), ("李四", "reviewer", "complete"),
                     ("王五", "signer", "complete"), ("系统", None, "end")]


def test_rev_3_a_reviewer_holding_the_signer_role_is_refused_at_sign_with_the_reason(rt, users):
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
    iid = submit(rt, users["huanglei"], kind="wechat")  # 黄磊: editor and reviewer of 某街道办事处
    before = snapshot(rt, iid)
    with pytest.raises(SeparationOfDutiesViolation):
        _pass(rt, iid, "review", users["huanglei"])
    assert snapshot(rt, iid) == before


def test_rev_3_acting_again_in_the_same_lane_after_a_return_is_allowed(rt, users):
    iid = submit(rt, users["zhangsan"])
    return_task(rt, task_id(rt, iid, "review"), users["lisi"], reason="标题有误")
    complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit",
                  form={"title": "关于开展校园安全检查的通知（修订）", "body": "各学校：请于本周五前完成自查。"})
    _pass(rt, iid, "review", users["lisi"])
    assert set(ready(rt, iid)) == {"sign"}


def test_rev_4_returning_without_a_reason_is_refused_and_changes_nothing(rt, users):
    iid = submit(rt, users["zhangsan"])
    before = snapshot(rt, iid)
    for reason in ["", "   "]:
        with pytest.raises(InvalidInput, match="必须填写理由"):
            return_task(rt, task_id(rt, iid, "review"), users["lisi"], reason=reason)
    assert snapshot(rt, iid) == before


def test_rev_4_a_returned_item_goes_back_to_its_editor_with_the_reason(rt, users):
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


@pytest.mark.parametrize("stage", ["sign", "egov_review"])
def test_rev_4_a_return_from_sign_or_egov_review_also_goes_to_the_editor(rt, users, stage):
    iid = submit(rt, users["zhangsan"])
    _pass(rt, iid, "review", users["lisi"])
    if stage == "egov_review":
        _pass(rt, iid, "sign", users["wangwu"])
    holder = users["wangwu"] if stage == "sign" else users["sunqi"]
    return_task(rt, task_id(rt, iid, stage), holder, reason="需要修改")
    assert set(ready(rt, iid)) == {"revise"} and item_of(rt, iid).status == "in_review"


def test_rev_5_portal_content_is_reviewed_last_by_the_district_egov_centre(rt, users):
    from db.models import OrgUnit

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
    iid = submit(rt, users["zhangsan"], kind="wechat")
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    with reading(rt.session_factory) as session:
        assert all(h.role != "egov_center" for h in history(session, iid))
    assert item_of(rt, iid).status == "published"
