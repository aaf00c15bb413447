"""Counting attempts per key in fixed windows, kept in the database so every web worker shares them.

Login, API-token creation and bearer-token authentication call `count_attempt` before doing
the work; over the limit they answer "too many attempts, wait N seconds" and do nothing else.
The count is taken in its own short transaction so a refused login still counts.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.models import RateLimitBucket
from db.session import transaction

from .exceptions import RateLimited

KEY_LENGTH = 200  # RateLimitBucket.key


def _bucket_key(key: str) -> str:
    """`key` as stored: a longer one (a pasted novel as a username) keeps its start and gets its
    digest, so it still has a bucket of its own and every statement names the same row."""
    if len(key) <= KEY_LENGTH:
        return key
    return key[:KEY_LENGTH - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()


def _window_start(now: datetime, window: timedelta) -> datetime:
    seconds = int(window.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def count_attempt(factory: sessionmaker[Session], key: str, *, limit: int, window: timedelta,
                  now: datetime) -> None:
    """Count one attempt for `key`; raise RateLimited once more than `limit` fell in this window."""
    if window.total_seconds() < 1 or limit < 0:
        raise ValueError("a rate limit needs a window of at least a second and a limit of at least 0")
    key = _bucket_key(key)
    start = _window_start(now, window)
    for attempt in range(2):
        try:
            count = _count(factory, key, start)
            break
        except IntegrityError:
            # Another worker made this window's row first (the unique key refused ours): the
            # second pass finds that row and counts on it.
            if attempt:
                raise
    if count > limit:
        wait = max(1, math.ceil((start + window - now).total_seconds()))
        zh, en = f"尝试次数过多，请 {wait} 秒后再试", f"Too many attempts; try again in {wait} seconds"
        if wait >= 120:  # a long wait is easier to read in minutes as well
            zh, en = f"{zh}（约 {math.ceil(wait / 60)} 分钟）", f"{en} (about {math.ceil(wait / 60)} minutes)"
        raise RateLimited(f"{zh}。", f"{en}.", retry_after=wait)


def _count(factory: sessionmaker[Session], key: str, start: datetime) -> int:
    """One attempt more in the window starting at `start`; the window's count after it."""
    with transaction(factory) as session:
        # The UPDATE holds the row until commit, so concurrent attempts queue and none is lost.
        done = session.execute(update(RateLimitBucket)
                               .where(RateLimitBucket.key == key, RateLimitBucket.window_start == start)
                               .values(count=RateLimitBucket.count + 1)).rowcount
        if not done:
            session.add(RateLimitBucket(key=key, window_start=start, count=1))
            # Old windows are of no further use; this key's are removed as it is counted.
            session.execute(delete(RateLimitBucket).where(RateLimitBucket.key == key,
                                                          RateLimitBucket.window_start < start))
        return session.scalar(select(RateLimitBucket.count).where(
            RateLimitBucket.key == key, RateLimitBucket.window_start == start))


KEEP = timedelta(days=1)  # no window is longer; an older row only takes room


def forget_old_windows(factory: sessionmaker[Session], now: datetime) -> int:
    """Delete counts of windows that ended long ago (keys never tried again leave their rows)."""
    with transaction(factory) as session:
        return session.execute(delete(RateLimitBucket).where(RateLimitBucket.window_start < now - KEEP)).rowcount
