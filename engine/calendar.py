"""The official working-day calendar and the deadline arithmetic built on it.

Rules ("Working days and deadlines", RULES.md):
- the triggering instant is converted to Asia/Shanghai first; its local date is the start day,
  and the start day never counts;
- N working days end at 23:59:59 on the Nth working day after the start day: weekends and
  official holidays are off, the make-up working days (调休) are on;
- N calendar days end at 23:59:59 on the Nth day after the start day (optionally rolled to the
  next working day when a policy asks for it);
- hours and minutes are elapsed time, to the second;
- a year without a schedule is never guessed: CalendarNotCovered names the year.

The schedule is the bundled `chinesecalendar` data plus administrator overrides. Functions
take `session=` to honour the overrides stored in the database; without one they use the
bundled data alone, so the module works with no database at all.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from chinese_calendar import constants as bundled_schedule

from .clock import SHANGHAI
from .exceptions import GovFlowError

END_OF_DAY = (23, 59, 59)
WEEKDAY_NAMES = "一二三四五六日"


class CalendarNotCovered(GovFlowError):
    """A computation reached a year whose holidays nobody has entered."""

    def __init__(self, year: int):
        super().__init__(
            f"{year} 年节假日安排尚未录入，无法计算落在该年的工作日期限。"
            f"请管理员在“工作日历”中按国务院办公厅通知录入 {year} 年的放假和调休安排。",
            f"The {year} holiday schedule has not been entered, so a working-day deadline in that year "
            f"cannot be computed. An administrator must enter {year}'s holidays and make-up working days "
            "under Working calendar.")
        self.year = year


@dataclass(frozen=True)
class DayOverride:
    """An administrator's correction of one day: `working` says whether it is a working day."""

    day: date
    working: bool
    name: str


@dataclass(frozen=True)
class DayInfo:
    day: date
    working: bool
    kind: str  # workday, weekend, holiday, makeup (调休上班), override_rest, override_work
    name: str  # the holiday's name, or the override's


@dataclass(frozen=True)
class Explanation:
    """What `govflow deadline` prints: the due instant and the days that made it."""

    due: datetime
    counted: list[date]
    skipped: list[DayInfo]


