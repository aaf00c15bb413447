"""Half a working day (0.5 个工作日, MSG-1 / 004 §20(四)) counted in office hours on the official calendar.

Office hours are the profile default 09:00–17:30, so half a working day is 4 h 15 min of office time.
Dates by hand, from the State Council notices for 2026 (chinesecalendar 1.11.0):
- 清明: Sat 4/4 – Mon 4/6 off, so Fri 4/3 is followed by Tue 4/7;
- 春节: Sun 2/15 – Mon 2/23 off, Sat 2/14 a make-up working day (调休上班), Tue 2/24 the next one.
"""

from datetime import datetime

import pytest

from engine.calendar import CalendarNotCovered, calendar_for
from engine.deadlines import DeadlineRecorder, compute

OPEN, CLOSE = 9 * 60, 17 * 60 + 30


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(("start", "due", "why"), [
    ("2026-03-02T10:00+08:00", "2026-03-02T14:15+08:00", "Monday morning: 4 h 15 min later the same day"),
    ("2026-03-02T13:15+08:00", "2026-03-02T17:30+08:00", "exactly the rest of the day: due at closing time"),
    ("2026-03-02T15:00+08:00", "2026-03-03T10:45+08:00", "2 h 30 min today, 1 h 45 min from Tuesday's opening"),
    ("2026-03-02T07:00+08:00", "2026-03-02T13:15+08:00", "before opening: counted from 09:00"),
    ("2026-03-02T18:00+08:00", "2026-03-03T13:15+08:00", "after closing: counted from the next opening"),
    ("2026-03-01T10:00+08:00", "2026-03-02T13:15+08:00", "on a Sunday: from Monday's opening"),
    ("2026-04-03T16:00+08:00", "2026-04-07T11:45+08:00", "Friday before 清明: 1 h 30 min, then Tuesday after it"),
    ("2026-02-13T16:00+08:00", "2026-02-14T11:45+08:00", "the make-up Saturday 2/14 is a working day"),
    ("2026-02-14T17:00+08:00", "2026-02-24T12:45+08:00", "30 min on the make-up day, then after 春节"),
    ("2026-03-02T02:00:00Z", "2026-03-02T14:15+08:00", "a UTC start is read in Beijing time"),
])
def test_half_a_working_day_is_counted_in_office_hours(start, due, why):
    assert calendar_for().half_working_day(at(start), OPEN, CLOSE) == at(due), why


def test_office_minutes_follow_the_profiles_office_hours():
    """A profile with 08:30–17:00 gives 4 h 15 min as well, but from its own opening."""
    assert calendar_for().half_working_day(at("2026-03-02T16:00+08:00"), 8 * 60 + 30, 17 * 60) == \
        at("2026-03-03T11:45+08:00")
    assert calendar_for().add_office_minutes(at("2026-03-02T17:00+08:00"), 60, OPEN, CLOSE) == \
        at("2026-03-03T09:30+08:00")


def test_a_half_working_day_into_an_uncovered_year_is_refused():
    with pytest.raises(CalendarNotCovered) as refused:
        calendar_for().half_working_day(at("2026-12-31T16:00+08:00"), OPEN, CLOSE)
    assert refused.value.year == 2027


@pytest.mark.parametrize(("office_start", "office_end"), [(CLOSE, OPEN), (OPEN, OPEN), (OPEN, 24 * 60 + 1)])
def test_office_hours_that_are_not_a_span_of_one_day_are_refused(office_start, office_end):
    with pytest.raises(ValueError):
        calendar_for().half_working_day(at("2026-03-02T10:00+08:00"), office_start, office_end)


def test_a_diagram_timer_records_what_a_calendar_correction_recomputes():
    """add_half_working_day(start, …) is recorded with both office-hour bounds, so the stored
    deadline can be computed again by the same rule after the calendar changes."""
    recorder = DeadlineRecorder(calendar_for)
    recorder.current_task_id = "task-1"
    iso = recorder.functions()["add_half_working_day"]("2026-04-03T16:00+08:00", OPEN, CLOSE)
    assert iso == "2026-04-07T11:45:00+08:00"
    how = recorder.computed["task-1"]
    assert how.rule == "half_working_day"
    assert compute(calendar_for(), how.rule, how.start, how.amount) == at("2026-04-07T11:45+08:00")
