"""Deadline badges in the inbox: 剩余 N 个工作日 / 今日到期 / 已超期 N 天 (dates by hand, 2026 notice:
劳动节 5/1–5/5 off, 5/9 Sat works)."""

from datetime import UTC, datetime
from pathlib import Path

from engine import deploy, start_process
from engine.badges import deadline_badge
from engine.calendar import build_calendar, calendar_for

DUE = datetime.fromisoformat("2026-05-06T23:59:59+08:00")


def at(text):
    return datetime.fromisoformat(text)


def test_working_days_left_across_labour_day():
    # From Tue 4/28: 4/29, 4/30, then 5/1-5/5 off, 5/6 is the third working day.
    badge = deadline_badge(calendar_for(), at("2026-04-28T10:00+08:00"), DUE)
    assert (badge.kind, badge.text_zh, badge.text_en) == ("ok", "剩余 3 个工作日", "3 working days left")
    assert deadline_badge(calendar_for(), at("2026-04-30T10:00+08:00"), DUE).text_zh == "即将到期 · 剩余 1 个工作日"
    assert deadline_badge(calendar_for(), at("2026-04-30T10:00+08:00"), DUE).kind == "soon"
    # During the holiday the one working day left is still 5/6 itself: due that day.
    assert deadline_badge(calendar_for(), at("2026-05-03T10:00+08:00"), DUE).text_zh == "即将到期 · 剩余 1 个工作日"


def test_due_today_and_overdue():
    assert deadline_badge(calendar_for(), at("2026-05-06T09:00+08:00"), DUE).text_zh == "即将到期 · 今日到期"
    late = deadline_badge(calendar_for(), at("2026-05-08T09:00+08:00"), DUE)
    assert (late.kind, late.text_zh) == ("overdue", "已超期 2 天")
    hours = at("2026-05-06T15:00+08:00")  # an elapsed-time deadline earlier the same day
    assert deadline_badge(calendar_for(), at("2026-05-06T16:00+08:00"), hours).text_zh == "已超期"


def test_a_due_day_in_an_uncovered_year_shows_the_date_instead_of_guessing():
    badge = deadline_badge(build_calendar(), at("2026-12-30T10:00+08:00"), at("2027-01-05T23:59:59+08:00"))
    assert (badge.kind, badge.text_zh) == ("unknown", "2027-01-05 到期")


def test_the_inbox_shows_the_badge_with_the_exact_instant_on_hover(client, auth, sqlite_rt, sqlite_users):
    fixture = Path(__file__).parent / "fixtures" / "working_day_deadline.bpmn"
    sqlite_rt.clock.set(datetime(2026, 4, 28, 2, 0, tzinfo=UTC))
    deploy(sqlite_rt, fixture.read_bytes(), deployed_by="tests")
    start_process(sqlite_rt, "working_day_deadline", sqlite_users["zhangsan"], title="期限徽标",
                  business_key="test:badge")
    auth.login("lisi")
    html = client.get("/inbox/").get_data(as_text=True)
    assert "剩余 3 个工作日" in html and 'title="截止时间（北京时间） 2026-05-06 23:59:59"' in html
    sqlite_rt.clock.set(datetime(2026, 5, 8, 1, 0, tzinfo=UTC))
    auth.login("lisi")  # nine days later: the idle session has long timed out
    assert "已超期 2 天" in client.get("/inbox/").get_data(as_text=True)
