"""OFF-1 in a real browser: the host unit applies from the asset's page, the offices approve in
their inboxes, the unit announces and the registry shows the account offline.

Skipped, saying why, where /usr/bin/chromium is absent (.ci/run installs it)."""

from __future__ import annotations

from tests.browser.test_walkthrough import CHROMIUM, login, logout, open_task, page, pytestmark, server  # noqa: F401


def test_off_1_temporary_offline_from_the_asset_page_through_three_offices_in_a_browser(server, page, clock):  # noqa: F811
    title = "区教育发布申请临时下线"
    login(page, server, "zhangsan")
    page.get_by_test_id("nav-assets").click()
    page.get_by_role("link", name="区教育发布").first.click()
    assert page.get_by_test_id("asset-state").inner_text() == "已上线"
    page.get_by_test_id("apply-offline").get_by_label("下线原因及整改方案").fill("账号内容全面整改，预计 20 天")
    page.get_by_test_id("apply-offline").get_by_role("button", name="提交").click()
    assert "已提交，进入临时下线流程" in page.content()
    logout(page, clock)

    for username, button in (("zhouba", "同意"), ("wujiu", "同意"), ("zhengshi", "批准")):
        login(page, server, username)
        open_task(page, title)
        assert "账号内容全面整改" in page.get_by_test_id("history").inner_text()
        page.get_by_test_id("opinion").fill("同意")
        page.get_by_role("button", name=button, exact=True).click()
        logout(page, clock)

    login(page, server, "zhangsan")
    open_task(page, title)
    page.locator("input[name=field_announced_where]").fill("区教育发布 公众号")
    page.locator("textarea[name=field_announcement]").fill("本账号将临时下线整改。")
    page.get_by_role("button", name="已发布公告并下线").click()
    page.get_by_test_id("nav-assets").click()
    page.get_by_role("link", name="区教育发布").first.click()
    assert page.get_by_test_id("asset-state").inner_text() == "临时下线"
    assert "已上线 → 临时下线" in page.get_by_test_id("asset-history").inner_text()
