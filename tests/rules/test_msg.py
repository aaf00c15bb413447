"""MSG-1 … MSG-3: 网民留言办理 through the engine, with the injected clock.

The operator 孙七 (某区 电子政务管理中心) accepts messages for 区教育局. Dates by hand: the clock
starts Mon 2026-03-02 09:00 Beijing time; working days after it: Tue 3/3 (1), Wed 3/4 (2), Thu 3/5 (3),
Fri 3/6 (4), Mon 3/9 (5); 15 working days end Mon 3/23. Office hours 09:00–17:30.
"""

from datetime import date, datetime

import pytest
from sqlalchemy import select

from db.models import CitizenMessage, HumanTask, Notification, OrgUnit, ProcessInstance, User, Violation
from db.session import reading, transaction
from engine import Forbidden, InvalidInput, complete_task
from engine.calendar import CalendarNotCovered
from engine.duty import set_duty
from engine.messages import accept_message, record_interaction
from engine.policy import load_policy
from engine.queries import history
from engine.sweep import sweep
from tests.helpers import instance, ready, register_asset, task_id

REPLY = {"reply": "您好，秋季学期开学时间为9月1日。", "reply_public": "同意公开"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _unit(rt, name="区教育局") -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(OrgUnit.id).where(OrgUnit.name == name))


def accept(rt, users, message_type="consultation", subject="开学时间咨询", **kwargs) -> int:
    return accept_message(rt, users["sunqi"], message_type=message_type, unit_id=kwargs.pop("unit_id", _unit(rt)),
                          subject=subject, body="请问今年秋季什么时候开学？", citizen_name="王女士",
                          citizen_contact="138****0000", **kwargs)


def message(rt, iid) -> CitizenMessage:
    with reading(rt.session_factory) as session:
        key = session.get(ProcessInstance, iid).business_key
        return session.get(CitizenMessage, int(key.partition(":")[2]))


def _violations(rt) -> list[Violation]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(Violation).order_by(Violation.id)))


def _notices(rt, username, kind) -> list[Notification]:
    with reading(rt.session_factory) as session:
        uid = session.scalar(select(User.id).where(User.username == username))
        return list(session.scalars(select(Notification).where(Notification.user_id == uid, Notification.kind == kind)))


def _reply(rt, iid, users, bpmn_id="reply_consultation", who="zhangsan"):
    complete_task(rt, task_id(rt, iid, bpmn_id), users[who], outcome="replied", form=REPLY)


# --- MSG-1 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("message_type", "profile", "reply_task", "due"), [
    ("consultation", "strictest", "reply_consultation", "2026-03-09T23:59:59+08:00"),  # 5 working days
    ("suggestion", "strictest", "reply_general", "2026-03-23T23:59:59+08:00"),  # 15
    ("complaint", "strictest", "reply_general", "2026-03-23T23:59:59+08:00"),
    ("other", "strictest", "reply_general", "2026-03-23T23:59:59+08:00"),
    ("simple", "strictest", "reply_simple", "2026-03-03T23:59:59+08:00"),  # 1
    ("error_report", "strictest", "reply_error", "2026-03-03T23:59:59+08:00"),  # the strictest: 1
    ("error_report", "tongliang", "reply_error", "2026-03-04T23:59:59+08:00"),  # 000 §10: 2
    ("error_report", "fujin", "reply_error", "2026-03-05T23:59:59+08:00"),  # 002 §27: 3
])
def test_msg_1_each_type_is_due_in_the_profiles_working_days(sqlite_rt, sqlite_users, message_type, profile,
                                                              reply_task, due):
    sqlite_rt.policy = load_policy(profile)
    iid = accept(sqlite_rt, sqlite_users, message_type)
    assert message(sqlite_rt, iid).due_at == at(due)
    task = ready(sqlite_rt, iid)[reply_task]
    with reading(sqlite_rt.session_factory) as session:
        assert session.get(OrgUnit, task.org_unit_id).name == "区教育局" and task.role == "editor"
    if message_type not in ("consultation", "simple"):
        assert task.due_at == at(due)  # the inbox shows the type's deadline


