"""Every demo login, with the demo's work in flight, follows every link its pages show (GET only,
bounded): no page fails (5xx), and no link leads to a page that refuses it (404 "does not exist",
403 "not yours"): a page shows a link only to someone who may follow it."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest

from engine.demo import USERS

PAGES_PER_LOGIN = 120
LINK = re.compile(r'href="(/[^"#]*)"')
# Not pages: the static bundles and files, and the logout form's target.
SKIP = re.compile(r"^/(static/|logout|attachments/\d+/download)")


@pytest.fixture
def demo_work(sqlite_rt):
    from engine.demo import seed_demo_work

    seed_demo_work(sqlite_rt)


def _links(html: str, base: str) -> list[str]:
    found = []
    for href in LINK.findall(html):
        url = urljoin(base, href.replace("&amp;", "&"))
        if not SKIP.match(urlsplit(url).path):
            found.append(url)
    return found


def _crawl(client) -> tuple[dict[str, int], dict[str, str]]:
    """Breadth-first from the inbox: status per URL, and for each URL the page that linked it."""
    start = "/inbox/"
    seen, came_from, queue = {}, {start: "(start)"}, deque([start])
    while queue and len(seen) < PAGES_PER_LOGIN:
        url = queue.popleft()
        response = client.get(url)
        seen[url] = response.status_code
        kind = response.headers.get("Content-Type", "")
        if response.status_code == 200 and kind.startswith("text/html"):
            for link in _links(response.get_data(as_text=True), url):
                if link not in came_from:
                    came_from[link] = url
                    queue.append(link)
    return seen, came_from


def test_every_login_follows_every_link_its_pages_show_without_an_error_or_a_dead_end(demo_work, sqlite_rt, client,
                                                                                      auth):
    failures = {}
    crawled = 0
    for username, *_ in USERS:  # every demo login: each role of RULES.md
        assert auth.login(username).status_code == 302, username
        seen, came_from = _crawl(client)
        crawled += len(seen)
        for url, status in seen.items():
            if status >= 500 or status in (403, 404):
                failures[f"{username} {url}"] = f"{status} (linked from {came_from[url]})"
        auth.logout()
    assert failures == {}, "\n".join(f"{k}: {v}" for k, v in sorted(failures.items()))
    assert crawled > 13 * 10  # every login reached more than its inbox
