"""Two people complete the same task at the same moment: exactly one wins, on both backends."""

import threading

import pytest
from sqlalchemy import func, select

from db.models import AuditEvent, OrgUnit, RoleGrant, User
from db.session import reading, transaction
from engine import ConflictError, complete_task
from tests.helpers import instance, ready, submit, task_id


@pytest.fixture
def second_reviewer(rt, users):
    """王五 gets the reviewer role too, so two different people race for one review."""
    with transaction(rt.session_factory) as session:
        unit = session.scalar(select(OrgUnit).where(OrgUnit.name == "区教育局"))
        session.add(RoleGrant(user_id=users["wangwu"].user_id, role="reviewer", org_unit_id=unit.id))
    return users["wangwu"]


def _race(rt, task, contenders):
    barrier = threading.Barrier(len(contenders))
    outcomes = {}

    def attempt(name, actor):
        barrier.wait(timeout=10)
        try:
            complete_task(rt, task, actor, outcome="pass", opinion=f"{name} 同意")
            outcomes[name] = "won"
        except ConflictError as err:
            outcomes[name] = err.message

    threads = [threading.Thread(target=attempt, args=item) for item in contenders.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    return outcomes


def test_two_reviewers_completing_the_same_task_at_once_exactly_one_wins(rt, users, second_reviewer):
    names = {"lisi": "李四", "wangwu": "王五"}
    for round_number in range(5):
        iid = submit(rt, users["zhangsan"], title=f"并发测试 {round_number}")
        review = task_id(rt, iid, "review")
        version = instance(rt, iid).version
        outcomes = _race(rt, review, {"lisi": users["lisi"], "wangwu": second_reviewer})
        winners = [name for name, result in outcomes.items() if result == "won"]
        assert len(winners) == 1, outcomes
        loser = next(name for name in outcomes if name not in winners)
        assert f"已由{names[winners[0]]}于" in outcomes[loser] and "未执行" in outcomes[loser]
        assert instance(rt, iid).version == version + 1
        assert set(ready(rt, iid)) == {"sign"}
        with reading(rt.session_factory) as session:
            completes = session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.task_id == review, AuditEvent.action == "complete"))
        assert completes == 1


def test_completing_a_task_someone_already_completed_names_them_and_the_time(rt, users, second_reviewer, clock):
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    complete_task(rt, review, users["lisi"], outcome="pass")
    with pytest.raises(ConflictError) as late:
        complete_task(rt, review, second_reviewer, outcome="pass")
    shanghai = clock.now().astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert late.value.message == f"此任务已由李四于 {shanghai} 办理，您的操作未执行。"
    with reading(rt.session_factory) as session:
        assert session.get(User, users["lisi"].user_id).real_name == "李四"