def test_msg_1_a_late_answer_is_a_violation_and_the_message_still_gets_answered(rt, users, clock):
    iid = accept(rt, users, "suggestion", subject="建议增设校车线路")
    clock.set(at("2026-03-23T23:59:00+08:00"))
    sweep(rt)
    assert [v.description for v in _violations(rt)] == []
    clock.set(at("2026-03-24T00:00:10+08:00"))
    sweep(rt)
    (late,) = _violations(rt)
    assert (late.rule, late.org_unit_id) == ("MSG-1", _unit(rt)) and "超过办结时限" in late.description
    _reply(rt, iid, users, "reply_general")
    assert set(ready(rt, iid)) == {"initial_review", "urge"}  # the urge came due a working day before
    complete_task(rt, task_id(rt, iid, "initial_review"), users["sunqi"], outcome="pass")
    assert set(ready(rt, iid)) == set() and instance(rt, iid).status == "completed"


def test_msg_1_an_inquiry_unanswered_after_3_working_days_is_circulated(rt, users, clock):
    iid = accept(rt, users, "consultation")
    assert ready(rt, iid)["reply_consultation"].due_at == at("2026-03-05T23:59:59+08:00")
    clock.set(at("2026-03-05T23:59:58+08:00"))
    sweep(rt)
    assert _violations(rt) == []
    clock.set(at("2026-03-06T08:00+08:00"))
    sweep(rt)
    (circulated,) = _violations(rt)
    assert circulated.rule == "MSG-1" and "通报" in circulated.description
    clock.set(at("2026-03-10T08:00+08:00"))  # past the 5-day deadline as well
    sweep(rt)
    assert len(_violations(rt)) == 2
    _reply(rt, iid, users)
    complete_task(rt, task_id(rt, iid, "initial_review"), users["sunqi"], outcome="pass")
    assert instance(rt, iid).status == "completed" and len(_violations(rt)) == 2


def test_msg_1_the_initial_review_is_due_within_half_a_working_day(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = accept(rt, users, "simple", subject="学校地址")
    clock.set(at("2026-03-02T15:00+08:00"))
    _reply(rt, iid, users, "reply_simple")
    review = ready(rt, iid)["initial_review"]
    assert review.due_at == at("2026-03-03T10:45+08:00")  # 2 h 30 min today, 1 h 45 min tomorrow
    clock.set(at("2026-03-03T10:44+08:00"))
    sweep(rt)
    assert _violations(rt) == []
    clock.set(at("2026-03-03T10:46+08:00"))
    sweep(rt)
    (late,) = _violations(rt)
    assert "初审超过0.5个工作日" in late.description


def test_msg_1_a_deadline_in_a_year_not_yet_entered_refuses_the_acceptance(sqlite_rt, sqlite_users, clock):
    clock.set(at("2026-12-21T10:00+08:00"))
    with pytest.raises(CalendarNotCovered):
        accept(sqlite_rt, sqlite_users, "suggestion")
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(CitizenMessage.id)) is None


# --- MSG-2 -----------------------------------------------------------------------------------------

def test_msg_2_accepted_forwarded_answered_reviewed_and_reported(rt, users, clock):
    iid = accept(rt, users, "consultation")
    row = instance(rt, iid)
    assert row.org_unit_id == _unit(rt)  # forwarded: the unit's lanes resolve from it
    assert [n.title for n in _notices(rt, "zhangsan", "forwarded")] == ["转办网民留言：开学时间咨询"]
    with reading(rt.session_factory) as session:
        assert [(h.actor, h.action) for h in history(session, iid)][:2] == [("孙七", "start"), ("孙七", "forward")]
    clock.advance(hours=2)
    _reply(rt, iid, users)
    assert message(rt, iid).status == "replied"
    clock.advance(hours=1)
    complete_task(rt, task_id(rt, iid, "initial_review"), users["sunqi"], outcome="pass", opinion="答复准确")
    done = message(rt, iid)
    assert (done.status, done.reply, done.reported_at) == ("reported", REPLY["reply"], clock.now())
    assert done.replied_at == at("2026-03-02T11:00+08:00") and done.reviewed_at == clock.now()
    assert [n.kind for n in _notices(rt, "wujiu", "reported")] == ["reported"]  # 市行政审批服务局 (city_office)
    assert instance(rt, iid).status == "completed" and instance(rt, iid).next_timer_at is None
    assert _violations(rt) == []


