"""Steps 1–4 of the foundation walk-through in a real browser (Debian chromium, Playwright).

Skipped, saying why, where /usr/bin/chromium is absent (.ci/run installs it)."""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} not installed (apt-get install -y chromium); browser test skipped"),
]


@pytest.fixture
def server(app):
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        external = []
        page.on("request", lambda req: external.append(req.url) if not req.url.startswith("http://127.0.0.1") else None)
        page.set_default_timeout(15_000)
        yield page
        browser.close()
        assert external == [], f"pages loaded from outside: {external}"


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("Demo@2026")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/inbox/")


def logout(page, clock=None) -> None:
    page.get_by_role("button", name="退出").click()
    if clock is not None:
        clock.advance(minutes=17)  # the next person acts a little later


def open_task(page, title: str) -> None:
    page.get_by_role("link", name=title).first.click()


def test_rev_1_to_rev_5_editor_reviewer_signer_and_egov_centre_in_a_browser(server, page, clock):
    title = "关于2026年秋季学期开学安排的通知"

    # 1. editor 张三 creates a portal item and submits it
    login(page, server, "zhangsan")
    page.get_by_role("link", name="新建稿件").click()
    page.get_by_label("标题").fill(title)
    page.get_by_label("正文").fill("各中小学：秋季学期于9月1日开学。")
    page.get_by_label("门户网站栏目").check()
    page.get_by_label("栏目或账号名称").fill("通知公告")
    page.get_by_role("button", name="提交审核").click()
    assert "稿件已提交" in page.content()
    logout(page, clock)

    # 2. reviewer 李四 sees it in 待办, returns it with a reason; 张三 revises; 李四 passes it
    login(page, server, "lisi")
    assert page.get_by_test_id("todo-count").inner_text() == "1"
    open_task(page, title)
    assert "秋季学期于9月1日开学" in page.get_by_text("各中小学").inner_text()
    page.get_by_test_id("opinion").fill("请补充报到时间")
    page.get_by_role("button", name="退回修改").click()
    logout(page, clock)

    login(page, server, "zhangsan")
    open_task(page, title)
    assert "请补充报到时间" in page.get_by_test_id("history").inner_text()
    page.locator("textarea[name=field_body]").fill("各中小学：秋季学期于9月1日开学，8月31日报到。")
    page.get_by_role("button", name="重新提交").click()
    logout(page, clock)

    login(page, server, "lisi")
    open_task(page, title)
    page.get_by_test_id("opinion").fill("内容准确，同意")
    page.get_by_role("button", name="通过").click()
    # REV-3: 李四 also holds the signer role, and is refused at the second step with a reason
    open_task(page, title)
    assert "同一人对同一事项只能办理一个环节" in page.get_by_test_id("refusal").inner_text()
    logout(page, clock)

    # 3. signer 王五 signs; the e-government centre reviews portal content last (REV-5)
    login(page, server, "wangwu")
    open_task(page, title)
    # the diagram (bpmn-js, bundled) shows the review done and the sign-off as the current step
    page.locator("[data-testid=diagram][data-rendered=true]").wait_for()
    assert page.locator('[data-testid=diagram] [data-element-id="sign"].gf-current').count() == 1
    assert page.locator('[data-testid=diagram] [data-element-id="review"].gf-completed').count() == 1
    page.get_by_test_id("opinion").fill("同意签发")
    page.get_by_role("button", name="签发").click()
    logout(page, clock)

    login(page, server, "sunqi")
    open_task(page, title)
    page.get_by_test_id("opinion").fill("同意上线")
    page.get_by_role("button", name="同意上线").click()
    logout(page, clock)

    # 4. published; the history shows who did what, when, with their opinions
    login(page, server, "zhangsan")
    page.get_by_role("link", name="我发起的").click()
    page.get_by_role("link", name=title).click()
    assert page.get_by_test_id("content-status").inner_text() == "已发布"
    history = page.get_by_test_id("history").inner_text()
    for expected in ["张三", "李四", "请补充报到时间", "内容准确，同意", "王五", "同意签发", "孙七", "同意上线",
                     "2026-03-02 09:00", "2026-03-02 10:25"]:  # Asia/Shanghai times of the first and last acts
        assert expected in history
    page.screenshot(path=os.environ.get("GOVFLOW_SCREENSHOT", "/tmp/govflow-walkthrough.png"), full_page=True)
