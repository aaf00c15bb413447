"""Counting attempts per key in fixed windows, kept in the database so every web worker shares them.

Login, API-token creation and bearer-token authentication call `count_attempt` before doing
the work; over the limit they answer "too many attempts, wait N seconds" and do nothing else.
The count is taken in its own short transaction so a refused login still counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.models import RateLimitBucket
from db.session import transaction

from .exceptions import RateLimited


def _window_start(now: datetime, window: timedelta) -> datetime:
    seconds = int(window.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def count_attempt(factory: sessionmaker[Session], key: str, *, limit: int, window: timedelta,
                  now: datetime) -> None:
    """Count one attempt for `key`; raise RateLimited once more than `limit` fell in this window."""
    start = _window_start(now, window)
    for _ in range(2):  # a racing first insert of the window: count again on the row it made
        try:
            with transaction(factory) as session:
                done = session.execute(update(RateLimitBucket)
                                       .where(RateLimitBucket.key == key, RateLimitBucket.window_start == start)
                                       .values(count=RateLimitBucket.count + 1)).rowcount
                if not done:
                    session.add(RateLimitBucket(key=key[:200], window_start=start, count=1))
                    # Old windows are of no further use; this key's are removed as it is counted.
                    session.execute(delete(RateLimitBucket).where(RateLimitBucket.key == key,
                                                                  RateLimitBucket.window_start < start))
                count = session.scalar(select(RateLimitBucket.count).where(
                    RateLimitBucket.key == key, RateLimitBucket.window_start == start)) or 1
            break
        except IntegrityError:
            continue
    if count > limit:
        wait = int((start + window - now).total_seconds()) + 1
        raise RateLimited(f"尝试次数过多，请 {wait} 秒后再试。", f"Too many attempts; try again in {wait} seconds.",
                          retry_after=wait)
