"""The working-day calendar, checked against the State Council holiday notices by hand.

Expected dates are derived in the `why` column from the notices, never from the code:

2025 (国办发明电〔2024〕12号): 元旦 1/1 (Wed) off. 春节 1/28 (Tue)–2/4 (Tue) off, 1/26 (Sun) and
2/8 (Sat) work. 清明 4/4 (Fri)–4/6 off. 劳动节 5/1 (Thu)–5/5 (Mon) off, 4/27 (Sun) works. 端午
5/31 (Sat)–6/2 (Mon) off. 国庆+中秋 10/1 (Wed)–10/8 (Wed) off, 9/28 (Sun) and 10/11 (Sat) work.

2026 (国办发明电〔2025〕7号): 元旦 1/1 (Thu)–1/3 (Sat) off, 1/4 (Sun) works. 春节 2/15 (Sun)–2/23
(Mon) off, 2/14 (Sat) and 2/28 (Sat) work. 清明 4/4 (Sat)–4/6 (Mon) off. 劳动节 5/1 (Fri)–5/5 (Tue)
off, 5/9 (Sat) works. 端午 6/19 (Fri)–6/21 (Sun) off. 中秋 9/25 (Fri)–9/27 (Sun) off. 国庆 10/1
(Thu)–10/7 (Wed) off, 9/20 (Sun) and 10/10 (Sat) work.

Rules (RULES.md "Working days and deadlines"): the start instant is read in Asia/Shanghai, the
start day never counts, a deadline ends at 23:59:59 Asia/Shanghai.
"""

from datetime import date, datetime

import pytest

