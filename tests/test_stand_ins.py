"""委托/代理: a time-bound stand-in works a person's tasks while they are away; every act is
recorded as "赵六 代 王五", and REV-3 holds for both of them."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import AuditEvent, SignOff
from db.session import reading
from engine import Actor, Forbidden, InvalidInput, complete_task, start_process
from engine.inbox import done_page, todo_page
from engine.stand_ins import create_stand_in, revoke_stand_in
from tests.helpers import events, submit, task_id, task_row


def _away(rt, users, principal="wangwu", deputy="zhaoliu", days=3, start_in=timedelta(0)):
    now = rt.clock.now()
    return create_stand_in(rt, users[principal], deputy_id=users[deputy].user_id, starts_at=now + start_in,
                           ends_at=now + start_in + timedelta(days=days), reason="3月2日至4日出差")


def _as(users, deputy, principal):
    return Actor(users[deputy].user_id, client_addr="127.0.0.1", on_behalf_of=users[principal].user_id)


def test_a_stand_in_sees_and_works_the_principals_tasks_recorded_as_deputy_for_principal(rt, users):
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    sign = task_id(rt, iid, "sign")
    with reading(rt.session_factory) as session:
        assert sign not in [r.id for r in todo_page(session, users["zhaoliu"].user_id, rt.clock.now()).rows]
    _away(rt, users)
    with reading(rt.session_factory) as session:
        rows = {r.id: r for r in todo_page(session, users["zhaoliu"].user_id, rt.clock.now()).rows}
    assert rows[sign].on_behalf_of == "王五"
    complete_task(rt, sign, _as(users, "zhaoliu", "wangwu"), outcome="pass", opinion="同意签发")
    (event,) = [e for e in events(rt, iid, "complete") if e.task_id == sign]
    assert (event.actor_name, event.actor_id, event.on_behalf_of_id) == (
        "赵六 代 王五", users["zhaoliu"].user_id, users["wangwu"].user_id)
    row = task_row(rt, sign)
    assert (row.completed_by_id, row.acted_by_id) == (users["wangwu"].user_id, users["zhaoliu"].user_id)
    with reading(rt.session_factory) as session:
        mine = done_page(session, users["zhaoliu"].user_id).rows
        assert [(r.id, r.on_behalf_of) for r in mine] == [(sign, "王五")]
        assert [r.id for r in done_page(session, users["wangwu"].user_id).rows] == [sign]
        sign_off = session.scalar(select(SignOff).where(SignOff.task_id == sign))
        assert (sign_off.user_id, sign_off.acted_by_id) == (users["wangwu"].user_id, users["zhaoliu"].user_id)


def test_rev_3_holds_for_the_stand_in_and_for_the_principal(sqlite_rt, sqlite_users):
    """王五 stands in for the reviewer 李四: having reviewed as his stand-in, 王五 may not sign it himself."""
    rt, users = sqlite_rt, sqlite_users
    _away(rt, users, principal="lisi", deputy="wangwu")
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), _as(users, "wangwu", "lisi"), outcome="pass", opinion="同意")
    sign = task_id(rt, iid, "sign")
    for person in ("wangwu", "lisi"):
        with pytest.raises(Forbidden, match="同一人对同一事项只能办理一个环节"):
            complete_task(rt, sign, users[person], outcome="pass", opinion="签发")


def test_a_stand_in_acts_only_inside_the_period_and_until_revoked(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    sign = task_id(rt, iid, "sign")
    deputy = _as(users, "zhaoliu", "wangwu")
    with pytest.raises(Forbidden, match="不是王五的委托代理人"):
        complete_task(rt, sign, deputy, outcome="pass")  # no stand-in at all
    stand_in = _away(rt, users, start_in=timedelta(days=1), days=2)
    with pytest.raises(Forbidden, match="不是王五的委托代理人"):
        complete_task(rt, sign, deputy, outcome="pass")  # not begun
    clock.advance(days=1, hours=1)
    revoke_stand_in(rt, users["wangwu"], stand_in)
    with pytest.raises(Forbidden, match="不是王五的委托代理人"):
        complete_task(rt, sign, deputy, outcome="pass")  # revoked
    _away(rt, users, days=1)
    clock.advance(days=1, seconds=1)
    with pytest.raises(Forbidden, match="不是王五的委托代理人"):
        complete_task(rt, sign, deputy, outcome="pass")  # ended
    assert task_row(rt, sign).state == "ready"


def test_a_stand_in_cannot_start_requests_in_the_principals_name(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    _away(rt, users, principal="zhangsan", deputy="zhaoliu")
    with pytest.raises(Forbidden):
        start_process(rt, "content_review", _as(users, "zhaoliu", "zhangsan"), title="代发", business_key="x:1")


@pytest.mark.parametrize(("deputy", "days", "start_in", "reason", "message"), [
    ("huanglei", 3, timedelta(0), "出差", "不是本单位人员"),  # another unit
    ("wangwu", 3, timedelta(0), "出差", "不能委托给自己"),
    ("zhaoliu", 3, timedelta(0), "", "必须填写事由"),
    ("zhaoliu", 200, timedelta(0), "出差", "最长 180 天"),
    ("zhaoliu", 1, -timedelta(days=3), "出差", "结束时间已经过去"),
])
def test_a_stand_in_that_makes_no_sense_is_refused(sqlite_rt, sqlite_users, deputy, days, start_in, reason, message):
    rt, users = sqlite_rt, sqlite_users
    now = rt.clock.now()
    with pytest.raises(InvalidInput, match=message):
        create_stand_in(rt, users["wangwu"], deputy_id=users[deputy].user_id, starts_at=now + start_in,
                        ends_at=now + start_in + timedelta(days=days), reason=reason)
    with reading(rt.session_factory) as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "stand_in")) is None


def test_overlapping_stand_ins_are_refused_and_only_the_principal_revokes(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    stand_in = _away(rt, users)
    with pytest.raises(InvalidInput, match="已有委托代理"):
        _away(rt, users, deputy="lisi")
    from engine import NotFound

    with pytest.raises(NotFound):
        revoke_stand_in(rt, users["zhaoliu"], stand_in)
    revoke_stand_in(rt, users["wangwu"], stand_in)
    with pytest.raises(InvalidInput, match="已经结束"):
        revoke_stand_in(rt, users["wangwu"], stand_in)
