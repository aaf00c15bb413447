"""The one place that knows what time it is.

Engine code asks a `Clock`; nothing else calls `datetime.now()`. Tests hand in a
`ManualClock` and move time with `advance()` instead of sleeping.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """Wall-clock time, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock(Clock):
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta) -> datetime:
        self._now = self._now + timedelta(**delta)
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant


def to_shanghai(instant: datetime) -> datetime:
    """The same instant on Asia/Shanghai wall time."""
    return instant.astimezone(SHANGHAI)