from engine.calendar import (
    CalendarNotCovered,
    DayOverride,
    WorkingCalendar,
    add_calendar_days,
    add_hours,
    add_minutes,
    add_working_days,
    build_calendar,
    calendar_for,
    working_days_left,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def end_of(day: str) -> datetime:
    return at(f"{day}T23:59:59+08:00")


WORKING_DAYS = [
    # (start instant, N, expected due day, why)
    ("2025-01-24T10:00+08:00", 5, "2025-02-07",
     "Fri start; 1/25 Sat off; 1/26 make-up Sun=1; 1/27=2; 1/28-2/4 春节 off; 2/5=3, 2/6=4, 2/7=5"),
    ("2025-01-30T09:00+08:00", 1, "2025-02-05", "start inside 春节; first working day after it is Wed 2/5"),
    ("2025-01-30T09:00+08:00", 3, "2025-02-07", "2/5=1, 2/6=2, 2/7=3"),
    ("2025-01-30T09:00+08:00", 5, "2025-02-10", "2/5, 2/6, 2/7, 2/8 make-up Sat=4, 2/9 Sun off, 2/10 Mon=5"),
    ("2025-02-08T15:00+08:00", 1, "2025-02-10", "start on make-up Sat 2/8 (does not count); 2/9 Sun off; Mon"),
    ("2025-01-25T16:30:00Z", 1, "2025-01-27",
     "UTC instant is 1/26 00:30 in Shanghai, the make-up Sunday, which is the start day; 1/27=1"),
    ("2025-01-25T16:30:00Z", 3, "2025-02-06", "1/27=1, 春节 off, 2/5=2, 2/6=3"),
    ("2025-09-27T16:30:00Z", 1, "2025-09-29",
     "Shanghai date 9/28 (make-up Sun) is the start day; read as UTC 9/27 the answer would be 9/28"),
    ("2025-09-30T23:30+08:00", 1, "2025-10-09", "late evening Tue; 10/1-10/8 off; Thu 10/9=1"),
    ("2025-09-30T23:30+08:00", 3, "2025-10-11", "10/9=1, 10/10=2, 10/11 make-up Sat=3"),
    ("2025-09-30T23:30+08:00", 5, "2025-10-14", "10/9, 10/10, 10/11, 10/12 Sun off, 10/13=4, 10/14=5"),
    ("2025-04-03T10:00+08:00", 1, "2025-04-07", "清明 4/4-4/6 off; Mon 4/7"),
    ("2025-04-25T10:00+08:00", 3, "2025-04-29", "4/26 Sat off; 4/27 make-up Sun=1; 4/28=2; 4/29=3"),
    ("2025-04-25T10:00+08:00", 5, "2025-05-06", "4/27, 4/28, 4/29, 4/30=4; 5/1-5/5 off; 5/6=5"),
    ("2025-05-30T10:00+08:00", 1, "2025-06-03", "端午 5/31-6/2 off; Tue 6/3"),
    ("2024-12-31T10:00+08:00", 1, "2025-01-02", "元旦 2025-01-01 off; Thu 1/2 (across the year)"),
    ("2025-12-31T10:00+08:00", 1, "2026-01-04", "元旦 1/1-1/3 off; 1/4 make-up Sun=1 (across the year)"),
    ("2025-12-31T10:00+08:00", 3, "2026-01-06", "1/4=1, Mon 1/5=2, Tue 1/6=3"),
    ("2026-02-13T18:00+08:00", 1, "2026-02-14", "Fri evening; 2/14 make-up Sat=1"),
    ("2026-02-13T18:00+08:00", 3, "2026-02-25", "2/14=1; 2/15-2/23 off; 2/24=2; 2/25=3"),
    ("2026-02-13T18:00+08:00", 15, "2026-03-12",
     "2/14=1, 2/24..2/27=2..5, 2/28 make-up Sat=6, 3/2..3/6=7..11, 3/9..3/12=12..15"),
    ("2026-04-03T10:00+08:00", 1, "2026-04-07", "清明 4/4-4/6 off; Tue 4/7"),
    ("2026-04-30T10:00+08:00", 5, "2026-05-11",
     "5/1-5/5 off; 5/6=1, 5/7=2, 5/8=3, 5/9 make-up Sat=4, 5/10 Sun off, 5/11=5"),
    ("2026-06-18T10:00+08:00", 1, "2026-06-22", "端午 6/19-6/21 off; Mon 6/22"),
    ("2026-09-18T10:00+08:00", 5, "2026-09-24", "9/19 Sat off; 9/20 make-up Sun=1; 9/21..9/24=2..5"),
    ("2026-09-18T10:00+08:00", 15, "2026-10-15",
     "9/20..9/24=1..5; 中秋 9/25-27 off; 9/28..9/30=6..8; 国庆 10/1-10/7 off; 10/8=9, 10/9=10, "
     "10/10 make-up Sat=11, 10/11 Sun off, 10/12..10/15=12..15"),
    ("2026-09-30T22:00+08:00", 1, "2026-10-08", "国庆 10/1-10/7 off; Thu 10/8"),
]


@pytest.mark.parametrize(("start", "days", "due_day", "why"), WORKING_DAYS,
                         ids=[f"{row[0]}+{row[1]}wd" for row in WORKING_DAYS])
def test_add_working_days_follows_the_state_council_schedule(start, days, due_day, why):
    due = add_working_days(at(start), days)
    assert due == end_of(due_day), why
    assert due.utcoffset().total_seconds() == 8 * 3600  # shown on Shanghai time


CALENDAR_DAYS = [
    ("2025-02-10T09:00+08:00", 30, "2025-03-12", "Feb 2025 has 28 days: 2/10+18=2/28, +12=3/12"),
    ("2026-01-31T09:00+08:00", 30, "2026-03-02", "1/31+28=2/28, +2=3/2 (not P1M, which would give 3/3)"),
    ("2024-02-10T09:00+08:00", 30, "2024-03-11", "leap year: 2/10+19=2/29, +11=3/11"),
    ("2025-01-31T17:00:00Z", 30, "2025-03-03", "UTC instant is 2/1 01:00 in Shanghai; 2/1+27=2/28, +3=3/3"),
    ("2025-09-01T10:00+08:00", 30, "2025-10-01", "ends on a holiday and is not rolled forward by default"),
    ("2026-12-15T10:00+08:00", 30, "2027-01-14", "calendar days need no holiday schedule, even in 2027"),
]


@pytest.mark.parametrize(("start", "days", "due_day", "why"), CALENDAR_DAYS,
                         ids=[f"{row[0]}+{row[1]}d" for row in CALENDAR_DAYS])
def test_add_calendar_days_counts_every_day_from_the_day_after_the_start(start, days, due_day, why):
    assert add_calendar_days(at(start), days) == end_of(due_day), why


def test_the_rolling_policy_moves_a_calendar_deadline_off_a_rest_day():
    # 9/1 + 30 = 10/1, inside 国庆 10/1-10/8; the next working day is Thu 10/9.
    assert add_calendar_days(at("2025-09-01T10:00+08:00"), 30, roll=True) == end_of("2025-10-09")
    # A deadline that already falls on a working day stays where it is.
    assert add_calendar_days(at("2025-02-10T09:00+08:00"), 30, roll=True) == end_of("2025-03-12")


def test_elapsed_time_ignores_holidays_and_keeps_the_second():
    assert add_hours(at("2025-01-28T20:00:30+08:00"), 12) == at("2025-01-29T08:00:30+08:00")
    assert add_minutes(at("2026-02-16T23:45+08:00"), 30) == at("2026-02-17T00:15+08:00")
    assert add_hours(at("2026-02-16T04:00:00Z"), 24) == at("2026-02-17T12:00:00+08:00")


def test_working_days_left_counts_working_days_to_the_due_day():
    due = end_of("2025-02-07")
    assert working_days_left(at("2025-01-24T10:00+08:00"), due) == 5  # the table's first row
    assert working_days_left(at("2025-02-06T09:00+08:00"), due) == 1
    assert working_days_left(at("2025-02-07T09:00+08:00"), due) == 0  # 今日到期
    # Two working days late on Mon 2/10: the make-up Sat 2/8 and Mon 2/10 itself.
    assert working_days_left(at("2025-02-10T09:00+08:00"), due) == -2


def test_the_start_day_never_counts_even_when_it_is_a_working_day():
    assert add_working_days(at("2026-03-02T08:00+08:00"), 1) == end_of("2026-03-03")
    assert add_working_days(at("2026-03-02T08:00+08:00"), 0) == end_of("2026-03-02")


def test_a_year_without_a_schedule_is_never_guessed():
    # 12/29=1, 12/30=2, 12/31=3: still inside 2026, so this one is computed.
    assert add_working_days(at("2026-12-28T10:00+08:00"), 3) == end_of("2026-12-31")
    with pytest.raises(CalendarNotCovered) as caught:
        add_working_days(at("2026-12-28T10:00+08:00"), 5)
    assert caught.value.year == 2027
    assert caught.value.message.startswith("2027 年节假日安排尚未录入")
    with pytest.raises(CalendarNotCovered, match="2027 年"):
        add_working_days(at("2027-03-01T10:00+08:00"), 1)
    with pytest.raises(CalendarNotCovered, match="2027 年"):
        working_days_left(at("2026-12-30T10:00+08:00"), end_of("2027-01-05"))
    with pytest.raises(CalendarNotCovered, match="2027 年"):
        add_calendar_days(at("2026-12-15T10:00+08:00"), 30, roll=True)
    with pytest.raises(CalendarNotCovered, match="2003 年"):
        add_working_days(at("2003-12-30T10:00+08:00"), 1)


def test_a_gap_year_between_covered_years_is_not_skipped():
    # 2028 entered but 2027 not: counting from late 2026 must stop at 2027, not jump over it.
    calendar = build_calendar(declared_years=(2028,))
    with pytest.raises(CalendarNotCovered, match="2027 年"):
        calendar.add_working_days(at("2026-12-28T10:00+08:00"), 5)


def test_overrides_replace_the_bundled_day():
    # An administrator makes Fri 2026-03-06 a rest day and Sat 2026-03-07 a working day.
    calendar = build_calendar((DayOverride(date(2026, 3, 6), False, "临时放假"),
                               DayOverride(date(2026, 3, 7), True, "调休上班")))
    # From Thu 3/5: 3/6 now off, 3/7 now on = 1.
    assert calendar.add_working_days(at("2026-03-05T10:00+08:00"), 1) == end_of("2026-03-07")
    assert calendar.day_info(date(2026, 3, 6)).kind == "override_rest"
    # The bundled calendar is untouched.
    assert calendar_for().add_working_days(at("2026-03-05T10:00+08:00"), 1) == end_of("2026-03-06")


def test_a_declared_year_counts_weekends_and_its_overrides():
    calendar = build_calendar((DayOverride(date(2027, 1, 1), False, "元旦"),), declared_years=(2027,))
    # 12/29, 12/30, 12/31 = 1..3; Fri 2027-01-01 entered as 元旦 off; Sat, Sun off; Mon 1/4=4, Tue 1/5=5.
    assert calendar.add_working_days(at("2026-12-28T10:00+08:00"), 5) == end_of("2027-01-05")


def test_explain_names_the_days_counted_and_the_holidays_skipped():
    explained = calendar_for().explain_working_days(at("2025-01-24T10:00+08:00"), 5)
    assert explained.due == end_of("2025-02-07")
    assert [d.isoformat() for d in explained.counted] == [
        "2025-01-26", "2025-01-27", "2025-02-05", "2025-02-06", "2025-02-07"]
    skipped = {info.day.isoformat(): (info.kind, info.name) for info in explained.skipped}
    assert skipped["2025-01-25"] == ("weekend", "周六")
    assert skipped["2025-01-28"] == ("holiday", "春节")
    assert len(skipped) == 9  # 1/25 and the eight days of 春节


@pytest.mark.parametrize("bad", [-1, 1.5, "5", True])
def test_a_count_that_is_not_a_whole_number_is_refused(bad):
    with pytest.raises((TypeError, ValueError)):
        add_working_days(at("2026-03-02T08:00+08:00"), bad)


def test_a_naive_start_is_refused():
    with pytest.raises(TypeError, match="时区"):
        add_working_days(datetime(2026, 3, 2, 8, 0), 1)


def test_covered_years_are_the_bundled_ones_plus_the_declared():
    assert {2004, 2025, 2026} <= calendar_for().covered_years
    assert 2027 not in calendar_for().covered_years
    assert isinstance(build_calendar(declared_years=(2027,)), WorkingCalendar)
    assert 2027 in build_calendar(declared_years=(2027,)).covered_years
