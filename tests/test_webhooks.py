"""Webhooks: one signed delivery per active webhook when an instance ends, written in the ending
command's transaction; retried with backoff until a 2xx, given up after GOVFLOW_WEBHOOK_ATTEMPTS."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from db.models import AuditEvent, ProcessInstance, Webhook, WebhookDelivery
from db.session import reading
from engine import Forbidden, InvalidInput, cancel_instance, complete_task, webhooks
from engine.exceptions import ConflictError
from engine.sweep import sweep
from engine.webhook_admin import create_webhook, deactivate_webhook, resend_delivery
from engine.webhooks import deliver, dispatch_due_deliveries
from tests.helpers import submit, task_id

CONTENT = "content_review"


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records every request and answers with the next status."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # answered in order; 200 once they run out
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": self.headers, "body": body})  # case-insensitive
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/govflow/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def verify(secret: str, request: dict) -> dict:
    """What a receiver does: check the signature over "{timestamp}.{body}", then read the body."""
    headers = request["headers"]
    expected = "sha256=" + hmac.new(secret.encode(), headers["X-GovFlow-Timestamp"].encode() + b"." + request["body"],
                                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, headers["X-GovFlow-Signature"])
    return json.loads(request["body"])


def hook(rt, users, url: str, key: str = CONTENT) -> tuple[int, str]:
    return create_webhook(rt, users["gaoyuan"].user_id, process_key=key, url=url, client_addr="127.0.0.1")


def publish_wechat_item(rt, users) -> int:
    """A WeChat item reviewed and signed: the publishing job runs and the instance completes."""
    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    return iid


def deliveries(rt) -> list[WebhookDelivery]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def captured(rt) -> list[tuple[int, int]]:
    """Deliveries are handed over instead of sent, so a test sends them itself (deliver)."""
    sent: list[tuple[int, int]] = []
    rt.webhook_sender = lambda delivery_id, attempt: sent.append((delivery_id, attempt))
    return sent


def test_an_ended_instance_sends_one_delivery_whose_signature_the_receiver_verifies(rt, users, receiver, clock):
    _, secret = hook(rt, users, receiver.url)
    iid = publish_wechat_item(rt, users)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    body = verify(secret, request)
    [row] = deliveries(rt)
    assert request["path"] == "/govflow/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-GovFlow-Event"] == "instance.completed"
    assert request["headers"]["X-GovFlow-Delivery"] == str(row.id)
    assert request["headers"]["X-GovFlow-Timestamp"] == str(int(clock.now().timestamp()))
    assert request["body"].decode() == row.payload  # the stored body is exactly what was signed and sent
    with reading(rt.session_factory) as session:
        instance = session.get(ProcessInstance, iid)
        version = instance.definition.version
    assert body == {"event": "instance.completed", "delivery_id": row.id, "instance_id": iid,
                    "process_key": CONTENT, "process_version": version, "engine_key": instance.business_key,
                    "status": "completed", "end_reason": None, "end_event": body["end_event"],
                    "ended_at": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "content": {"id": int(instance.business_key.partition(":")[2]), "status": "published",
                                "published_at": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")}}
    assert body["end_event"]
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("delivered", 1, 200, None)
    assert row.delivered_at == clock.now() and row.next_attempt_at is None


def test_a_cancelled_item_tells_the_reason_and_the_cancelled_content_status(rt, users, receiver):
    _, secret = hook(rt, users, receiver.url)
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="return", opinion="请补充检查范围")
    cancel_instance(rt, iid, users["zhangsan"], reason="稿件作废，不再发布")

    body = verify(secret, receiver.requests[0])
    assert len(receiver.requests) == 1
    assert receiver.requests[0]["headers"]["X-GovFlow-Event"] == "instance.cancelled"
    assert (body["event"], body["status"], body["end_reason"]) == ("instance.cancelled", "cancelled", "稿件作废，不再发布")
    assert body["content"]["status"] == "cancelled" and "end_event" not in body


def test_the_callers_own_business_key_comes_back_in_the_body(rt, users, receiver):
    from engine.commands import external_key

    _, secret = hook(rt, users, receiver.url)
    with external_key("CMS-2026-0042"):  # what the JSON API records as the caller's business_key
        iid = submit(rt, users["zhangsan"])
    cancel_instance(rt, iid, users["zhangsan"], reason="撤稿")
    body = verify(secret, receiver.requests[0])
    assert (body["business_key"], body["engine_key"], body["instance_id"]) == ("CMS-2026-0042", f"content:{body['content']['id']}", iid)


def test_every_active_webhook_of_the_process_gets_its_own_delivery_and_others_get_none(rt, users, receiver):
    first, secret_one = hook(rt, users, receiver.url)
    _, secret_two = hook(rt, users, receiver.url + "?second=1")
    hook(rt, users, receiver.url + "?other=1", key="open_website")
    gone, _ = hook(rt, users, receiver.url + "?gone=1")
    deactivate_webhook(rt, users["gaoyuan"].user_id, gone)
    publish_wechat_item(rt, users)

    assert sorted(r["path"] for r in receiver.requests) == ["/govflow/hook", "/govflow/hook?second=1"]
    bodies = {r["path"]: r for r in receiver.requests}
    verify(secret_one, bodies["/govflow/hook"])
    verify(secret_two, bodies["/govflow/hook?second=1"])
    assert [d.webhook_id for d in deliveries(rt)][0] == first and len(deliveries(rt)) == 2


def test_without_a_webhook_an_ended_instance_leaves_no_delivery_row(rt, users, receiver):
    publish_wechat_item(rt, users)
    iid = submit(rt, users["zhangsan"])
    cancel_instance(rt, iid, users["zhangsan"], reason="重复提交")
    assert deliveries(rt) == [] and receiver.requests == []


def test_a_rolled_back_ending_leaves_no_delivery(rt, users, receiver, monkeypatch):
    hook(rt, users, receiver.url)
    iid = submit(rt, users["zhangsan"])

    def broken(_session, _row):
        raise RuntimeError("内容系统不可用")

    monkeypatch.setitem(rt.on_cancel, "content", broken)  # runs after save, in the same transaction
    with pytest.raises(RuntimeError):
        cancel_instance(rt, iid, users["zhangsan"], reason="作废")
    with reading(rt.session_factory) as session:
        assert session.get(ProcessInstance, iid).status == "running"
    assert deliveries(rt) == [] and receiver.requests == []


def test_a_500_is_retried_with_exponential_backoff_until_delivered(rt, users, receiver, clock):
    _, secret = hook(rt, users, receiver.url)
    sent = captured(rt)
    receiver.statuses = [500, 503]
    publish_wechat_item(rt, users)
    [row] = deliveries(rt)
    assert sent == [(row.id, 0)] and receiver.requests == []  # handed over after commit, not yet sent

    assert deliver(rt, row.id, 0) == "retry"
    [row] = deliveries(rt)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, 500)
    assert "HTTP 500" in row.last_error and row.next_attempt_at == clock.now() + webhooks.backoff(1)
    assert deliver(rt, row.id, 0) == "skipped"  # a duplicate message of the same attempt sends nothing
    assert dispatch_due_deliveries(rt) == 0  # not due before the backoff passes

    clock.advance(minutes=1)
    assert dispatch_due_deliveries(rt) == 1 and sent[-1] == (row.id, 1)
    assert deliver(rt, row.id, 1) == "retry"
    [row] = deliveries(rt)
    assert (row.attempts, row.last_status) == (2, 503)
    assert row.next_attempt_at == clock.now() + webhooks.backoff(2) == clock.now() + webhooks.FIRST_BACKOFF * 2

    clock.advance(minutes=2)
    assert dispatch_due_deliveries(rt) == 1
    assert deliver(rt, row.id, 2) == "delivered"
    [row] = deliveries(rt)
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("delivered", 3, 200, None)
    assert len(receiver.requests) == 3
    assert {r["headers"]["X-GovFlow-Delivery"] for r in receiver.requests} == {str(row.id)}
    assert {r["body"] for r in receiver.requests} == {row.payload.encode()}
    for request in receiver.requests:
        verify(secret, request)


def test_exhausting_the_attempts_marks_the_delivery_failed(rt, users, receiver, clock, monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 3)
    hook(rt, users, receiver.url)
    captured(rt)
    receiver.statuses = [500] * 10
    publish_wechat_item(rt, users)
    [row] = deliveries(rt)
    results = []
    for attempt in range(3):
        results.append(deliver(rt, row.id, attempt))
        clock.advance(hours=3)
        dispatch_due_deliveries(rt)
    assert results == ["retry", "retry", "failed"]
    [row] = deliveries(rt)
    assert (row.state, row.attempts, row.last_status, row.next_attempt_at) == ("failed", 3, 500, None)
    assert sweep(rt).webhooks == 0 and len(receiver.requests) == 3


def test_the_backoff_doubles_up_to_its_ceiling():
    assert [webhooks.backoff(n).total_seconds() / 60 for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 64, 120, 120]


def test_a_delivered_row_is_not_sent_again_however_often_the_sweep_runs(rt, users, receiver, clock):
    hook(rt, users, receiver.url)
    publish_wechat_item(rt, users)
    [row] = deliveries(rt)
    clock.advance(hours=6)
    assert sweep(rt).webhooks == 0
    assert sweep(rt).webhooks == 0
    assert deliver(rt, row.id, 0) == "skipped"  # a late duplicate of the first message
    assert len(receiver.requests) == 1 and deliveries(rt)[0].state == "delivered"


def test_a_lost_message_is_sent_again_by_the_sweep_once_its_lease_passes(rt, users, receiver, clock):
    hook(rt, users, receiver.url)
    captured(rt)  # the broker loses every message
    publish_wechat_item(rt, users)
    assert sweep(rt).webhooks == 0
    rt.webhook_sender = None  # the broker works again
    clock.advance(minutes=5)
    assert sweep(rt).webhooks == 1
    assert len(receiver.requests) == 1 and deliveries(rt)[0].state == "delivered"


def test_a_redirect_is_not_followed(sqlite_rt, sqlite_users, receiver):
    hook(sqlite_rt, sqlite_users, receiver.url)
    receiver.statuses = [302]
    publish_wechat_item(sqlite_rt, sqlite_users)
    [row] = deliveries(sqlite_rt)
    assert [r["path"] for r in receiver.requests] == ["/govflow/hook"]
    assert (row.state, row.last_status) == ("pending", 302) and "重定向" in row.last_error


def test_a_receiver_that_does_not_answer_is_recorded_and_retried(sqlite_rt, sqlite_users):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook(sqlite_rt, sqlite_users, f"http://127.0.0.1:{port}/hook")
    publish_wechat_item(sqlite_rt, sqlite_users)
    [row] = deliveries(sqlite_rt)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, None)
    assert "无法连接" in row.last_error


@pytest.mark.parametrize("url", ["ftp://cms.example.gov.cn/hook", "javascript:alert(1)", "file:///etc/passwd",
                                 "https://", "cms.example.gov.cn/hook", "http://cms example.gov.cn/", "",
                                 "https://cms.example.gov.cn:port/", "https://x.gov.cn/" + "a" * 500])
def test_a_url_that_is_not_http_or_https_is_refused_and_nothing_is_added(sqlite_rt, sqlite_users, url):
    with pytest.raises(InvalidInput, match=r"http:// 或 https://") as err:
        hook(sqlite_rt, sqlite_users, url)
    assert "http:// or https://" in err.value.message_en
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Webhook)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "webhook_created")) == 0


def test_only_an_administrator_of_the_top_unit_may_configure_webhooks(sqlite_rt, sqlite_users):
    webhook_id, _ = hook(sqlite_rt, sqlite_users, "https://cms.example.gov.cn/hook")
    for who in ("liuyang", "zhangsan"):  # a district administrator, an editor
        actor_id = sqlite_users[who].user_id
        with pytest.raises(Forbidden, match="最上级单位的系统管理员"):
            create_webhook(sqlite_rt, actor_id, process_key=CONTENT, url="https://cms.example.gov.cn/other")
        with pytest.raises(Forbidden):
            deactivate_webhook(sqlite_rt, actor_id, webhook_id)
    with reading(sqlite_rt.session_factory) as session:
        assert [w.active for w in session.scalars(select(Webhook))] == [True]


def test_a_process_that_is_not_deployed_or_a_duplicate_url_is_refused(sqlite_rt, sqlite_users):
    with pytest.raises(InvalidInput, match="尚未部署"):
        hook(sqlite_rt, sqlite_users, "https://cms.example.gov.cn/hook", key="no_such_process")
    hook(sqlite_rt, sqlite_users, "https://cms.example.gov.cn/hook")
    with pytest.raises(InvalidInput, match="已有一个发往该地址"):
        hook(sqlite_rt, sqlite_users, " https://cms.example.gov.cn/hook ")


def test_creating_deactivating_and_resending_are_audited_without_the_secret(rt, users, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 1)
    webhook_id, secret = hook(rt, users, receiver.url)
    receiver.statuses = [500]
    publish_wechat_item(rt, users)
    [row] = deliveries(rt)
    assert row.state == "failed"

    resend_delivery(rt, users["gaoyuan"].user_id, row.id, client_addr="127.0.0.1")
    [row] = deliveries(rt)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 1, 200)
    with pytest.raises(ConflictError, match="只有发送失败的通知"):
        resend_delivery(rt, users["gaoyuan"].user_id, row.id)

    assert deactivate_webhook(rt, users["gaoyuan"].user_id, webhook_id) == 0
    with pytest.raises(ConflictError, match="已经停用"):
        deactivate_webhook(rt, users["gaoyuan"].user_id, webhook_id)
    with reading(rt.session_factory) as session:
        events = {e.action: e for e in session.scalars(select(AuditEvent).where(AuditEvent.action.like("webhook_%")))}
    assert set(events) == {"webhook_created", "webhook_resent", "webhook_deactivated"}
    assert events["webhook_created"].actor_name == "高远" and events["webhook_created"].data["url"] == receiver.url
    assert events["webhook_resent"].instance_id == row.instance_id
    assert all(secret not in json.dumps(e.data) for e in events.values())


def test_deactivating_a_webhook_gives_up_its_unsent_deliveries(rt, users, receiver):
    webhook_id, _ = hook(rt, users, receiver.url)
    captured(rt)
    publish_wechat_item(rt, users)
    [row] = deliveries(rt)
    assert deactivate_webhook(rt, users["gaoyuan"].user_id, webhook_id) == 1
    assert deliver(rt, row.id, 0) == "skipped"
    [row] = deliveries(rt)
    assert row.state == "failed" and "停用" in row.last_error and receiver.requests == []
    with pytest.raises(ConflictError, match="已停用"):
        resend_delivery(rt, users["gaoyuan"].user_id, row.id)


def test_a_worker_that_dies_during_the_last_attempt_leaves_the_delivery_failed(rt, users, receiver, clock,
                                                                                 monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 1)
    hook(rt, users, receiver.url)
    sent = captured(rt)
    publish_wechat_item(rt, users)
    [row] = deliveries(rt)
    assert webhooks._claim(rt, row.id, 0) is not None  # claimed; the worker is killed before it POSTs
    clock.advance(minutes=5)  # the lease passes
    assert dispatch_due_deliveries(rt) == 1 and sent[-1] == (row.id, 1)
    assert deliver(rt, row.id, 1) == "skipped"
    [row] = deliveries(rt)
    assert (row.state, row.attempts, row.next_attempt_at) == ("failed", 1, None) and receiver.requests == []