def test_msg_2_a_returned_reply_is_redone_and_reviewed_again(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = accept(rt, users, "complaint", subject="食堂收费投诉")
    _reply(rt, iid, users, "reply_general")
    with pytest.raises(InvalidInput, match="理由"):
        complete_task(rt, task_id(rt, iid, "initial_review"), users["sunqi"], outcome="return")
    complete_task(rt, task_id(rt, iid, "initial_review"), users["sunqi"], outcome="return", opinion="请说明收费依据")
    assert set(ready(rt, iid)) == {"redo"}
    complete_task(rt, task_id(rt, iid, "redo"), users["zhangsan"], outcome="replied",
                  form={"reply": "收费依据为区发改委批复。", "reply_public": "同意公开"})
    complete_task(rt, task_id(rt, iid, "initial_review"), users["sunqi"], outcome="pass")
    assert message(rt, iid).reply == "收费依据为区发改委批复。" and instance(rt, iid).status == "completed"


def test_msg_2_the_operator_urges_the_unit_a_working_day_before_the_deadline(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = accept(rt, users, "consultation")
    clock.set(at("2026-03-07T09:00+08:00"))  # 4 working days gone (to Fri 3/6), the last one is Mon 3/9
    sweep(rt)
    assert set(ready(rt, iid)) == {"reply_consultation", "urge"}
    assert ready(rt, iid)["urge"].role == "egov_center"
    complete_task(rt, task_id(rt, iid, "urge"), users["sunqi"], outcome="urged", opinion="请今日内答复")
    (urged,) = _notices(rt, "zhangsan", "urged")
    assert "2026-03-09 23:59" in urged.body
    _reply(rt, iid, users)
    complete_task(rt, task_id(rt, iid, "initial_review"), users["sunqi"], outcome="pass")
    assert instance(rt, iid).status == "completed"


def test_msg_2_closing_the_message_drops_an_urge_nobody_needs_any_more(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = accept(rt, users, "suggestion")
    _reply(rt, iid, users, "reply_general")
    complete_task(rt, task_id(rt, iid, "initial_review"), users["sunqi"], outcome="pass")
    row = instance(rt, iid)
    assert (row.status, row.next_timer_at) == ("completed", None)


def test_msg_2_only_the_operator_above_the_unit_accepts_and_forwards(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(Forbidden, match="MSG-2"):
        accept_message(rt, users["zhangsan"], message_type="consultation", unit_id=_unit(rt), subject="s", body="b",
                       citizen_name="n", citizen_contact="c")
    with pytest.raises(Forbidden, match="MSG-2"):
        accept(rt, users, unit_id=_unit(rt, "某市"))  # above the operator's district
    with pytest.raises(InvalidInput, match="留言类型"):
        accept(rt, users, "rumour")
    with pytest.raises(InvalidInput, match="留言人"):
        accept_message(rt, users["sunqi"], message_type="simple", unit_id=_unit(rt), subject="s", body="b",
                       citizen_name=" ", citizen_contact="c")
    with reading(rt.session_factory) as session:
        assert session.scalar(select(CitizenMessage.id)) is None


# --- MSG-3 -----------------------------------------------------------------------------------------

def test_msg_3_an_error_report_goes_to_the_person_on_duty_that_day(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    set_duty(rt, users["zhaoliu"], unit_id=_unit(rt), day=date(2026, 3, 2), user_id=users["lisi"].user_id)
    iid = accept(rt, users, "error_report", subject="首页链接失效")
    task = ready(rt, iid)["reply_error"]
    assert task.assignee_id == users["lisi"].user_id and message(rt, iid).handler_id == users["lisi"].user_id
    with pytest.raises(Forbidden, match="李四"):
        _reply(rt, iid, users, "reply_error", who="zhangsan")
    _reply(rt, iid, users, "reply_error", who="lisi")
    with reading(rt.session_factory) as session:
        assigned = [h for h in history(session, iid) if h.action == "assign"]
    assert "按值班表交李四处理" in assigned[0].opinion
    # The next day nobody is rostered: the registered liaison (CHG-2) handles it.
    with transaction(rt.session_factory) as session:
        session.get(OrgUnit, _unit(rt)).contacts = {"leader": "赵六", "liaisons": ["张三 010-12345678"]}
    clock.set(at("2026-03-03T09:30+08:00"))
    second = accept(rt, users, "error_report", subject="错别字")
    assert ready(rt, second)["reply_error"].assignee_id == users["zhangsan"].user_id


def test_msg_3_without_a_named_person_the_unit_head_is_told(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = accept(rt, users, "error_report", subject="图片无法显示")
    assert ready(rt, iid)["reply_error"].assignee_id is None
    (warning,) = [n for n in _notices(rt, "zhaoliu", "forwarded") if "专人" in n.title]
    assert "MSG-3" in warning.body


def test_msg_3_only_the_unit_head_or_an_office_above_keeps_the_roster(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(Forbidden):
        set_duty(rt, users["zhangsan"], unit_id=_unit(rt), day=date(2026, 3, 2), user_id=users["lisi"].user_id)
    with pytest.raises(InvalidInput, match="在岗人员"):
        set_duty(rt, users["zhaoliu"], unit_id=_unit(rt), day=date(2026, 3, 2), user_id=users["huanglei"].user_id)
    with pytest.raises(InvalidInput, match="今天或以后"):
        set_duty(rt, users["zhaoliu"], unit_id=_unit(rt), day=date(2026, 3, 1), user_id=users["lisi"].user_id)
    assert set_duty(rt, users["sunqi"], unit_id=_unit(rt), day=date(2026, 3, 4), user_id=users["wangwu"].user_id)


def test_msg_3_comment_and_message_functions_are_recorded_open_per_account(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    account = register_asset(rt, "new_media", "区教育发布（测试）", platform="douyin")
    record_interaction(rt, users["zhangsan"], account, open_functions=["comments", "messages", "private_messages"])
    with pytest.raises(InvalidInput, match="原则上不得关闭"):
        record_interaction(rt, users["zhangsan"], account, open_functions=["comments", "messages"])
    record_interaction(rt, users["zhangsan"], account, open_functions=["comments", "messages"],
                       reason="私信功能平台暂不支持政务号")
    with pytest.raises(Forbidden):
        record_interaction(rt, users["huanglei"], account, open_functions=["comments"], reason="x")
    from db.models import Asset

    with reading(rt.session_factory) as session:
        state = session.get(Asset, account).attributes["interaction"]
    assert (state["comments"], state["private_messages"], state["recorded_by"]) == (True, False, "张三")


def test_msg_3_an_error_reports_named_person_sees_it_in_their_inbox(sqlite_rt, sqlite_users):
    """The named person's 待办 holds the report; the other editors' does not."""
    from engine.queries import todo

    rt, users = sqlite_rt, sqlite_users
    set_duty(rt, users["zhaoliu"], unit_id=_unit(rt), day=date(2026, 3, 2), user_id=users["lisi"].user_id)
    iid = accept(rt, users, "error_report", subject="附件打不开")
    with reading(rt.session_factory) as session:
        assert [r.title for r in todo(session, users["lisi"].user_id) if r.id == task_id(rt, iid, "reply_error")]
        assert not [r for r in todo(session, users["zhangsan"].user_id) if r.business_key == f"message:{iid}"]
        assert session.scalar(select(HumanTask.assignee_id).where(HumanTask.instance_id == iid)) == \
            users["lisi"].user_id


def test_msg_2_a_wrongly_accepted_message_is_withdrawn_with_its_instance(sqlite_rt, sqlite_users):
    from engine import cancel_instance

    rt, users = sqlite_rt, sqlite_users
    iid = accept(rt, users, "other", subject="重复提交的留言")
    with pytest.raises(InvalidInput, match="理由"):
        cancel_instance(rt, iid, users["sunqi"], reason=" ")
    cancel_instance(rt, iid, users["sunqi"], reason="与前一条留言重复")
    assert (message(rt, iid).status, instance(rt, iid).status) == ("cancelled", "cancelled")
    assert ready(rt, iid) == {}
