"""The functions a diagram's expressions may call (the allow-list's vocabulary).

Timer expressions must yield ISO-8601 text for SpiffWorkflow, so these return ISO strings
with the +08:00 offset (a naive string would take the server's zone; ENGINE_NOTES.md).
The working-day calendar adds `add_working_days` here. Besides these functions an expression
may read `now`: the instant (ISO text) of the command that evaluates it.
"""

from datetime import datetime, timedelta

from .clock import SHANGHAI


def _instant(value) -> datetime:
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str):
        instant = datetime.fromisoformat(value)
    else:
        raise TypeError("时间参数必须是日期时间")
    if instant.tzinfo is None:
        raise TypeError("时间参数必须带时区")
    return instant


def _iso(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).isoformat(timespec="seconds")


def add_calendar_days(start, days: int) -> str:
    """23:59:59 Asia/Shanghai on the Nth calendar day after the start day."""
    day = _instant(start).astimezone(SHANGHAI).date() + timedelta(days=int(days))
    return _iso(datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI))


def add_hours(start, hours: int) -> str:
    """Elapsed time: start + N hours, to the second."""
    return _iso(_instant(start) + timedelta(hours=int(hours)))


def add_minutes(start, minutes: int) -> str:
    """Elapsed time: start + N minutes, to the second."""
    return _iso(_instant(start) + timedelta(minutes=int(minutes)))


EXPRESSION_FUNCTIONS = {
    "add_calendar_days": add_calendar_days,
    "add_hours": add_hours,
    "add_minutes": add_minutes,
}
