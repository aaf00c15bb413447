"""The Webhook page of the administrators' console: top administrators add a webhook (the secret is
shown once), deactivate it and send a failed delivery again; other administrators only look;
everyone else gets 403. Every form carries the CSRF token; every write is audited."""

import re

import pytest
from sqlalchemy import func, select

from db.models import AuditEvent, Webhook, WebhookDelivery
from db.session import reading
from engine import webhooks
from engine.webhook_admin import create_webhook
from tests.test_webhooks import CONTENT, Receiver, deliveries, publish_wechat_item, verify

PAGE = "/admin/webhooks/"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _webhooks(rt) -> list[Webhook]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def _add(auth, url: str, key: str = CONTENT):
    return auth.post(PAGE, {"process_key": key, "url": url})


def test_a_top_administrator_adds_a_webhook_and_sees_its_secret_once(client, auth, sqlite_rt):
    auth.login("gaoyuan")
    page = client.get(PAGE).get_data(as_text=True)
    assert 'data-testid="webhook-add"' in page and f'value="{CONTENT}"' in page and 'name="csrf_token"' in page

    response = _add(auth, "https://cms.example.gov.cn/govflow/webhook")
    shown = re.search(r'data-testid="webhook-secret">([0-9a-f]+)<', response.get_data(as_text=True)).group(1)
    [webhook] = _webhooks(sqlite_rt)
    assert response.status_code == 200 and webhook.secret == shown and len(shown) == 64
    assert (webhook.process_key, webhook.url, webhook.active) == (CONTENT, "https://cms.example.gov.cn/govflow/webhook",
                                                                  True)
    listing = client.get(PAGE).get_data(as_text=True)
    assert "https://cms.example.gov.cn/govflow/webhook" in listing and shown not in listing
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "webhook_created")) == 1


@pytest.mark.parametrize("url", ["ftp://cms.example.gov.cn/hook", "javascript:alert(1)", "cms.example.gov.cn"])
def test_a_url_that_is_not_http_or_https_is_refused_with_a_sentence(client, auth, sqlite_rt, url):
    auth.login("gaoyuan")
    response = _add(auth, url)
    assert response.status_code == 303
    assert "须是以 http:// 或 https:// 开头的完整网址" in client.get(PAGE).get_data(as_text=True)
    assert _webhooks(sqlite_rt) == []


def test_a_form_without_the_csrf_token_is_refused(client, auth, sqlite_rt):
    auth.login("gaoyuan")
    response = client.post(PAGE, data={"process_key": CONTENT, "url": "https://cms.example.gov.cn/hook"})
    assert response.status_code == 400 and _webhooks(sqlite_rt) == []


def test_another_administrator_may_look_but_not_change(client, auth, sqlite_rt, sqlite_users):
    webhook_id, _ = create_webhook(sqlite_rt, sqlite_users["gaoyuan"].user_id, process_key=CONTENT,
                                   url="https://cms.example.gov.cn/hook")
    auth.login("liuyang")  # the district's administrator
    page = client.get(PAGE).get_data(as_text=True)
    assert 'data-testid="webhook-top-only"' in page and 'data-testid="webhook-add"' not in page
    assert f'data-testid="deactivate-{webhook_id}"' not in page
    _add(auth, "https://cms.example.gov.cn/other")
    auth.post(f"{PAGE}{webhook_id}/deactivate")
    assert "只有最上级单位的系统管理员可以配置" in client.get(PAGE).get_data(as_text=True)
    assert [(w.url, w.active) for w in _webhooks(sqlite_rt)] == [("https://cms.example.gov.cn/hook", True)]


@pytest.mark.parametrize("username", ["zhangsan", "chenjing"])
def test_someone_who_is_not_an_administrator_gets_403(client, auth, sqlite_rt, sqlite_users, username):
    webhook_id, _ = create_webhook(sqlite_rt, sqlite_users["gaoyuan"].user_id, process_key=CONTENT,
                                   url="https://cms.example.gov.cn/hook")
    auth.login(username)
    assert client.get(PAGE).status_code == 403
    assert _add(auth, "https://cms.example.gov.cn/other").status_code == 403
    assert auth.post(f"{PAGE}{webhook_id}/deactivate").status_code == 403
    assert auth.post(f"{PAGE}deliveries/1/resend").status_code == 403
    assert [w.active for w in _webhooks(sqlite_rt)] == [True]


def test_a_failed_delivery_is_shown_and_sent_again_from_the_console(client, auth, sqlite_rt, sqlite_users, receiver,
                                                                     monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 2)
    _, secret = create_webhook(sqlite_rt, sqlite_users["gaoyuan"].user_id, process_key=CONTENT,
                               url=receiver.url)
    receiver.statuses = [500, 500]
    publish_wechat_item(sqlite_rt, sqlite_users)
    [row] = deliveries(sqlite_rt)
    sqlite_rt.clock.advance(minutes=1)
    webhooks.dispatch_due_deliveries(sqlite_rt)  # the second attempt, in-process: failed for good
    [row] = deliveries(sqlite_rt)
    assert (row.state, row.attempts) == ("failed", 2)

    auth.login("gaoyuan")
    page = client.get(PAGE + "?state=failed").get_data(as_text=True)
    assert f'data-delivery="{row.id}" data-state="failed"' in page and "接收方返回 HTTP 500" in page
    assert f'data-testid="resend-{row.id}"' in page and "发送失败（1）" in page

    response = auth.post(f"{PAGE}deliveries/{row.id}/resend")
    assert response.status_code == 303
    [row] = deliveries(sqlite_rt)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 1, 200)
    assert len(receiver.requests) == 3 and verify(secret, receiver.requests[-1])["delivery_id"] == row.id
    page = client.get(PAGE).get_data(as_text=True)
    assert "已重新排队发送" in page and f'data-testid="resend-{row.id}"' not in page
    with reading(sqlite_rt.session_factory) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "webhook_resent"))
    assert event.actor_name == "高远" and event.data["delivery_id"] == row.id


def test_deactivating_from_the_console_gives_up_pending_deliveries(client, auth, sqlite_rt, sqlite_users):
    webhook_id, _ = create_webhook(sqlite_rt, sqlite_users["gaoyuan"].user_id, process_key=CONTENT,
                                   url="http://127.0.0.1:9/hook")
    sqlite_rt.webhook_sender = lambda *_: None  # the broker holds it
    publish_wechat_item(sqlite_rt, sqlite_users)
    auth.login("gaoyuan")
    response = auth.post(f"{PAGE}{webhook_id}/deactivate")
    assert response.status_code == 303
    page = client.get(PAGE).get_data(as_text=True)
    assert "Webhook 已停用，尚未发送的通知不再发送" in page and "已停用" in page
    [webhook] = _webhooks(sqlite_rt)
    with reading(sqlite_rt.session_factory) as session:
        states = list(session.scalars(select(WebhookDelivery.state)))
    assert webhook.active is False and states == ["failed"]


def test_the_page_speaks_english_too(client, auth):
    auth.login("gaoyuan")
    page = client.get(PAGE + "?lang=en").get_data(as_text=True)
    assert "Recent deliveries" in page and "Add a webhook" in page and "最近的通知" not in page
