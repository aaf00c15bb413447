"""Two people act on the same task at the same moment: exactly one wins, on both backends.

Each racer runs its command in its own thread and connection; a barrier releases them together
and every thread is joined with a timeout, so a lock that never frees fails the test instead of
hanging it.
"""

import threading
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from db.models import AuditEvent, HumanTask, OrgUnit, RoleGrant, User
from db.session import reading, transaction
from engine import ConflictError, Forbidden, cancel_instance, claim_task, complete_task
from tests.helpers import instance, item_of, ready, submit, task_id

ROUNDS = 5
NAMES = {"lisi": "李四", "wangwu": "王五", "zhaoliu": "赵六"}


def _grant(rt, users, username: str, role: str) -> None:
    with transaction(rt.session_factory) as session:
        unit = session.scalar(select(OrgUnit).where(OrgUnit.name == "区教育局"))
        session.add(RoleGrant(user_id=users[username].user_id, role=role, org_unit_id=unit.id))


@pytest.fixture
def second_reviewer(rt, users):
    """王五 gets the reviewer role too, so two different people race for one review."""
    _grant(rt, users, "wangwu", "reviewer")
    return users["wangwu"]


def _race(attempts: dict) -> dict:
    """Run the named callables at the same instant; name → None (it succeeded) or the exception."""
    barrier = threading.Barrier(len(attempts))
    results = {}

    def run(name, attempt):
        barrier.wait(timeout=10)
        try:
            attempt()
            results[name] = None
        except Exception as err:  # recorded and asserted on by the caller
            results[name] = err

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in attempts.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    assert set(results) == set(attempts), results
    return results


def _count(rt, model, *where) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _one_winner(results: dict) -> tuple[str, str, Exception]:
    winners = [name for name, err in results.items() if err is None]
    assert len(winners) == 1, results
    loser = next(name for name in results if name != winners[0])
    return winners[0], loser, results[loser]


def _complete(rt, task, actor, opinion):
    return lambda: complete_task(rt, task, actor, outcome="pass", opinion=opinion)


def _assert_one_completion(rt, iid, review, version):
    assert instance(rt, iid).version == version + 1
    assert _count(rt, AuditEvent, AuditEvent.task_id == review, AuditEvent.action == "complete") == 1
    assert _count(rt, HumanTask, HumanTask.instance_id == iid, HumanTask.bpmn_id == "sign") == 1
    assert set(ready(rt, iid)) == {"sign"}


def test_two_reviewers_completing_the_same_task_at_once_exactly_one_wins(rt, users, second_reviewer):
    """The loser is told who got there first; the workflow advanced once, with the winner's opinion."""
    for round_number in range(ROUNDS):
        iid = submit(rt, users["zhangsan"], title=f"并发测试 {round_number}")
        review = task_id(rt, iid, "review")
        version = instance(rt, iid).version
        winner, _loser, err = _one_winner(_race({
            "lisi": _complete(rt, review, users["lisi"], "李四同意"),
            "wangwu": _complete(rt, review, second_reviewer, "王五同意")}))
        assert isinstance(err, ConflictError), err
        assert f"此任务已由{NAMES[winner]}于" in err.message and "您的操作未执行" in err.message
        _assert_one_completion(rt, iid, review, version)
        with reading(rt.session_factory) as session:
            done = session.get(HumanTask, review)
            assert done.completed_by_id == users[winner].user_id
            opinion = session.scalar(select(AuditEvent.opinion).where(AuditEvent.task_id == review,
                                                                      AuditEvent.action == "complete"))
        assert opinion == f"{NAMES[winner]}同意"


def test_the_same_reviewer_double_submitting_completes_the_task_once(rt, users):
    """李四 clicks 通过 twice (two tabs, a double click): the second click is refused, not applied."""
    for round_number in range(ROUNDS):
        iid = submit(rt, users["zhangsan"], title=f"重复提交 {round_number}")
        review = task_id(rt, iid, "review")
        version = instance(rt, iid).version
        _winner, _loser, err = _one_winner(_race({
            "first": _complete(rt, review, users["lisi"], "同意"),
            "second": _complete(rt, review, users["lisi"], "同意")}))
        assert isinstance(err, ConflictError) and "此任务已由李四于" in err.message, err
        _assert_one_completion(rt, iid, review, version)


def test_two_signers_claiming_at_once_leave_the_task_with_exactly_one(rt, users):
    """The loser of a claim race is told who holds the task now."""
    _grant(rt, users, "zhaoliu", "signer")
    for round_number in range(ROUNDS):
        iid = submit(rt, users["zhangsan"], title=f"并发签收 {round_number}")
        complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
        sign = task_id(rt, iid, "sign")
        winner, _loser, err = _one_winner(_race({
            "wangwu": lambda sign=sign: claim_task(rt, sign, users["wangwu"]),
            "zhaoliu": lambda sign=sign: claim_task(rt, sign, users["zhaoliu"])}))
        assert isinstance(err, Forbidden) and f"此任务已由{NAMES[winner]}签收" in err.message, err
        assert ready(rt, iid)["sign"].assignee_id == users[winner].user_id
        assert _count(rt, AuditEvent, AuditEvent.task_id == sign, AuditEvent.action == "claim") == 1


def test_withdrawing_while_the_reviewer_passes_ends_consistently_either_way(rt, users):
    """Whichever lands first, the item ends withdrawn with no open task, and nothing is half done."""
    for round_number in range(ROUNDS):
        iid = submit(rt, users["zhangsan"], title=f"撤销与审核并发 {round_number}")
        review = task_id(rt, iid, "review")
        version = instance(rt, iid).version
        results = _race({
            "cancel": lambda iid=iid: cancel_instance(rt, iid, users["zhangsan"], reason="撤回重发"),
            "review": _complete(rt, review, users["lisi"], "同意")})
        assert results["cancel"] is None, results
        row = instance(rt, iid)
        assert (row.status, item_of(rt, iid).status, ready(rt, iid)) == ("cancelled", "cancelled", {})
        completes = _count(rt, AuditEvent, AuditEvent.task_id == review, AuditEvent.action == "complete")
        if results["review"] is None:  # the review landed first, then the withdrawal
            assert completes == 1 and row.version == version + 2
            assert _count(rt, HumanTask, HumanTask.instance_id == iid, HumanTask.bpmn_id == "sign",
                          HumanTask.state == "cancelled") == 1
        else:
            assert isinstance(results["review"], ConflictError), results
            assert "已不在待办状态" in results["review"].message
            assert completes == 0 and row.version == version + 1


def test_completing_a_task_someone_already_completed_names_them_and_the_time(
        rt, users, second_reviewer, clock):
    """A reviewer acting on a stale page learns who did it and when, and nothing is applied twice."""
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    complete_task(rt, review, users["lisi"], outcome="pass")
    done_at = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    version = instance(rt, iid).version
    clock.advance(minutes=5)
    with pytest.raises(ConflictError) as late:
        complete_task(rt, review, second_reviewer, outcome="pass")
    assert late.value.message == f"此任务已由李四于 {done_at} 办理，您的操作未执行。"
    assert late.value.retryable
    assert instance(rt, iid).version == version
    assert _count(rt, AuditEvent, AuditEvent.task_id == review, AuditEvent.action == "complete") == 1
    with reading(rt.session_factory) as session:
        assert session.get(User, users["lisi"].user_id).real_name == "李四"
