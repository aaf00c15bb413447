"""Workflows kept in memory between commands (engine/workflow_cache.py) never stand in for a
state other than the one stored: a failed command leaves no entry, another process's change is
seen, and turning the cache off changes nothing but speed."""

import pytest

import engine.instances
from engine import complete_task
from engine.workflow_cache import WorkflowCache
from tests.conftest import build_runtime
from tests.helpers import instance, item_of, ready, submit, task_id


def test_a_saved_workflow_is_reused_by_the_next_command_on_that_instance(sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"], kind="wechat")
    hits = sqlite_rt.workflows.hits
    complete_task(sqlite_rt, task_id(sqlite_rt, iid, "review"), sqlite_users["lisi"], outcome="pass")
    assert sqlite_rt.workflows.hits == hits + 1


def test_a_failed_command_leaves_no_entry_and_the_next_one_reads_the_stored_state(sqlite_rt, sqlite_users, monkeypatch):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"], kind="wechat")
    review = task_id(sqlite_rt, iid, "review")

    def fail(*_args, **_kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(engine.instances, "sync_human_tasks", fail)
        with pytest.raises(RuntimeError):
            complete_task(sqlite_rt, review, sqlite_users["lisi"], outcome="pass")
    # The workflow object had advanced past the review before the failure: it must not be reused.
    misses = sqlite_rt.workflows.misses
    complete_task(sqlite_rt, review, sqlite_users["lisi"], outcome="pass")
    assert sqlite_rt.workflows.misses == misses + 1
    assert set(ready(sqlite_rt, iid)) == {"sign"}


def test_a_change_made_by_another_process_is_never_hidden_by_the_cache(sqlite_url, clock, sqlite_users):
    """Two runtimes on one database stand for two worker processes, each with its own cache."""
    first = build_runtime(sqlite_url, clock)
    second = build_runtime(sqlite_url, clock)
    iid = submit(first, sqlite_users["zhangsan"], kind="wechat")  # first keeps version 1 in memory
    complete_task(second, task_id(second, iid, "review"), sqlite_users["lisi"], outcome="pass")  # version 2
    # first's entry is for version 1: it must load version 2 and find the sign-off, not the review.
    complete_task(first, task_id(first, iid, "sign"), sqlite_users["wangwu"], outcome="pass")
    assert instance(first, iid).status == "completed" and item_of(first, iid).status == "published"
    for runtime in (first, second):
        runtime.session_factory.kw["bind"].dispose()


def test_with_the_cache_off_every_command_loads_the_stored_state_and_ends_the_same(sqlite_rt, sqlite_users):
    sqlite_rt.workflows = WorkflowCache(size=0)
    iid = submit(sqlite_rt, sqlite_users["zhangsan"], kind="wechat")
    complete_task(sqlite_rt, task_id(sqlite_rt, iid, "review"), sqlite_users["lisi"], outcome="pass")
    complete_task(sqlite_rt, task_id(sqlite_rt, iid, "sign"), sqlite_users["wangwu"], outcome="pass")
    assert sqlite_rt.workflows.hits == 0 and sqlite_rt.workflows.misses >= 2
    assert instance(sqlite_rt, iid).status == "completed" and item_of(sqlite_rt, iid).status == "published"


def test_the_cache_keeps_at_most_its_size_dropping_the_least_recently_saved():
    cache = WorkflowCache(size=2)

    class Workflow:
        script_engine = object()

    for instance_id in (1, 2, 3):
        cache.put(instance_id, 1, Workflow())
    assert cache.take(1, 1) is None  # dropped
    assert cache.take(3, 1) is not None and cache.take(3, 1) is None  # taken out, not copied
    assert cache.take(2, 2) is None  # another version is never served
