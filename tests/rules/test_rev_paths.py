"""REV-6, REV-7, REV-8, REV-10, REV-12, REV-14, REV-15: the special paths of 三审三校, driven as users would.

The manual clock starts on Mon 2026-03-02 09:00 Beijing time (a working day); Tue 3/3 is one.
"""

from datetime import datetime

import pytest
from sqlalchemy import select

from db.models import ApprovalForm, ContentItem, Deadline, OrgUnit, ProcessInstance, Violation
from db.session import reading
from engine import InvalidInput, SeparationOfDutiesViolation, complete_task, submit_content
from engine.policy import load_policy
from engine.sweep import sweep
from tests.helpers import instance, item_of, ready, task_id

POLICY = "各地各部门：现就……通知如下。"
READINGS = [{"form": "text", "title": "一图读懂", "body": "文字解读全文"},
            {"form": "graphic", "title": "图解：新政要点", "body": "图表图解说明"}]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def special(rt, actor, mode, *, kind="wechat", title="关于调整学生资助标准的通知", **path) -> int:
    return submit_content(rt, actor, title=title, body=POLICY, target_kind=kind,
                          target_name="通知公告" if kind == "portal_column" else "区教育发布", mode=mode, **path)


def _pass(rt, iid, bpmn_id, actor, outcome="pass", **kwargs):
    complete_task(rt, task_id(rt, iid, bpmn_id), actor, outcome=outcome, **kwargs)


def _violations(rt, rule=None) -> list[Violation]:
    with reading(rt.session_factory) as session:
        query = select(Violation).order_by(Violation.id)
        return list(session.scalars(query.where(Violation.rule == rule) if rule else query))


def _counts(rt) -> tuple[int, int]:
    with reading(rt.session_factory) as session:
        return (len(list(session.scalars(select(ContentItem.id)))), len(list(session.scalars(select(ProcessInstance.id)))))


def _form(rt, iid) -> ApprovalForm | None:
    item = item_of(rt, iid)
    with reading(rt.session_factory) as session:
        return session.scalar(select(ApprovalForm).where(ApprovalForm.content_item_id == item.id))


# --- REV-6 ---------------------------------------------------------------------------------------

def test_rev_6_emergency_information_goes_online_first_and_its_formalities_follow(rt, users, clock):
    iid = special(rt, users["zhangsan"], "emergency", reason="突发暴雨，明日全区中小学停课")
    task = ready(rt, iid)["emergency_publish"]
    with reading(rt.session_factory) as session:
        assert (task.role, session.get(OrgUnit, task.org_unit_id).name) == ("egov_center", "某区")
    assert item_of(rt, iid).status == "in_review"
    clock.advance(minutes=5)
    _pass(rt, iid, "emergency_publish", users["sunqi"], outcome="publish", opinion="已核实，立即发布")
    item = item_of(rt, iid)
    assert (item.status, item.published_at) == ("published", clock.now())
    # The formalities: the unit's own review and sign-off, due by the end of the next working day.
    assert set(ready(rt, iid)) == {"formal_review"}
    assert instance(rt, iid).next_timer_at == at("2026-03-03T23:59:59+08:00")
    _pass(rt, iid, "formal_review", users["lisi"])
    _pass(rt, iid, "formal_sign", users["wangwu"])
    form = _form(rt, iid)
    assert [step["name"] for step in form.record] == ["张三", "李四", "王五"]
    assert instance(rt, iid).status == "completed" and instance(rt, iid).next_timer_at is None
    assert _violations(rt) == []


