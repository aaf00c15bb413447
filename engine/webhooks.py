"""Webhooks: an external system is told, signed with HMAC-SHA256, when an instance of its process ends.

When `instances.save` sees an instance leave `running` it stages the instance here; just before
the command commits, one `webhook_delivery` row per active webhook of the process key is written
with the exact JSON body to send, in the command's transaction (a command that rolls back leaves
no delivery). A transaction in which no instance ends costs nothing; one in which instances end
costs one indexed query per process key. Once the command commits, each delivery is handed to the
runtime's webhook sender (Celery in production, at once in-process by default).

The table is the truth, as for service jobs (engine/jobs.py). A send first claims the delivery in
its own short transaction (attempts + 1, a lease), POSTs outside any transaction (a slow receiver
holds no lock), then records the answer: a 2xx marks it delivered and it is never sent again;
anything else schedules the next attempt with exponential backoff, and after
GOVFLOW_WEBHOOK_ATTEMPTS attempts (8) it is failed and shown to administrators, who may send it
again. A lost broker message is sent again by the sweep once the lease or backoff passes; the
message carries the attempt it is for, so a duplicate finds the attempt taken and does nothing.
Adding, deactivating and sending again are engine/webhook_admin.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPException

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from db.models import ContentItem, Webhook, WebhookDelivery
from db.prepared import Prepared
from db.session import after_commit, before_commit, transaction

log = logging.getLogger(__name__)

MAX_ATTEMPTS = max(1, int(os.environ.get("GOVFLOW_WEBHOOK_ATTEMPTS", "8")))
TIMEOUT = float(os.environ.get("GOVFLOW_WEBHOOK_TIMEOUT", "10"))  # seconds, connect and read
FIRST_BACKOFF = timedelta(minutes=1)  # then 2, 4, 8 … minutes
MAX_BACKOFF = timedelta(hours=2)
LEASE = timedelta(minutes=5)  # a dispatched or claimed delivery not finished by then is sent again
USER_AGENT = "GovFlow-Webhook/1"


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    return min(FIRST_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)


def sign(secret: str, timestamp: str, body: str) -> str:
    """The X-GovFlow-Signature value: "sha256=" + hex HMAC-SHA256(secret, "{timestamp}.{body}")."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _iso(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- at instance end (inside the command's transaction) ------------------------------------------

ENDED = "govflow.webhook_ended"
_ACTIVE_HOOKS = Prepared(select(Webhook.id).where(Webhook.process_key == bindparam("key"),
                                                  Webhook.active.is_(True)).order_by(Webhook.id))


@dataclass(frozen=True)
class Ended:
    """What the body says about an instance that ended in this transaction."""

    instance_id: int
    process_key: str
    process_version: int
    engine_key: str  # process_instance.business_key, e.g. content:12
    business_key: str | None  # the calling system's own key (process_instance.external_key), if it gave one
    status: str
    end_reason: str | None
    ended_at: datetime | None
    end_event: str | None


def instance_ended(rt, session: Session, row, definition, end_event: str | None) -> None:
    """Stage an instance that has just left `running`; its deliveries are written before commit.

    Written just before commit rather than now, so the body says what the transaction leaves
    behind (a cancelled content item is marked cancelled after the instance is saved).
    """
    staged = session.info.get(ENDED)
    if staged is None:
        staged = session.info[ENDED] = []
        before_commit(session, lambda: _write_deliveries(rt, session))
    staged.append(Ended(row.id, definition.key, definition.version, row.business_key, row.external_key, row.status,
                        row.end_reason, row.ended_at, end_event))


def _write_deliveries(rt, session: Session) -> None:
    staged = session.info.pop(ENDED, [])
    hooks_by_key: dict[str, list[int]] = {}
    now = rt.clock.now()
    for ended in staged:
        if ended.process_key not in hooks_by_key:
            hooks_by_key[ended.process_key] = [i for (i,) in _ACTIVE_HOOKS.all(session, {"key": ended.process_key})]
        for webhook_id in hooks_by_key[ended.process_key]:
            event = f"instance.{ended.status}"
            delivery = WebhookDelivery(webhook_id=webhook_id, instance_id=ended.instance_id, event=event, payload="",
                                       state="pending", attempts=0, created_at=now, next_attempt_at=now + LEASE)
            session.add(delivery)
            session.flush()  # the id goes into the body
            delivery.payload = _body(session, delivery.id, event, ended)
            after_commit(session, sender(rt, delivery.id, 0))
    session.flush()


