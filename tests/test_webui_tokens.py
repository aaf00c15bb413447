"""API 令牌 in the web UI and the rate limits on logging in and creating tokens (issue 11):
a token is shown once and listed by its prefix only, revoking needs a confirmation and a CSRF
token, another person's token is 404, and too many attempts are answered 429 with Retry-After."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from db.models import ApiToken, AuditEvent
from db.session import reading, transaction
from engine.api_tokens import authenticate_token


def _html(response) -> str:
    return response.get_data(as_text=True)


def _token_in(html: str) -> str:
    return re.search(r'data-testid="token-text">(gf_[A-Za-z0-9_-]{40})<', html).group(1)


def _written(rt) -> tuple[int, int]:
    """(token rows, token audit events)."""
    with reading(rt.session_factory) as session:
        return (session.scalar(select(func.count()).select_from(ApiToken)),
                session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action.like("api_token_%"))))


def _acts_as(rt, token: str):
    with transaction(rt.session_factory) as session:
        return authenticate_token(session, token, rt.clock.now())


def _create(auth, name="信息报送接口", roles=("reviewer",), days="30"):
    return auth.post("/account/tokens/", {"name": name, "roles": list(roles), "days": days})


@pytest.fixture
def limited_app(sqlite_rt):
    """The app with small limits, so a test reaches them in a few requests."""
    from webui import create_app

    return create_app({"SECRET_KEY": "test-secret", "TESTING": True, "GOVFLOW_RUNTIME": sqlite_rt,
                       "GOVFLOW_LOGIN_LIMIT": 3, "GOVFLOW_LOGIN_ADDRESS_LIMIT": 5, "GOVFLOW_TOKEN_CREATE_LIMIT": 2})


def _login_from(client, address: str, username: str, password: str = "Demo@2026"):
    """One login attempt from a given client address (its own page load for the CSRF token)."""
    environ = {"REMOTE_ADDR": address}
    page = _html(client.get("/login", environ_base=environ))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf},
                       environ_base=environ)


# --- the page ---------------------------------------------------------------------------------

def test_the_user_menu_links_to_the_token_page_which_offers_only_the_roles_held(client, auth):
    auth.login("lisi")
    inbox = _html(client.get("/inbox/"))
    assert 'data-testid="nav-api-tokens"' in inbox and "API 令牌" in inbox
    page = _html(client.get("/account/tokens/"))
    assert 'value="reviewer" checked' in page and 'value="signer" checked' in page
    assert "内容审核" in page and "栏目责任人/签发" in page and 'value="editor"' not in page
    assert 'name="days" value="90"' in page and 'max="366"' in page
    assert "暂无事项" in page


def test_the_page_speaks_english_too(client, auth):
    auth.login("lisi")
    _create(auth)
    page = _html(client.get("/account/tokens/?lang=en"))
    assert "API tokens" in page and "Active" in page and "Valid for (days)" in page and "Never" in page


def test_a_created_token_is_shown_once_then_listed_by_its_prefix_only(client, auth, sqlite_rt, sqlite_users):
    auth.login("lisi")
    created = _create(auth)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    page = _html(created)
    token = _token_in(page)
    assert "它只显示这一次" in page and "内容审核" in page
    acts = _acts_as(sqlite_rt, token)
    assert acts.user_id == sqlite_users["lisi"].user_id and acts.roles == {"reviewer"}
    listing = _html(client.get("/account/tokens/"))
    assert token not in listing and f"{token[:10]}…" in listing
    assert "信息报送接口" in listing and "<strong>有效</strong>" in listing
    assert "2026-04-01 09:00" in listing  # expires 30 days on, Beijing time
    assert "从未使用" not in listing and listing.count("2026-03-02 09:00") == 2  # created, and used just now
    with reading(sqlite_rt.session_factory) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "api_token_created"))
    assert event.actor_id == sqlite_users["lisi"].user_id and token not in str(event.data)


@pytest.mark.parametrize(("form", "message"), [
    ({"name": "  "}, "请填写令牌名称"),
    ({"days": "abc"}, "有效期须为 1 至 366 之间的整数天数"),
    ({"days": ""}, "有效期须为 1 至 366 之间的整数天数"),
    ({"days": "-5"}, "有效期须为 1 至 366 之间的整数天数"),
    ({"days": "400"}, "有效期须在 1 至 366 天之间"),
    ({"roles": ()}, "请至少选择一个角色"),
    ({"roles": ("reviewer", "admin")}, "您不具有角色 系统管理员"),
])
def test_bad_input_is_refused_with_a_sentence_and_nothing_is_written(client, auth, sqlite_rt, form, message):
    auth.login("lisi")
    refused = _create(auth, **form)
    assert refused.status_code == 400
    assert message in re.search(r'data-testid="token-error">([^<]+)<', _html(refused)).group(1)
    assert "gf_" not in _html(refused)
    assert _written(sqlite_rt) == (0, 0)


def test_an_expired_token_is_listed_as_expired(client, auth, clock):
    auth.login("lisi")
    _create(auth, days="1")
    clock.advance(days=1, minutes=1)
    auth.login("lisi")  # the idle session ended meanwhile
    assert "已过期" in _html(client.get("/account/tokens/"))


# --- revoking ---------------------------------------------------------------------------------

def test_revoking_asks_first_then_the_token_opens_nothing(client, auth, sqlite_rt):
    auth.login("lisi")
    token = _token_in(_html(_create(auth)))
    with reading(sqlite_rt.session_factory) as session:
        token_id = session.scalar(select(ApiToken.id))
    listing = _html(client.get("/account/tokens/"))
    assert f"/account/tokens/{token_id}/revoke" in listing
    question = _html(client.get(f"/account/tokens/{token_id}/revoke"))
    assert "确定吊销令牌「信息报送接口」" in question and f"{token[:10]}…" in question and token not in question
    assert _acts_as(sqlite_rt, token) is not None  # asking changed nothing
    done = auth.post(f"/account/tokens/{token_id}/revoke")
    assert done.status_code == 303 and done.headers["Location"].endswith("/account/tokens/")
    listing = _html(client.get("/account/tokens/"))
    assert "令牌已吊销" in listing and "已吊销" in listing and f"/account/tokens/{token_id}/revoke" not in listing
    assert _acts_as(sqlite_rt, token) is None
    assert _written(sqlite_rt) == (1, 2)
    again = client.get(f"/account/tokens/{token_id}/revoke")
    assert again.status_code == 303 and "该令牌已经吊销" in _html(client.get("/account/tokens/"))


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(client, auth, sqlite_rt):
    auth.login("lisi")
    no_token = client.post("/account/tokens/", data={"name": "x", "roles": ["reviewer"], "days": "30"})
    assert no_token.status_code == 400 and "页面已过期" in _html(no_token)
    assert _written(sqlite_rt) == (0, 0)
    token = _token_in(_html(_create(auth)))
    with reading(sqlite_rt.session_factory) as session:
        token_id = session.scalar(select(ApiToken.id))
    no_token = client.post(f"/account/tokens/{token_id}/revoke")
    assert no_token.status_code == 400 and "页面已过期" in _html(no_token)
    assert _acts_as(sqlite_rt, token) is not None


def test_another_persons_token_is_not_found(client, auth, sqlite_rt):
    auth.login("lisi")
    token = _token_in(_html(_create(auth)))
    with reading(sqlite_rt.session_factory) as session:
        token_id = session.scalar(select(ApiToken.id))
    auth.logout()
    auth.login("zhangsan")
    assert "信息报送接口" not in _html(client.get("/account/tokens/"))
    for response in (client.get(f"/account/tokens/{token_id}/revoke"), auth.post(f"/account/tokens/{token_id}/revoke"),
                     client.get(f"/account/tokens/{token_id + 99}/revoke")):
        assert response.status_code == 404 and "不存在" in _html(response)
    assert _acts_as(sqlite_rt, token) is not None and _written(sqlite_rt) == (1, 1)


def test_the_token_page_needs_a_login(client):
    assert client.get("/account/tokens/").status_code == 302


def test_an_auditor_creates_and_revokes_an_auditor_token_though_read_only_elsewhere(client, auth, sqlite_rt):
    auth.login("chenjing")
    token = _token_in(_html(_create(auth, roles=("auditor",))))
    assert _acts_as(sqlite_rt, token).roles == {"auditor"}
    with reading(sqlite_rt.session_factory) as session:
        token_id = session.scalar(select(ApiToken.id))
    assert auth.post(f"/account/tokens/{token_id}/revoke").status_code == 303
    assert _acts_as(sqlite_rt, token) is None
    assert auth.post("/notifications/read").status_code == 403  # still read-only everywhere else


# --- rate limits ------------------------------------------------------------------------------

def test_token_creation_is_limited_per_person_and_hour(limited_app, sqlite_rt, clock):
    from tests.conftest import AuthActions

    client = limited_app.test_client()
    auth = AuthActions(client)
    auth.login("lisi")
    assert _create(auth, name="一").status_code == 200
    assert _create(auth, name="二").status_code == 200
    refused = _create(auth, name="三")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert "尝试次数过多，请 3600 秒后再试（约 60 分钟）" in _html(refused) and "gf_" not in _html(refused).split("my-tokens")[0]
    assert _written(sqlite_rt) == (2, 2)
    other = AuthActions(limited_app.test_client())
    other.login("zhangsan")  # another person's count is their own
    assert _create(other, roles=("editor",)).status_code == 200
    clock.advance(hours=1)
    auth.login("lisi")
    assert _create(auth, name="下一小时").status_code == 200


def test_the_login_limit_answers_429_without_checking_the_password_then_the_next_window_allows(
        limited_app, clock):
    client = limited_app.test_client()
    for _ in range(3):
        assert _login_from(client, "10.0.0.1", "zhangsan", "wrong").status_code == 401
    refused = _login_from(client, "10.0.0.1", "zhangsan")  # the right password, too late
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "300"
    assert "尝试次数过多，请 300 秒后再试（约 5 分钟）" in _html(refused)
    assert client.get("/inbox/").status_code == 302  # not logged in
    clock.advance(minutes=4)
    assert _login_from(client, "10.0.0.1", "zhangsan").headers["Retry-After"] == "60"
    clock.advance(minutes=1)
    allowed = _login_from(client, "10.0.0.1", "zhangsan")
    assert allowed.status_code == 302 and client.get("/inbox/").status_code == 200


def test_the_login_limit_counts_per_username_across_addresses(limited_app):
    client = limited_app.test_client()
    for i, name in enumerate(("zhangsan", " ZhangSan", "ZHANGSAN ")):
        assert _login_from(client, f"10.0.0.{i + 1}", name, "wrong").status_code == 401
    assert _login_from(client, "10.0.0.9", "zhangsan").status_code == 429
    assert _login_from(client, "10.0.0.9", "lisi").status_code == 302  # another name from that address


def test_the_login_limit_counts_per_address_across_usernames(limited_app):
    client = limited_app.test_client()
    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert _login_from(client, "198.51.100.7", name, "wrong").status_code == 401
    assert _login_from(client, "198.51.100.7", "lisi").status_code == 429
    assert _login_from(client, "198.51.100.8", "lisi").status_code == 302


def test_the_limits_are_read_from_the_environment_with_defaults(monkeypatch, app):
    from webui.config import rate_limit_defaults

    assert (app.config["GOVFLOW_LOGIN_LIMIT"], app.config["GOVFLOW_LOGIN_ADDRESS_LIMIT"],
            app.config["GOVFLOW_LOGIN_WINDOW_SECONDS"], app.config["GOVFLOW_TOKEN_CREATE_LIMIT"]) == (10, 50, 300, 10)
    monkeypatch.setenv("GOVFLOW_LOGIN_LIMIT", "4")
    monkeypatch.setenv("GOVFLOW_TOKEN_CREATE_LIMIT", "3")
    assert rate_limit_defaults() == {"GOVFLOW_LOGIN_LIMIT": 4, "GOVFLOW_LOGIN_ADDRESS_LIMIT": 20,
                                     "GOVFLOW_LOGIN_WINDOW_SECONDS": 300, "GOVFLOW_TOKEN_CREATE_LIMIT": 3}
    monkeypatch.setenv("GOVFLOW_LOGIN_LIMIT", "0")
    with pytest.raises(ValueError, match="GOVFLOW_LOGIN_LIMIT must be at least 1"):
        rate_limit_defaults()


# --- behind a reverse proxy --------------------------------------------------------------------

def _login_via_proxy(client, forwarded_for: str, username: str, password: str = "wrong"):
    """A login attempt arriving from the proxy at 10.0.0.2, naming the client in X-Forwarded-For."""
    environ = {"REMOTE_ADDR": "10.0.0.2"}
    headers = {"X-Forwarded-For": forwarded_for}
    page = _html(client.get("/login", environ_base=environ, headers=headers))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf},
                       environ_base=environ, headers=headers)


def test_behind_a_trusted_proxy_each_client_address_has_its_own_login_limit(sqlite_rt):
    from webui import create_app

    app = create_app({"SECRET_KEY": "test-secret", "TESTING": True, "GOVFLOW_RUNTIME": sqlite_rt,
                      "GOVFLOW_LOGIN_LIMIT": 3, "GOVFLOW_LOGIN_ADDRESS_LIMIT": 5, "GOVFLOW_TRUSTED_PROXIES": 1})
    client = app.test_client()
    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert _login_via_proxy(client, "198.51.100.7", name).status_code == 401
    assert _login_via_proxy(client, "198.51.100.7", "lisi", "Demo@2026").status_code == 429
    # Another citizen behind the same proxy is not locked out by the first one's failures.
    assert _login_via_proxy(client, "198.51.100.8", "lisi", "Demo@2026").status_code == 302


def test_without_a_trusted_proxy_a_forged_forwarded_for_header_is_ignored(limited_app):
    client = limited_app.test_client()
    for number, name in enumerate(("a1", "a2", "a3", "a4", "a5")):
        # A client cannot dodge its address limit by sending a different X-Forwarded-For each time.
        assert _login_via_proxy(client, f"203.0.113.{number}", name).status_code == 401
    assert _login_via_proxy(client, "203.0.113.99", "lisi", "Demo@2026").status_code == 429


def test_the_trusted_proxy_count_is_read_from_the_environment(monkeypatch):
    from webui.config import trusted_proxies

    assert trusted_proxies() == 0
    monkeypatch.setenv("GOVFLOW_TRUSTED_PROXIES", "2")
    assert trusted_proxies() == 2
    monkeypatch.setenv("GOVFLOW_TRUSTED_PROXIES", "-1")
    with pytest.raises(ValueError, match="GOVFLOW_TRUSTED_PROXIES must be 0 or more"):
        trusted_proxies()
