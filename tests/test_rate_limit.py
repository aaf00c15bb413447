"""Counting attempts in fixed windows (issue 11), shared by every worker through the database.
Runs on SQLite and PostgreSQL; time moves by the manual clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db.models import RateLimitBucket
from db.session import reading
from engine.exceptions import RateLimited
from engine.rate_limit import count_attempt

WINDOW = timedelta(minutes=5)


def attempt(rt, key: str = "login:user:zhangsan", limit: int = 3, window: timedelta = WINDOW) -> None:
    count_attempt(rt.session_factory, key, limit=limit, window=window, now=rt.clock.now())


def buckets(rt) -> list[tuple[str, datetime, int]]:
    with reading(rt.session_factory) as session:
        return [(b.key, b.window_start, b.count) for b in session.scalars(
            select(RateLimitBucket).order_by(RateLimitBucket.key, RateLimitBucket.window_start))]


def test_the_attempt_over_the_limit_is_refused_with_the_seconds_to_wait(rt, clock):
    clock.set(datetime(2026, 3, 2, 1, 2, 30, tzinfo=UTC))  # 150 s into the window 01:00–01:05
    for _ in range(3):
        attempt(rt)
    with pytest.raises(RateLimited) as refused:
        attempt(rt)
    assert refused.value.retry_after == 150
    assert refused.value.message == "尝试次数过多，请 150 秒后再试（约 3 分钟）。"
    assert refused.value.message_en == "Too many attempts; try again in 150 seconds (about 3 minutes)."
    assert refused.value.retryable
    assert buckets(rt) == [("login:user:zhangsan", datetime(2026, 3, 2, 1, 0, tzinfo=UTC), 4)]


def test_a_short_wait_is_said_in_seconds_only(rt, clock):
    clock.set(datetime(2026, 3, 2, 1, 4, 20, tzinfo=UTC))
    with pytest.raises(RateLimited) as refused:
        attempt(rt, limit=0)
    assert refused.value.retry_after == 40 and refused.value.message == "尝试次数过多，请 40 秒后再试。"


def test_refused_attempts_still_count_and_the_next_window_allows_again(rt, clock):
    clock.set(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    for _ in range(3):
        attempt(rt)
    for _ in range(2):
        with pytest.raises(RateLimited):
            attempt(rt)
    clock.advance(minutes=4, seconds=59)
    with pytest.raises(RateLimited):
        attempt(rt)
    clock.advance(seconds=1)  # 01:05, a new window
    attempt(rt)
    # The old window's row went when the new one was made.
    assert buckets(rt) == [("login:user:zhangsan", datetime(2026, 3, 2, 1, 5, tzinfo=UTC), 1)]


def test_each_key_has_its_own_count(rt):
    for _ in range(3):
        attempt(rt, "login:user:zhangsan")
    attempt(rt, "login:user:lisi")
    attempt(rt, "login:addr:10.0.0.1")
    with pytest.raises(RateLimited):
        attempt(rt, "login:user:zhangsan")
    assert [(key, count) for key, _, count in buckets(rt)] == [
        ("login:addr:10.0.0.1", 1), ("login:user:lisi", 1), ("login:user:zhangsan", 4)]


def test_an_hour_window_starts_on_the_hour(rt, clock):
    clock.set(datetime(2026, 3, 2, 1, 59, 0, tzinfo=UTC))
    attempt(rt, "token_create:user:1", limit=1, window=timedelta(hours=1))
    with pytest.raises(RateLimited) as refused:
        attempt(rt, "token_create:user:1", limit=1, window=timedelta(hours=1))
    assert refused.value.retry_after == 60
    clock.advance(minutes=1)
    attempt(rt, "token_create:user:1", limit=1, window=timedelta(hours=1))


def test_keys_longer_than_the_column_still_count_apart_and_never_fail(rt):
    long_a, long_b = "login:user:" + "a" * 300, "login:user:" + "a" * 299 + "b"
    for _ in range(3):
        attempt(rt, long_a)
    with pytest.raises(RateLimited):
        attempt(rt, long_a)
    attempt(rt, long_b)
    stored = buckets(rt)
    assert sorted(count for _, _, count in stored) == [1, 4] and all(len(key) <= 200 for key, _, _ in stored)


@pytest.mark.parametrize(("limit", "window"), [(-1, WINDOW), (3, timedelta(0)), (3, timedelta(milliseconds=500))])
def test_a_nonsense_limit_is_a_programming_error(rt, limit, window):
    with pytest.raises(ValueError):
        attempt(rt, limit=limit, window=window)
    assert buckets(rt) == []


def run_together(threads_n: int, work) -> None:
    """Run `work` in `threads_n` threads released at the same moment; fail with any thread's error."""
    barrier = threading.Barrier(threads_n, timeout=30)
    failures: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            work()
        except BaseException as err:  # handed to the main thread, which fails the test with it
            failures.append(err)

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a counting thread hung"
    assert failures == []


def test_two_threads_counting_the_same_new_key_at_once_lose_no_count(rt):
    """Both threads start on a window that has no row yet, so their first inserts race; every
    attempt must still be counted exactly once."""
    threads_n, each = 2, 15
    refused: list[int] = []

    def count_many():
        for _ in range(each):
            try:
                attempt(rt, "login:addr:203.0.113.9", limit=20)
            except RateLimited:
                refused.append(1)

    run_together(threads_n, count_many)
    assert [count for _, _, count in buckets(rt)] == [threads_n * each]
    assert len(refused) == threads_n * each - 20


def test_many_threads_racing_for_the_first_row_of_a_window_all_count(rt):
    threads_n = 6
    run_together(threads_n, lambda: attempt(rt, "login:user:wangwu", limit=100))
    assert [count for _, _, count in buckets(rt)] == [threads_n]


def test_the_sweep_forgets_windows_that_ended_a_day_ago_and_keeps_the_rest(rt, clock):
    from engine.sweep import sweep

    count_attempt(rt.session_factory, "login:user:never-again", limit=5, window=timedelta(minutes=5), now=clock.now())
    clock.advance(hours=23)
    count_attempt(rt.session_factory, "login:user:recent", limit=5, window=timedelta(minutes=5), now=clock.now())
    sweep(rt)
    with reading(rt.session_factory) as session:
        assert {b.key for b in session.query(RateLimitBucket)} == {"login:user:never-again", "login:user:recent"}
    clock.advance(hours=2)
    sweep(rt)
    with reading(rt.session_factory) as session:
        assert {b.key for b in session.query(RateLimitBucket)} == {"login:user:recent"}