def test_rev_6_formalities_completed_late_are_a_violation_recorded_once(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    rt.policy = load_policy(overrides='{"emergency_formalities_working_days": 2}')
    iid = special(rt, users["zhangsan"], "emergency", reason="停水通知")
    _pass(rt, iid, "emergency_publish", users["sunqi"], outcome="publish")
    assert instance(rt, iid).next_timer_at == at("2026-03-04T23:59:59+08:00")  # the profile's 2 working days
    clock.set(at("2026-03-04T23:59:00+08:00"))
    sweep(rt)
    assert _violations(rt) == []
    clock.set(at("2026-03-05T00:00:30+08:00"))
    sweep(rt)
    (late,) = _violations(rt, "REV-6")
    assert late.category == "2" and "关于调整学生资助标准的通知" in late.description
    # The formalities can still be completed; the record stays.
    _pass(rt, iid, "formal_review", users["lisi"])
    _pass(rt, iid, "formal_sign", users["wangwu"])
    assert instance(rt, iid).status == "completed" and len(_violations(rt)) == 1


def test_rev_6_the_office_sends_information_that_is_not_urgent_through_normal_review(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = special(rt, users["zhangsan"], "emergency", reason="请尽快发布")
    _pass(rt, iid, "emergency_publish", users["sunqi"], outcome="normal", opinion="不属于紧急信息")
    assert set(ready(rt, iid)) == {"review"} and item_of(rt, iid).status == "in_review"
    assert instance(rt, iid).next_timer_at is None


def test_rev_6_emergency_formalities_keep_separation_of_duties(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = special(rt, users["zhangsan"], "emergency", reason="紧急")
    _pass(rt, iid, "emergency_publish", users["sunqi"], outcome="publish")
    _pass(rt, iid, "formal_review", users["lisi"])
    with pytest.raises(SeparationOfDutiesViolation):
        _pass(rt, iid, "formal_sign", users["lisi"])


# --- REV-7 / REV-15 reposts ------------------------------------------------------------------------

def test_rev_7_a_superiors_request_is_reposted_within_12_hours_or_recorded(rt, users, clock):
    on_time = special(rt, users["zhangsan"], "repost", repost_trigger="request", source="区委宣传部转载通知〔2026〕3号")
    assert instance(rt, on_time).next_timer_at == at("2026-03-02T21:00+08:00")
    assert set(ready(rt, on_time)) == {"repost_review"}
    clock.advance(hours=11)
    _pass(rt, on_time, "repost_review", users["lisi"], form={"content_review": "来源权威，内容准确",
                                                             "secrecy_review": "不涉密"})
    _pass(rt, on_time, "sign", users["wangwu"])
    assert item_of(rt, on_time).status == "published"
    assert instance(rt, on_time).status == "completed"  # publishing in time ends the deadline too
    late = special(rt, users["zhangsan"], "repost", repost_trigger="request", source="市政府办转载要求")
    clock.advance(hours=12, minutes=1)
    sweep(rt)
    (violation,) = _violations(rt)
    assert (violation.rule, violation.instance_id) == ("REV-7", late)
    assert set(ready(rt, late)) == {"repost_review"}  # the repost still has to be done


@pytest.mark.parametrize(("profile", "trigger", "timed"), [
    ("strictest", "request", True), ("strictest", "policy", True),  # both triggers by default
    ("tongliang", "request", True), ("tongliang", "policy", False),  # 000: a superior's request only
    ("yongzhou", "policy", True), ("yongzhou", "request", False),  # 004: the superior site's policy only
    ("strictest", "other", False),  # another website's information: reviewed, no deadline
])
def test_rev_7_which_trigger_carries_the_12_hour_deadline_is_the_profiles(sqlite_rt, sqlite_users, profile, trigger,
                                                                           timed):
    sqlite_rt.policy = load_policy(profile)
    iid = special(sqlite_rt, sqlite_users["zhangsan"], "repost", repost_trigger=trigger, source="https://www.gov.cn/")
    assert (instance(sqlite_rt, iid).next_timer_at is not None) == timed
    assert set(ready(sqlite_rt, iid)) == {"repost_review"}


def test_rev_15_a_repost_passes_only_with_its_content_and_secrecy_review_recorded(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = special(rt, users["zhangsan"], "repost", repost_trigger="other", source="https://www.example.gov.cn/a.html")
    with pytest.raises(InvalidInput, match="保密审查意见"):
        _pass(rt, iid, "repost_review", users["lisi"], form={"content_review": "内容准确", "secrecy_review": " "})
    assert set(ready(rt, iid)) == {"repost_review"}
    # Returning is a review result too: both opinions are written down with the reason.
    _pass(rt, iid, "repost_review", users["lisi"], outcome="return", opinion="来源需核实",
          form={"content_review": "来源网站未注明出处", "secrecy_review": "未见涉密内容"})
    complete_task(rt, task_id(rt, iid, "revise"), users["zhangsan"], outcome="resubmit",
                  form={"title": "转载：关于调整学生资助标准的通知", "body": POLICY})
    assert set(ready(rt, iid)) == {"repost_review"}  # back to the repost review, not the plain one
    _pass(rt, iid, "repost_review", users["lisi"], form={"content_review": "已核实来源", "secrecy_review": "不涉密"})
    assert item_of(rt, iid).details["repost_review"]["secrecy_review"] == "不涉密"


def test_rev_7_a_repost_without_its_trigger_or_source_is_refused(sqlite_rt, sqlite_users):
    before = _counts(sqlite_rt)
    with pytest.raises(InvalidInput, match="REV-7"):
        special(sqlite_rt, sqlite_users["zhangsan"], "repost", repost_trigger="rumour", source="x")
    with pytest.raises(InvalidInput, match="来源"):
        special(sqlite_rt, sqlite_users["zhangsan"], "repost", repost_trigger="request", source="")
    assert _counts(sqlite_rt) == before


# --- REV-15 pushed-in content ----------------------------------------------------------------------

PUSH = {"source_system": "区教育局信息发布系统", "editor": "赵敏", "reviewer": "钱亮", "signer": "孙红",
        "signed_at": "2026-03-02T08:30+08:00"}


@pytest.mark.parametrize(("change", "message"), [
    ({"signer": ""}, "来源单位签发人"),
    ({"reviewer": "赵敏"}, "三个不同的人"),
    ({"signed_at": "2026-03-02T10:00+08:00"}, "推送前完成签发"),
    ({"signed_at": "昨天"}, "签发时间"),
])
def test_rev_15_pushed_content_is_refused_without_three_reviews_done_before_the_push(sqlite_rt, sqlite_users,
                                                                                     change, message):
    before = _counts(sqlite_rt)
    with pytest.raises(InvalidInput, match=message):
        special(sqlite_rt, sqlite_users["zhangsan"], "pushed", kind="portal_column", **{**PUSH, **change})
    assert _counts(sqlite_rt) == before


def test_rev_15_pushed_content_with_its_reviews_done_goes_to_the_portals_final_review(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = special(rt, users["zhangsan"], "pushed", kind="portal_column", **PUSH)
    assert set(ready(rt, iid)) == {"egov_review"}  # the unit's three reviews were done before the push
    _pass(rt, iid, "egov_review", users["sunqi"])
    assert item_of(rt, iid).status == "published"
    assert [(s["step"], s["name"]) for s in _form(rt, iid).record] == [("编辑", "赵敏"), ("审核", "钱亮"), ("签发", "孙红")]
    with pytest.raises(InvalidInput, match="门户网站栏目"):
        special(rt, users["zhangsan"], "pushed", kind="wechat", **PUSH)


# --- REV-8 -----------------------------------------------------------------------------------------

def test_rev_8_a_policy_document_is_published_with_interpretations_in_two_forms(rt, users):
    before = _counts(rt)
    for readings in ([READINGS[0]], [READINGS[0], {**READINGS[1], "form": "text"}], []):
        with pytest.raises(InvalidInput, match="REV-8"):
            special(rt, users["zhangsan"], "policy_document", interpretations=readings)
    assert _counts(rt) == before
    iid = special(rt, users["zhangsan"], "policy_document", interpretations=READINGS)
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    item = item_of(rt, iid)
    assert item.status == "published"
    assert [i["published_at"] for i in item.details["interpretations"]] == [item.published_at.isoformat()] * 2


def test_rev_8_a_profile_without_a_count_still_needs_one_interpretation(sqlite_rt, sqlite_users):
    sqlite_rt.policy = load_policy("weiyang")  # 001 §20: 同步 with no count
    with pytest.raises(InvalidInput, match="不少于 1 种"):
        special(sqlite_rt, sqlite_users["zhangsan"], "policy_document", interpretations=[])
    assert special(sqlite_rt, sqlite_users["zhangsan"], "policy_document", interpretations=READINGS[:1])


# --- REV-10 ----------------------------------------------------------------------------------------

def test_rev_10_out_of_scope_information_is_applied_for_3_days_ahead_and_approved_by_the_leader(rt, users):
    before = _counts(rt)
    with pytest.raises(InvalidInput, match="提前 3 天申请") as refused:
        special(rt, users["zhangsan"], "out_of_scope", planned_on="2026-03-04", reason="转发企业招聘信息")
    assert "2026-03-05" in refused.value.message and "紧急信息" in refused.value.message
    assert _counts(rt) == before
    iid = special(rt, users["zhangsan"], "out_of_scope", planned_on="2026-03-05", reason="转发企业招聘信息")
    task = ready(rt, iid)["scope_approval"]
    assert task.role == "district_office"
    _pass(rt, iid, "scope_approval", users["zhouba"], outcome="approve", opinion="同意")
    assert set(ready(rt, iid)) == {"review"}


def test_rev_10_a_refused_application_is_never_published(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = special(rt, users["zhangsan"], "out_of_scope", planned_on="2026-03-10", reason="商业推广")
    with pytest.raises(InvalidInput, match="理由"):
        _pass(rt, iid, "scope_approval", users["zhouba"], outcome="reject")
    _pass(rt, iid, "scope_approval", users["zhouba"], outcome="reject", opinion="不属于政务信息")
    assert (item_of(rt, iid).status, instance(rt, iid).status) == ("rejected", "completed")
    assert ready(rt, iid) == {}


# --- REV-12 ----------------------------------------------------------------------------------------

def _published(rt, users) -> int:
    iid = special(rt, users["zhangsan"], "normal", title="区义务教育入学政策")
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    return item_of(rt, iid).id


def test_rev_12_a_misreading_is_answered_with_authoritative_information_within_24_hours(rt, users, clock):
    policy_item = _published(rt, users)
    iid = special(rt, users["zhangsan"], "clarification", title="关于入学政策的权威解读",
                  related_id=policy_item, misreading="网传“取消划片入学”")
    assert instance(rt, iid).next_timer_at == at("2026-03-03T09:00+08:00")
    clock.advance(hours=23)
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    assert instance(rt, iid).status == "completed" and _violations(rt) == []
    late = special(rt, users["zhangsan"], "clarification", related_id=policy_item, misreading="又有新的误读")
    clock.advance(hours=24, seconds=1)
    sweep(rt)
    assert [(v.rule, v.instance_id) for v in _violations(rt)] == [("REV-12", late)]


def test_rev_12_only_a_published_item_of_ones_own_unit_can_be_answered(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    draft = item_of(rt, special(rt, users["zhangsan"], "normal")).id
    for related in (draft, 999, "x"):
        with pytest.raises(InvalidInput, match="REV-12"):
            special(rt, users["zhangsan"], "clarification", related_id=related, misreading="误读")
    mine = _published(rt, users)
    with pytest.raises(InvalidInput, match="REV-12"):  # 黄磊 is at the street office, not the drafting unit
        special(rt, users["huanglei"], "clarification", related_id=mine, misreading="误读")


# --- REV-14 ----------------------------------------------------------------------------------------

def test_rev_14_portal_content_goes_online_only_after_its_approval_form_is_registered(rt, users, clock):
    iid = special(rt, users["zhangsan"], "normal", kind="portal_column")
    _pass(rt, iid, "review", users["lisi"], opinion="内容准确")
    _pass(rt, iid, "sign", users["wangwu"], opinion="同意发布")
    assert _form(rt, iid) is None
    clock.advance(minutes=10)
    _pass(rt, iid, "egov_review", users["sunqi"])
    form, item = _form(rt, iid), item_of(rt, iid)
    with reading(rt.session_factory) as session:
        assert session.get(OrgUnit, form.office_unit_id).name == "某区"
    assert form.number == "2026-00001" and item.details["approval_form"] == form.number
    assert [(s["step"], s["name"], s["opinion"]) for s in form.record] == [
        ("编辑", "张三", ""), ("审核", "李四", "内容准确"), ("签发", "王五", "同意发布")]
    assert form.registered_at <= item.published_at


def test_rev_14_the_publish_step_refuses_a_portal_item_without_its_form(sqlite_rt, sqlite_users):
    """The last line of defence: even a diagram that skipped registration cannot publish the item."""
    from handlers.content import publish_content
    from handlers.registry import HandlerContext

    rt = sqlite_rt
    iid = special(rt, sqlite_users["zhangsan"], "normal", kind="portal_column")
    item = item_of(rt, iid)
    from db.session import transaction

    with transaction(rt.session_factory) as session, pytest.raises(ValueError, match="REV-14"):
        publish_content({"content_id": item.id}, HandlerContext(session, rt.clock.now(), iid, f"content:{item.id}"))
    assert item_of(rt, iid).status == "in_review"


def test_rev_14_new_media_items_need_no_website_approval_form(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = special(rt, users["zhangsan"], "normal")
    _pass(rt, iid, "review", users["lisi"])
    _pass(rt, iid, "sign", users["wangwu"])
    assert item_of(rt, iid).status == "published" and _form(rt, iid) is None
    with reading(rt.session_factory) as session:  # and the plain path waits on no timer
        assert session.scalar(select(Deadline.id).where(Deadline.instance_id == iid)) is None