def _body(session: Session, delivery_id: int, event: str, ended: Ended) -> str:
    body = {"event": event, "delivery_id": delivery_id, "instance_id": ended.instance_id,
            "process_key": ended.process_key, "process_version": ended.process_version,
            "engine_key": ended.engine_key, "status": ended.status, "end_reason": ended.end_reason,
            "ended_at": _iso(ended.ended_at)}
    if ended.business_key:  # named as in the JSON API, where the caller gave it at the start
        body["business_key"] = ended.business_key
    if ended.end_event:
        body["end_event"] = ended.end_event
    kind, _, ident = ended.engine_key.partition(":")
    if kind == "content" and ident.isdigit():
        item = session.get(ContentItem, int(ident))
        if item is not None:
            body["content"] = {"id": item.id, "status": item.status, "published_at": _iso(item.published_at)}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sender(rt, delivery_id: int, attempt: int):
    return lambda: rt.send_webhook(delivery_id, attempt)


# --- sending ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    url: str
    secret: str
    event: str
    payload: str
    attempts: int


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new address: urllib then raises HTTPError with the 3xx."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, headers: dict[str, str], body: bytes) -> tuple[int | None, str | None]:
    """POST `body`; (HTTP status or None, None on a 2xx else a sentence for the administrators)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            status = response.status
            response.read(4096)
    except urllib.error.HTTPError as err:
        snippet = err.read(200).decode("utf-8", "replace").strip() if err.fp else ""
        moved = "（重定向不会被跟随）" if 300 <= err.code < 400 else ""
        return err.code, f"接收方返回 HTTP {err.code}{moved}" + (f"：{snippet}" if snippet else "")
    except urllib.error.URLError as err:
        return None, f"无法连接接收方：{err.reason}"
    except TimeoutError:
        return None, f"接收方 {TIMEOUT:g} 秒内没有应答。"
    except (OSError, HTTPException, ValueError) as err:
        return None, f"发送失败：{type(err).__name__} {err}"
    if 200 <= status < 300:
        return status, None
    return status, f"接收方返回 HTTP {status}"


LOCK_DELIVERY = (select(WebhookDelivery, Webhook).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                  .with_for_update(of=WebhookDelivery))


def deliver(rt, delivery_id: int, attempt: int) -> str:
    """Send attempt `attempt` (0-based) of a delivery; returns delivered, retry, failed or skipped."""
    claimed = _claim(rt, delivery_id, attempt)
    if claimed is None:
        return "skipped"
    timestamp = str(int(rt.clock.now().timestamp()))
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-GovFlow-Event": claimed.event, "X-GovFlow-Delivery": str(delivery_id),
               "X-GovFlow-Timestamp": timestamp, "X-GovFlow-Signature": sign(claimed.secret, timestamp, claimed.payload)}
    status, error = post(claimed.url, headers, claimed.payload.encode("utf-8"))
    return _record(rt, delivery_id, claimed.attempts, status, error)


def _claim(rt, delivery_id: int, attempt: int) -> Claimed | None:
    """Take attempt `attempt` of a pending delivery (a short transaction of its own), or None."""
    with transaction(rt.session_factory) as session:
        found = session.execute(LOCK_DELIVERY.where(WebhookDelivery.id == delivery_id)).first()
        if found is None:
            return None
        delivery, webhook = found
        if delivery.state != "pending" or delivery.attempts != attempt:
            return None  # delivered, given up, or this attempt was taken by another message
        if not webhook.active:
            delivery.state, delivery.next_attempt_at = "failed", None
            delivery.last_error = "Webhook 已停用，未发送。"
            return None
        if delivery.attempts >= MAX_ATTEMPTS:  # the last attempt's worker died mid-send: give up now
            delivery.state, delivery.next_attempt_at = "failed", None
            delivery.last_error = delivery.last_error or "最后一次发送没有结果（处理进程中断）。"
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = rt.clock.now() + LEASE  # a worker killed mid-send: the sweep sends again
        return Claimed(webhook.url, webhook.secret, delivery.event, delivery.payload, delivery.attempts)


def _record(rt, delivery_id: int, attempts: int, status: int | None, error: str | None) -> str:
    with transaction(rt.session_factory) as session:
        delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update())
        if delivery is None or delivery.attempts != attempts or delivery.state == "delivered":
            return "skipped"
        now = rt.clock.now()
        delivery.last_status, delivery.last_error = status, error
        if error is None:
            # Delivered even if the webhook was deactivated meanwhile: the receiver has it.
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
            return "delivered"
        if delivery.state != "pending":
            return "skipped"
        log.warning("webhook delivery %s attempt %s failed: %s", delivery_id, attempts, error)
        if attempts >= MAX_ATTEMPTS:
            delivery.state, delivery.next_attempt_at = "failed", None
            return "failed"
        delivery.next_attempt_at = now + backoff(attempts)
        return "retry"


def dispatch_due_deliveries(rt, limit: int = 200) -> int:
    """Send again every pending delivery whose backoff or lease has passed; returns how many."""
    now = rt.clock.now()
    with transaction(rt.session_factory) as session:
        due = list(session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at).limit(limit).with_for_update(skip_locked=True)))
        for delivery in due:
            delivery.next_attempt_at = now + LEASE  # our lease: the next sweep leaves it alone
            after_commit(session, sender(rt, delivery.id, delivery.attempts))
        return len(due)
