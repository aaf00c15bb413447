"""The 工作日历 admin page: the year grid, covered years, and corrections with a reason."""

import re
from datetime import UTC, datetime

from engine.calendar_store import list_overrides


def _page(client, year):
    return client.get(f"/admin/calendar/?year={year}").get_data(as_text=True)


def _kind(html: str, day: str) -> str:
    return re.search(rf'data-day="{day}" data-kind="(\w+)"', html).group(1)


def test_the_year_grid_marks_holidays_make_up_days_and_weekends(client, auth):
    auth.login("gaoyuan")
    html = _page(client, 2026)
    assert "2026 年的节假日安排已录入" in html
    # 2026 notice: 春节 2/15-2/23 off, 2/14 (Sat) and 2/28 (Sat) work; 3/7 is an ordinary Saturday.
    assert _kind(html, "2026-02-16") == "holiday"
    assert _kind(html, "2026-02-14") == "makeup"
    assert _kind(html, "2026-03-07") == "weekend"
    assert _kind(html, "2026-03-09") == "workday"
    assert "2004–2026" in html  # covered years


def test_an_uncovered_year_says_so_and_offers_to_declare_it(client, auth):
    auth.login("gaoyuan")
    html = _page(client, 2027)
    assert "2027 年节假日安排尚未录入" in html
    assert 'data-testid="declare-year"' in html


def test_an_administrator_corrects_a_day_with_a_reason(client, auth, sqlite_rt):
    auth.login("gaoyuan")
    response = auth.post("/admin/calendar/days?year=2026", {"day": "2026-03-06", "kind": "rest", "name": "临时放假",
                                                             "reason": "省政府通知"})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已保存。0 个未到期的期限已按新日历重新计算。" in html
    assert _kind(html, "2026-03-06") == "override_rest"
    assert "省政府通知" in html and "高远" in html
    override = list_overrides(sqlite_rt, 2026)[0]
    response = auth.post(f"/admin/calendar/overrides/{override.id}/remove", {"year": "2026", "reason": "通知撤回"})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已撤销" in html and _kind(html, "2026-03-06") == "workday"


def test_a_correction_without_a_reason_is_refused_and_changes_nothing(client, auth, sqlite_rt):
    auth.login("gaoyuan")
    response = auth.post("/admin/calendar/days?year=2026", {"day": "2026-03-06", "kind": "rest", "reason": ""})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "请填写修改工作日历的理由" in html
    assert list_overrides(sqlite_rt) == []
    response = auth.post("/admin/calendar/days?year=2026", {"day": "三月六日", "kind": "rest", "reason": "x"})
    assert "日期格式不正确" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_declaring_a_year_makes_it_covered(client, auth, sqlite_rt):
    auth.login("gaoyuan")
    response = auth.post("/admin/calendar/years", {"year": "2027", "reason": "国办发明电"})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2027 年的节假日安排已录入" in html and "2004–2027" in html


def test_a_district_administrator_may_look_but_not_change(client, auth, sqlite_rt):
    auth.login("liuyang")
    assert client.get("/admin/calendar/").status_code == 200
    response = auth.post("/admin/calendar/days?year=2026", {"day": "2026-03-06", "kind": "rest", "reason": "x"})
    assert "只有最上级单位的系统管理员可以修改工作日历" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert list_overrides(sqlite_rt) == []


def test_people_without_an_admin_or_auditor_role_cannot_open_it(client, auth):
    auth.login("zhangsan")
    assert client.get("/admin/calendar/").status_code == 403
    assert 'data-testid="nav-calendar"' not in client.get("/inbox/").get_data(as_text=True)
    response = auth.post("/admin/calendar/years", {"year": "2027", "reason": "x"})
    assert response.status_code == 403 and "您没有权限打开此页面" in response.get_data(as_text=True)


def test_the_page_reminds_when_next_year_is_missing(client, auth, sqlite_rt):
    sqlite_rt.clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    auth.login("chenjing")  # auditor: may read
    html = _page(client, 2026)
    assert "提醒：2027 年节假日安排尚未录入" in html
    assert 'data-testid="set-day"' in html  # the form is shown; the engine decides who may save