class WorkingCalendar:
    """An immutable schedule: bundled days, overrides on top, and the years it covers.

    Working days are kept as a sorted list of date ordinals, so adding N working days is two
    binary searches and an index, whatever N is.
    """

    def __init__(self, holidays: Mapping[date, str], makeup_days: Mapping[date, str],
                 covered_years: Iterable[int], overrides: Iterable[DayOverride] = (),
                 roll_calendar_days: bool = False):
        self.covered_years = frozenset(covered_years)
        self.roll_calendar_days = roll_calendar_days
        self._holidays = dict(holidays)
        self._makeup = dict(makeup_days)
        self._overrides = {o.day: o for o in overrides}
        working = []
        for year in sorted(self.covered_years):
            day = date(year, 1, 1)
            while day.year == year:
                if self._is_working(day):
                    working.append(day.toordinal())
                day += timedelta(days=1)
        self._working = working

    # -- single days ---------------------------------------------------------------------------

    def _is_working(self, day: date) -> bool:
        override = self._overrides.get(day)
        if override is not None:
            return override.working
        if day in self._holidays:
            return False
        if day in self._makeup:
            return True
        return day.weekday() < 5

    def require(self, year: int) -> None:
        if year not in self.covered_years:
            raise CalendarNotCovered(year)

    def day_info(self, day: date) -> DayInfo:
        self.require(day.year)
        return self.describe(day)

    def describe(self, day: date) -> DayInfo:
        """What is known of `day` even in an uncovered year (weekends and overrides only there)."""
        override = self._overrides.get(day)
        if override is not None:
            return DayInfo(day, override.working, "override_work" if override.working else "override_rest",
                           override.name)
        if day in self._holidays:
            return DayInfo(day, False, "holiday", _holiday_name(self._holidays[day]))
        if day in self._makeup:
            return DayInfo(day, True, "makeup", _holiday_name(self._makeup[day]))
        if day.weekday() >= 5:
            return DayInfo(day, False, "weekend", "周" + WEEKDAY_NAMES[day.weekday()])
        return DayInfo(day, True, "workday", "")

    def month_grid(self, year: int, month: int) -> list[list[DayInfo | None]]:
        """The month as weeks Monday→Sunday, None outside the month (the admin page's grid)."""
        first = date(year, month, 1)
        day = first - timedelta(days=first.weekday())
        weeks = []
        while day.month == month or day < first:
            week = []
            for _ in range(7):
                week.append(self.describe(day) if day.month == month else None)
                day += timedelta(days=1)
            weeks.append(week)
        return weeks

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before `day`."""
        index = bisect_left(self._working, day.toordinal()) - 1
        if index < 0:
            raise CalendarNotCovered(day.year - 1)
        found = date.fromordinal(self._working[index])
        self._require_span(found.year, day.year)
        return found

    def is_working_day(self, day: date) -> bool:
        self.require(day.year)
        return self._is_working(day)

    # -- deadlines -----------------------------------------------------------------------------

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """23:59:59 Asia/Shanghai on the Nth working day after the start day (N=0: the start day)."""
        start_day = _local_day(start)
        days = _count(days)
        self.require(start_day.year)
        if days == 0:
            return _end_of(start_day)
        index = bisect_right(self._working, start_day.toordinal()) + days - 1
        if index >= len(self._working):
            raise CalendarNotCovered(self._first_gap_after(start_day.year))
        due_day = date.fromordinal(self._working[index])
        self._require_span(start_day.year, due_day.year)
        return _end_of(due_day)

    def add_calendar_days(self, start: datetime, days: int) -> datetime:
        """23:59:59 on the Nth day after the start day; rolled forward only under the policy."""
        due_day = _local_day(start) + timedelta(days=_count(days))
        if self.roll_calendar_days:
            self.require(due_day.year)
            while not self.is_working_day(due_day):
                due_day += timedelta(days=1)
        return _end_of(due_day)

    def end_of_workday(self, start: datetime, office_end_minutes: int) -> datetime:
        """当日下班前: the office closing time of the start day, or of the next working day when the
        start day is a rest day or its office hours are over (RULES.md: office hours are a policy value)."""
        local = _aware(start).astimezone(SHANGHAI)
        hour, minute = divmod(_count(office_end_minutes), 60)
        day = local.date()
        self.require(day.year)
        if not self._is_working(day) or (local.hour, local.minute) >= (hour, minute):
            index = bisect_right(self._working, day.toordinal())
            if index >= len(self._working):
                raise CalendarNotCovered(self._first_gap_after(day.year))
            day = date.fromordinal(self._working[index])
            self._require_span(local.year, day.year)
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)

    def add_office_minutes(self, start: datetime, minutes: int, office_start: int, office_end: int) -> datetime:
        """`minutes` of office time after `start`: only office hours (minutes after midnight,
        Asia/Shanghai) of working days count, so the clock stops at closing time, over weekends
        and holidays, and runs on make-up working days (调休). Before opening it starts at opening
        time; after closing or on a rest day, at the next working day's opening."""
        office_start, office_end, remaining = _count(office_start), _count(office_end), _count(minutes)
        if not office_start < office_end <= 24 * 60:
            raise ValueError("上班时间必须早于下班时间，且在一天之内")
        local = _aware(start).astimezone(SHANGHAI)
        day = local.date()
        self.require(day.year)
        now_minutes = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        begin = max(now_minutes, office_start) if self._is_working(day) and now_minutes < office_end else None
        while True:
            if begin is not None and remaining <= office_end - begin:
                opened = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
                return opened + timedelta(minutes=begin + remaining)
            if begin is not None:
                remaining -= office_end - begin
            index = bisect_right(self._working, day.toordinal())
            if index >= len(self._working):
                raise CalendarNotCovered(self._first_gap_after(day.year))
            next_day = date.fromordinal(self._working[index])
            self._require_span(day.year, next_day.year)
            day, begin = next_day, office_start

    def half_working_day(self, start: datetime, office_start: int, office_end: int) -> datetime:
        """"0.5 个工作日" (MSG-1, 004 §20(四)): half of one day's office hours after `start`,
        counted in office hours on the official calendar (09:00–17:30 gives 4 h 15 min)."""
        return self.add_office_minutes(start, (_count(office_end) - _count(office_start)) // 2, office_start, office_end)

    def working_days_left(self, now: datetime, due: datetime) -> int:
        """Working days from today to the due day: 3 reads "剩余 3 个工作日", 0 is due today.

        Negative when the due day has passed (-2: two working days late). A deadline earlier
        today is also 0; the caller compares the instants to tell 今日到期 from 已超期.
        """
        today, due_day = _local_day(now), _local_day(due)
        low, high = min(today, due_day), max(today, due_day)
        self._require_span(low.year, high.year)
        between = (bisect_right(self._working, high.toordinal())
                   - bisect_right(self._working, low.toordinal()))
        return between if due_day >= today else -between

    def explain_working_days(self, start: datetime, days: int) -> Explanation:
        """The due instant, the working days counted and the rest days skipped on the way."""
        due = self.add_working_days(start, days)
        counted, skipped = [], []
        day, last = _local_day(start) + timedelta(days=1), _local_day(due)
        while day <= last:
            info = self.day_info(day)
            (counted.append(day) if info.working else skipped.append(info))
            day += timedelta(days=1)
        return Explanation(due=due, counted=counted, skipped=skipped)

    def _require_span(self, first_year: int, last_year: int) -> None:
        for year in range(first_year, last_year + 1):
            self.require(year)

    def _first_gap_after(self, year: int) -> int:
        while year in self.covered_years:
            year += 1
        return year


def add_hours(start: datetime, hours: int) -> datetime:
    """Elapsed time: start + N hours, to the second, shown in Asia/Shanghai."""
    return _aware(start).astimezone(SHANGHAI) + timedelta(hours=_count(hours))


def add_minutes(start: datetime, minutes: int) -> datetime:
    """Elapsed time: start + N minutes, to the second, shown in Asia/Shanghai."""
    return _aware(start).astimezone(SHANGHAI) + timedelta(minutes=_count(minutes))


# -- the calendar in force ---------------------------------------------------------------------

def bundled_years() -> frozenset[int]:
    """Years the pinned chinesecalendar release has State Council schedules for."""
    return frozenset(day.year for day in bundled_schedule.holidays)


@lru_cache(maxsize=16)
def build_calendar(overrides: tuple[DayOverride, ...] = (), declared_years: tuple[int, ...] = (),
                   roll_calendar_days: bool = False) -> WorkingCalendar:
    """The calendar for one set of overrides (cached: the same rows give the same object)."""
    return WorkingCalendar(bundled_schedule.holidays, bundled_schedule.workdays,
                           bundled_years() | set(declared_years), overrides, roll_calendar_days)


def calendar_for(session=None, roll_calendar_days: bool = False) -> WorkingCalendar:
    """The bundled calendar, or with `session` the bundled one plus the stored overrides."""
    if session is None:
        return build_calendar(roll_calendar_days=roll_calendar_days)
    from .calendar_store import stored_overrides

    overrides, years = stored_overrides(session)
    return build_calendar(overrides, years, roll_calendar_days)


def add_working_days(start: datetime, days: int, *, session=None) -> datetime:
    return calendar_for(session).add_working_days(start, days)


def add_calendar_days(start: datetime, days: int, *, session=None, roll: bool = False) -> datetime:
    return calendar_for(session, roll).add_calendar_days(start, days)


def half_working_day(start: datetime, office_start: int, office_end: int, *, session=None) -> datetime:
    return calendar_for(session).half_working_day(start, office_start, office_end)


def working_days_left(now: datetime, due: datetime, *, session=None) -> int:
    return calendar_for(session).working_days_left(now, due)


# -- helpers -----------------------------------------------------------------------------------

def _aware(value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError("时间参数必须是日期时间")
    if value.tzinfo is None:
        raise TypeError("时间参数必须带时区")
    return value


def _local_day(value: datetime) -> date:
    return _aware(value).astimezone(SHANGHAI).date()


def _end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, *END_OF_DAY, tzinfo=SHANGHAI)


def _count(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("天数、小时数或分钟数必须是整数")
    if value < 0:
        raise ValueError("天数、小时数或分钟数不能为负数")
    return value


HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


def _holiday_name(english: str) -> str:
    # chinesecalendar names its holidays in English; civil servants read the Chinese.
    return HOLIDAY_NAMES_ZH.get(english, english)
