"""Review integrity (REV-1, REV-2): every sign-off binds the exact text it approved; the next
reviewer sees the difference; an edit after a sign-off voids the approvals and sends the item back,
so nothing is published that was not approved as published."""

import pytest
from sqlalchemy import select, update

from db.models import ContentItem, ContentVersion, Notification, SignOff
from db.session import reading, transaction
from engine import ConflictError, Forbidden, InvalidInput, complete_task
from engine.review_integrity import content_hash, edit_content, review_context
from tests.helpers import events, instance, item_of, ready, submit, task_id, task_row


def _sign_offs(rt, iid) -> list[SignOff]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(SignOff).where(SignOff.instance_id == iid).order_by(SignOff.id)))


def _context(rt, iid):
    with reading(rt.session_factory) as session:
        return review_context(session, instance(rt, iid))


def test_the_hash_covers_title_and_body_without_ambiguity():
    assert content_hash("ab", "c") != content_hash("a", "bc")
    assert content_hash("通知", "正文") == content_hash("通知", "正文")


def test_rev_2_each_sign_off_binds_the_sha256_of_the_text_it_saw(rt, users):
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    item = item_of(rt, iid)
    (sign_off,) = _sign_offs(rt, iid)
    assert (sign_off.sha256, sign_off.approved, sign_off.role) == (content_hash(item.title, item.body), True, "reviewer")
    context = _context(rt, iid)
    assert context.unchanged and context.previous_by == "李四"


def test_rev_1_an_edit_after_a_sign_off_voids_it_and_sends_the_item_back_to_review(rt, users):
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    sign = task_id(rt, iid, "sign")
    voided = edit_content(rt, users["zhangsan"], iid, title="关于开展校园安全检查的通知",
                          body="各学校：请于本周五前完成自查。", reason="补充截止时间")
    assert voided == 1
    assert task_row(rt, sign).state == "cancelled"
    assert set(ready(rt, iid)) == {"review"} and ready(rt, iid)["review"].id != review
    (sign_off,) = _sign_offs(rt, iid)
    assert sign_off.voided_at is not None and "补充截止时间" in sign_off.void_reason
    (event,) = events(rt, iid, "content_edit")
    assert (event.actor_name, event.opinion, event.data["from_version"], event.data["to_version"]) == (
        "张三", "补充截止时间", 1, 2)
    with reading(rt.session_factory) as session:
        assert session.scalar(select(Notification.kind).where(Notification.user_id == users["lisi"].user_id)) == "voided"
    # the reviewer sees exactly what changed since their (now void) approval
    context = _context(rt, iid)
    assert not context.unchanged and context.previous.voided_at is not None
    assert "".join(p.text for p in context.body_diff if p.op == "insert") == "五前"
    assert "".join(p.text for p in context.body_diff if p.op == "delete") == ""


def test_rev_1_what_is_published_is_exactly_what_every_standing_sign_off_approved(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    edit_content(rt, users["zhangsan"], iid, title="关于开展校园安全检查的通知（修订）", body="各学校：请于周五前完成自查。",
                 reason="标题加注修订")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意修订稿")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass", opinion="签发")
    complete_task(rt, task_id(rt, iid, "egov_review"), users["sunqi"], outcome="pass", opinion="同意上线")
    item = item_of(rt, iid)
    assert item.status == "published"
    standing = [s for s in _sign_offs(rt, iid) if s.voided_at is None]
    assert [s.role for s in standing] == ["reviewer", "signer", "egov_center"]
    assert {s.sha256 for s in standing} == {content_hash(item.title, item.body)}
    with reading(rt.session_factory) as session:
        assert [v.number for v in session.scalars(select(ContentVersion).where(ContentVersion.content_id == item.id))] == [1, 2]


def test_an_edit_before_anyone_approved_keeps_the_review_where_it_is(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    assert edit_content(rt, users["zhangsan"], iid, title="新标题", body="新正文", reason="改标题") == 0
    assert task_id(rt, iid, "review") == review and task_row(rt, review).title == "新标题"
    assert item_of(rt, iid).title == "新标题" and instance(rt, iid).title == "新标题"


@pytest.mark.parametrize(("who", "title", "reason", "error", "message"), [
    ("lisi", "改", "越权", Forbidden, "只有提交稿件的编辑"),
    ("huanglei", "改", "越权", Forbidden, "只有提交稿件的编辑"),
    ("zhangsan", "改", "", InvalidInput, "修改理由"),
    ("zhangsan", "关于开展校园安全检查的通知", "没改", InvalidInput, "内容没有变化"),
    ("zhangsan", "", "清空", InvalidInput, "请填写“标题”"),
])
def test_edit_refusals_change_nothing(sqlite_rt, sqlite_users, who, title, reason, error, message):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    with pytest.raises(error, match=message):
        edit_content(rt, users[who], iid, title=title, body="各学校：请于本周完成自查。", reason=reason)
    assert [s.voided_at for s in _sign_offs(rt, iid)] == [None]
    assert set(ready(rt, iid)) == {"sign"}


def test_edit_is_refused_once_returned_or_published(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="return", opinion="补充日期")
    with pytest.raises(InvalidInput, match="修改稿件”环节"):
        edit_content(rt, users["zhangsan"], iid, title="x", body="y", reason="z")
    wechat = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, wechat, "review"), users["lisi"], outcome="pass", opinion="同意")
    complete_task(rt, task_id(rt, wechat, "sign"), users["wangwu"], outcome="pass", opinion="签发")
    with pytest.raises(ConflictError, match="已结束审核"):
        edit_content(rt, users["zhangsan"], wechat, title="x", body="y", reason="z")


def test_a_resubmission_after_a_return_starts_a_new_round(sqlite_rt, sqlite_users):
    """The signer returns it: the reviewer's earlier approval no longer stands for the revised text."""
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="return", opinion="请补充联系人")
    complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit",
                  form={"title": "关于开展校园安全检查的通知", "body": "各学校：请于本周完成自查。联系人：张三。"})
    approvals = [s for s in _sign_offs(rt, iid) if s.approved]
    assert len(approvals) == 1 and approvals[0].voided_at is not None
    assert "联系人：张三。" in "".join(p.text for p in _context(rt, iid).body_diff if p.op == "insert")


def test_a_change_made_outside_the_edit_path_stops_the_next_approval(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    with transaction(rt.session_factory) as session:  # e.g. a direct database edit
        session.execute(update(ContentItem).values(body="被人悄悄改过的正文"))
    with pytest.raises(ConflictError, match="审核意见与现在的内容不一致"):
        complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass", opinion="签发")
    assert item_of(rt, iid).status == "in_review"


def test_an_edit_voids_a_signers_approval_given_inside_the_open_step(sqlite_rt, sqlite_users):
    """后加签: 李四 approved and handed the review to 赵六; the edit voids 李四's approval and gives
    the step back to him; 前加签 works the same way without moving the step."""
    from engine.oa_actions import add_signer_after

    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    add_signer_after(rt, review, users["lisi"], to_user_id=users["zhaoliu"].user_id, opinion="同意，请赵局长定")
    assert edit_content(rt, users["zhangsan"], iid, title="关于开展校园安全检查的通知", body="改过的正文",
                        reason="补充") == 1
    assert task_row(rt, review).state == "ready"
    assert (task_row(rt, review).assignee_id, task_row(rt, review).added_by_id) == (users["lisi"].user_id, None)
    assert [s.voided_at is not None for s in _sign_offs(rt, iid)] == [True]
