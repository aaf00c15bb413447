"""The inbox in a real browser (Debian chromium, Playwright): an approver finds a task in 待办 by
search, reads the diagram with the current step highlighted, passes it with an opinion, and finds
it in 已办 with the step now shown completed. Screenshots go to tests/artifacts/ (git-ignored).

Skipped, saying why, where /usr/bin/chromium is absent (.ci/run installs it)."""

from __future__ import annotations

from pathlib import Path

from tests.browser.test_walkthrough import CHROMIUM, login, page, pytestmark, server  # noqa: F401
from tests.helpers import grant, submit

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def test_an_approver_works_a_task_from_todo_to_done_with_an_opinion(server, page, sqlite_rt, sqlite_users):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    title = "关于做好校园防汛工作的通知"
    grant(sqlite_rt, "zhaoliu", "reviewer")  # an approver who holds the review role only (李四 also signs)
    submit(sqlite_rt, sqlite_users["zhangsan"], title="区教育局工作简报")
    submit(sqlite_rt, sqlite_users["zhangsan"], title=title)
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, server, "zhaoliu")
    assert page.get_by_test_id("todo-count").inner_text() == "2"

    # keyboard first: the skip link is the first stop, then search the list by title
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.get_by_test_id("filter-q").fill("防汛")
    page.get_by_test_id("filter-q").press("Enter")
    rows = page.get_by_test_id("task-row")
    assert rows.count() == 1 and title in rows.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "inbox-todo-1366.png"), full_page=True)

    page.get_by_role("link", name=title).click()
    page.locator("[data-testid=diagram][data-rendered=true]").wait_for()
    assert page.locator('[data-testid=diagram] [data-element-id="review"].gf-current').count() == 1
    page.get_by_test_id("opinion").fill("内容准确，同意发布")
    page.screenshot(path=str(ARTIFACTS / "inbox-task-1366.png"), full_page=True)
    page.get_by_role("button", name="通过", exact=True).click()
    assert "已办理" in page.get_by_role("alert").first.inner_text()
    assert page.get_by_test_id("todo-count").inner_text() == "1"

    page.get_by_role("link", name="已办").click()
    done = page.get_by_test_id("task-row")
    assert done.count() == 1 and "通过" in done.first.inner_text()
    page.get_by_role("link", name=title).click()
    page.locator("[data-testid=diagram][data-rendered=true]").wait_for()
    assert page.locator('[data-testid=diagram] [data-element-id="review"].gf-completed').count() == 1
    assert page.locator('[data-testid=diagram] [data-element-id="sign"].gf-current').count() == 1
    assert "内容准确，同意发布" in page.get_by_test_id("history").inner_text()

    # the same pages on a phone: one card per row, nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="待办").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "inbox-todo-phone.png"), full_page=True)
