"""The auditor's pages: read-only everywhere, search with keyset pages, context, REV-9 trace,
violations, chain check, and every list as CSV (UTF-8 with BOM) and PDF (Chinese text)."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select, text

from db.models import User
from db.session import reading
from engine import complete_task
from engine.audit_search import EventFilter, search_events
from tests.helpers import submit, task_id

SAFE = {"GET", "HEAD", "OPTIONS"}
# Logging in and out changes no record: an auditor must be able to do both; nor do their own API
# tokens (tests/test_webui_tokens.py), with which the API's audit routes are read; nor their own
# password (ACC-2 would otherwise lock out an auditor whose password must be changed).
NOT_MUTATING = {"auth.login", "auth.logout", "api_tokens.create", "api_tokens.revoke", "account.password"}


def _published(rt, users, title="关于开展校园安全检查的通知") -> int:
    iid = submit(rt, users["zhangsan"], kind="wechat", title=title)
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="内容准确")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass", opinion="同意发布")
    return iid


def _mutating_urls(app) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) - SAFE
        if not methods or rule.endpoint in NOT_MUTATING:
            continue
        values = {arg: 1 for arg in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        found.extend((rule.endpoint, method, url) for method in sorted(methods))
    return found


def test_every_mutating_route_of_the_app_returns_403_for_the_auditor(app, client, auth, sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"])  # something real behind id 1
    assert iid == 1
    routes = _mutating_urls(app)
    assert len(routes) >= 20 and {e for e, _, _ in routes} >= {"tasks.complete", "instances.cancel",
                                                                 "workcalendar.set_day_view", "reports.record_check"}
    auth.login("chenjing")
    refused = {}
    for endpoint, method, url in routes:
        response = client.open(url, method=method, data={"csrf_token": auth.csrf, "outcome": "pass", "reason": "审计",
                                                         "title": "x", "body": "x"})
        refused[endpoint] = response.status_code
    assert {e: s for e, s in refused.items() if s != 403} == {}
    with reading(sqlite_rt.session_factory) as session:
        assert session.execute(text("SELECT count(*) FROM audit_event WHERE actor_id = "
                                    "(SELECT id FROM user_account WHERE username = 'chenjing')")).scalar() == 0


def test_the_auditor_can_still_log_out_and_in(client, auth):
    auth.login("chenjing")
    assert auth.logout().status_code == 302
    assert auth.login("chenjing").status_code == 302


def test_people_without_the_auditor_or_admin_role_cannot_open_the_audit_pages(client, auth):
    auth.login("zhangsan")
    for url in ("/audit/", "/audit/violations", "/audit/verify", "/audit/trace/1", "/reports/annual"):
        assert client.get(url).status_code == 403, url


def test_search_by_person_and_date_range_pages_through_every_match_once(sqlite_rt, sqlite_users, clock):
    for n in range(4):
        clock.advance(days=1)
        _published(sqlite_rt, sqlite_users, title=f"稿件{n}")
    with reading(sqlite_rt.session_factory) as session:
        auditor = session.scalar(select(User).where(User.username == "chenjing"))
        lisi = session.scalar(select(User.id).where(User.username == "lisi"))
        from datetime import date, timedelta

        start = clock.now().date() - timedelta(days=2)
        flt = EventFilter(actor_id=lisi, date_from=start, date_to=date(2026, 12, 31))
        everything = search_events(session, auditor, flt, limit=100).rows
        pages, cursor = [], None
        while True:
            page = search_events(session, auditor, flt, cursor, limit=2)
            pages.extend(page.rows)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert len(everything) == 3 and all(r.actor_name == "李四" for r in everything)
    assert [r.id for r in pages] == [r.id for r in everything]
    assert [r.occurred_at for r in everything] == sorted((r.occurred_at for r in everything), reverse=True)


def test_the_search_page_filters_and_exports_csv_with_a_bom_and_pdf_with_chinese(client, auth, sqlite_rt, sqlite_users):
    _published(sqlite_rt, sqlite_users)
    auth.login("chenjing")
    with reading(sqlite_rt.session_factory) as session:
        lisi = session.scalar(select(User.id).where(User.username == "lisi"))
    page = client.get(f"/audit/?person={lisi}").get_data(as_text=True)
    assert "李四" in page and "内容准确" in page and "张三" not in re.sub(r"<option.*?</option>", "", page, flags=re.S)
    csv = client.get(f"/audit/?person={lisi}&format=csv")
    assert csv.mimetype == "text/csv" and csv.data.startswith("\ufeff".encode())
    body = csv.data.decode("utf-8-sig")
    assert body.splitlines()[0].startswith("编号,时间（北京时间）,办理人") and "李四" in body and "内容准确" in body
    pdf = client.get(f"/audit/?person={lisi}&format=pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    import pypdf

    extracted = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "审计记录查询结果" in extracted and "李四" in extracted and "内容准确" in extracted


def test_an_events_page_shows_its_check_and_the_instance_history_around_it(client, auth, sqlite_rt, sqlite_users):
    iid = _published(sqlite_rt, sqlite_users)
    auth.login("chenjing")
    page = client.get("/audit/events/2").get_data(as_text=True)
    assert "内容与哈希一致" in page and "同意发布" in page and f"/audit/trace/{iid}" in page


def test_the_trace_page_and_its_exports_name_the_reviewers(client, auth, sqlite_rt, sqlite_users):
    iid = _published(sqlite_rt, sqlite_users)
    auth.login("chenjing")
    page = client.get(f"/audit/trace/{iid}").get_data(as_text=True)
    assert "区教育局" in page and "李四" in page and "王五" in page and "同意发布" in page
    csv = client.get(f"/audit/trace/{iid}?format=csv").data.decode("utf-8-sig")
    assert "内容审核,李四" in csv and "栏目责任人/签发,王五" in csv


def test_the_violations_list_shows_missed_deadlines(client, auth, sqlite_rt, sqlite_users, clock):
    from engine.assets import start_correction

    asset = 2  # 区教育发布 (demo)
    start_correction(sqlite_rt, sqlite_users["sunqi"], asset, urgency="urgent", finding="推文标题错字")
    clock.advance(hours=2)
    from engine.sweep import sweep

    sweep(sqlite_rt)
    auth.login("chenjing")
    page = client.get("/audit/violations").get_data(as_text=True)
    assert "REV-11" in page and "错敏信息未在规定时限内整改" in page  # the register entry
    assert "办理超期" in page and "至今未办理" in page  # and the missed deadline itself
    assert client.get("/audit/violations?format=csv").data.decode("utf-8-sig").count("REV-11") >= 1


def test_the_verify_page_reports_an_intact_chain_then_names_the_broken_event(client, auth, sqlite_rt, sqlite_users):
    _published(sqlite_rt, sqlite_users)
    auth.login("liuyang")  # an administrator may check too
    page = client.get("/audit/verify?run=1").get_data(as_text=True)
    assert "全部校验通过" in page and re.search(r'data-testid="anchor">\d+:[0-9a-f]{64}<', page)
    engine = sqlite_rt.session_factory.kw["bind"]
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_event_no_update")
        conn.exec_driver_sql("UPDATE audit_event SET opinion = '不同意' WHERE id = 3")
    page = client.get("/audit/verify?run=1").get_data(as_text=True)
    assert "审计链校验未通过" in page and 'data-testid="broken-event">3<' in page
    assert "锚点应写成" in client.get("/audit/verify?run=1&anchor=bad").get_data(as_text=True)


@pytest.mark.parametrize("url", ["/reports/annual?year=2026", "/reports/inspections?year=2026", "/reports/compliance"])
def test_each_report_page_draws_its_charts_and_downloads_as_csv_and_pdf(client, auth, sqlite_rt, sqlite_users, url):
    _published(sqlite_rt, sqlite_users)
    auth.login("chenjing")
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-chart=" in html and "dist/charts.js" in html and "http" not in html.split("dist/charts.js")[0][-80:]
    csv = client.get(url + "&format=csv" if "?" in url else url + "?format=csv")
    assert csv.status_code == 200 and csv.data.startswith("\ufeff".encode())
    pdf = client.get(url + "&format=pdf" if "?" in url else url + "?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_district_office_records_checks_on_the_inspection_sheet(client, auth, sqlite_rt, clock):
    from datetime import datetime

    from engine.clock import SHANGHAI
    from engine.supervision import open_due_supervision

    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI))
    open_due_supervision(sqlite_rt)
    auth.login("zhouba")
    with reading(sqlite_rt.session_factory) as session:
        iid = session.execute(text("SELECT id FROM process_instance WHERE business_key LIKE 'quarterly_inspection:%'")).scalar()
    sheet = client.get(f"/reports/inspections/{iid}/sheet").get_data(as_text=True)
    assert "某区人民政府门户网站" in sheet and 'data-testid="done">0<' in sheet
    response = auth.post(f"/reports/inspections/{iid}/assets/1", {"result": "problem", "problem": "首页链接失效"})
    assert response.status_code == 303
    sheet = client.get(f"/reports/inspections/{iid}/sheet").get_data(as_text=True)
    assert 'data-testid="done">1<' in sheet and "首页链接失效" in sheet
