"""The auditor in a real browser: the nav leads to the trail and the reports, the Chart.js
charts (bundled, nothing from outside) draw, and the verify page names the chain's head.

Skipped, saying why, where /usr/bin/chromium is absent (.ci/run installs it)."""

from __future__ import annotations

from engine import complete_task
from tests.browser.test_walkthrough import CHROMIUM, login, page, pytestmark, server  # noqa: F401
from tests.conftest import actors_of
from tests.helpers import submit, task_id


def test_an_auditor_searches_the_trail_and_reads_charted_reports_in_a_browser(server, page, sqlite_rt):  # noqa: F811
    users = actors_of(sqlite_rt)
    iid = submit(sqlite_rt, users["zhangsan"], kind="wechat")
    complete_task(sqlite_rt, task_id(sqlite_rt, iid, "review"), users["lisi"], outcome="pass", opinion="内容准确")
    complete_task(sqlite_rt, task_id(sqlite_rt, iid, "sign"), users["wangwu"], outcome="pass", opinion="同意发布")
    login(page, server, "chenjing")
    page.get_by_test_id("nav-audit").click()
    assert "同意发布" in page.get_by_test_id("audit-results").inner_text()
    page.get_by_role("link", name="责任追溯").first.click()
    assert page.get_by_test_id("supplier").inner_text() == "区教育局"
    page.get_by_test_id("nav-reports").click()
    page.get_by_role("link", name="年度工作报表").first.click()
    page.wait_for_selector("canvas[data-testid=chart-columns][data-rendered=true]")
    page.goto(f"{server}/audit/verify?run=1")
    assert ":" in page.get_by_test_id("anchor").inner_text()
