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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from db.models import ContentItem, ProcessDefinition, User, Webhook, WebhookDelivery
from db.prepared import Prepared
from db.session import after_commit, before_commit, transaction

from . import audit
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound
from .people import load_admin

log = logging.getLogger(__name__)

MAX_ATTEMPTS = max(1, int(os.environ.get("GOVFLOW_WEBHOOK_ATTEMPTS", "8")))
TIMEOUT = float(os.environ.get("GOVFLOW_WEBHOOK_TIMEOUT", "10"))  # seconds, connect and read
FIRST_BACKOFF = timedelta(minutes=1)  # then 2, 4, 8 … minutes
MAX_BACKOFF = timedelta(hours=2)
LEASE = timedelta(minutes=5)  # a dispatched or claimed delivery not finished by then is sent again
MAX_URL = 500
MAX_PER_PROCESS = 10
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
    business_key: str
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
    staged.append(Ended(row.id, definition.key, definition.version, row.business_key, row.status, row.end_reason,
                        row.ended_at, end_event))


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
            after_commit(session, _sender(rt, delivery.id, 0))
    session.flush()


def _body(session: Session, delivery_id: int, event: str, ended: Ended) -> str:
    body = {"event": event, "delivery_id": delivery_id, "instance_id": ended.instance_id,
            "process_key": ended.process_key, "process_version": ended.process_version,
            "status": ended.status, "end_reason": ended.end_reason, "ended_at": _iso(ended.ended_at)}
    if ended.business_key:
        body["business_key"] = ended.business_key
    if ended.end_event:
        body["end_event"] = ended.end_event
    kind, _, ident = ended.business_key.partition(":")
    if kind == "content" and ident.isdigit():
        item = session.get(ContentItem, int(ident))
        if item is not None:
            body["content"] = {"id": item.id, "status": item.status, "published_at": _iso(item.published_at)}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _sender(rt, delivery_id: int, attempt: int):
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


_LOCK_DELIVERY = (select(WebhookDelivery, Webhook).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
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
        found = session.execute(_LOCK_DELIVERY.where(WebhookDelivery.id == delivery_id)).first()
        if found is None:
            return None
        delivery, webhook = found
        if delivery.state != "pending" or delivery.attempts != attempt:
            return None  # delivered, given up, or this attempt was taken by another message
        if not webhook.active:
            delivery.state, delivery.next_attempt_at = "failed", None
            delivery.last_error = "Webhook 已停用，未发送。"
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
            after_commit(session, _sender(rt, delivery.id, delivery.attempts))
        return len(due)


# --- configuration (administrators' console) --------------------------------------------------------

def check_url(url: str) -> str:
    """The URL, trimmed, if it is an http:// or https:// address with a host; else InvalidInput."""
    url = (url or "").strip()
    parts = urlsplit(url) if len(url) <= MAX_URL and not any(c.isspace() for c in url) else None
    try:
        host = parts.hostname if parts else None
        _ = parts.port if parts else None  # a port that is not a number raises here
    except ValueError:
        host = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(f"Webhook 地址须是以 http:// 或 https:// 开头的完整网址（不超过 {MAX_URL} 个字符），"
                           "例如 https://cms.example.gov.cn/govflow/webhook。",
                           f"A webhook URL must be a full http:// or https:// address (at most {MAX_URL} "
                           "characters), e.g. https://cms.example.gov.cn/govflow/webhook.")
    return url


def _load_top_admin(session: Session, actor_id: int) -> User:
    from .versions import is_top_admin

    admin = load_admin(session, actor_id)
    if not is_top_admin(session, admin):
        raise Forbidden("Webhook 会把全部单位的办理结果发给外部系统，只有最上级单位的系统管理员可以配置。",
                        "A webhook tells an outside system about every unit's items; only an administrator "
                        "of the top-level unit may configure one.")
    return admin


def create_webhook(rt, actor_id: int, *, process_key: str, url: str,
                   client_addr: str | None = None) -> tuple[int, str]:
    """Add a webhook for a deployed process; returns its id and the secret (to give the receiver)."""
    url = check_url(url)
    process_key = (process_key or "").strip()
    with transaction(rt.session_factory) as session:
        admin = _load_top_admin(session, actor_id)
        if session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == process_key).limit(1)) is None:
            raise InvalidInput(f"流程“{process_key}”尚未部署，不能为它配置 Webhook。",
                               f"Process \"{process_key}\" is not deployed; no webhook can be added for it.")
        active = list(session.scalars(select(Webhook.url).where(Webhook.process_key == process_key,
                                                                Webhook.active.is_(True))))
        if url in active:
            raise InvalidInput("此流程已有一个发往该地址的 Webhook。", "This process already has a webhook to that URL.")
        if len(active) >= MAX_PER_PROCESS:
            raise InvalidInput(f"每个流程最多 {MAX_PER_PROCESS} 个启用的 Webhook。",
                               f"At most {MAX_PER_PROCESS} active webhooks per process.")
        secret = secrets.token_hex(32)
        now = rt.clock.now()
        webhook = Webhook(process_key=process_key, url=url, secret=secret, active=True, created_by_id=admin.id,
                          created_at=now)
        session.add(webhook)
        session.flush()
        audit.record(session, now=now, action="webhook_created", actor=admin, role="admin", client_addr=client_addr,
                     data={"webhook_id": webhook.id, "process_key": process_key, "url": url})
        return webhook.id, secret


def deactivate_webhook(rt, actor_id: int, webhook_id: int, *, client_addr: str | None = None) -> int:
    """Stop a webhook; its deliveries not yet sent are given up. Returns how many were."""
    with transaction(rt.session_factory) as session:
        admin = _load_top_admin(session, actor_id)
        webhook = session.scalar(select(Webhook).where(Webhook.id == webhook_id).with_for_update())
        if webhook is None:
            raise NotFound(f"Webhook {webhook_id} 不存在。", f"Webhook {webhook_id} does not exist.")
        if not webhook.active:
            raise ConflictError("此 Webhook 已经停用。", "This webhook is already deactivated.")
        webhook.active = False
        abandoned = session.execute(
            update(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id, WebhookDelivery.state == "pending")
            .values(state="failed", next_attempt_at=None, last_error="Webhook 已停用，未再发送。")
            .execution_options(synchronize_session=False)).rowcount
        audit.record(session, now=rt.clock.now(), action="webhook_deactivated", actor=admin, role="admin",
                     client_addr=client_addr, data={"webhook_id": webhook.id, "process_key": webhook.process_key,
                                                    "url": webhook.url, "abandoned": abandoned})
        return abandoned


def resend_delivery(rt, actor_id: int, delivery_id: int, *, client_addr: str | None = None) -> None:
    """重新发送: a failed delivery becomes pending with a fresh count of attempts and is queued."""
    with transaction(rt.session_factory) as session:
        admin = _load_top_admin(session, actor_id)
        found = session.execute(_LOCK_DELIVERY.where(WebhookDelivery.id == delivery_id)).first()
        if found is None:
            raise NotFound(f"通知 {delivery_id} 不存在。", f"Delivery {delivery_id} does not exist.")
        delivery, webhook = found
        if delivery.state != "failed":
            raise ConflictError("只有发送失败的通知可以重新发送。", "Only a failed delivery can be sent again.")
        if not webhook.active:
            raise ConflictError("此 Webhook 已停用，不能重新发送。", "The webhook is deactivated; nothing can be sent.")
        now = rt.clock.now()
        delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, now + LEASE
        audit.record(session, now=now, action="webhook_resent", actor=admin, role="admin", client_addr=client_addr,
                     instance_id=delivery.instance_id,
                     data={"delivery_id": delivery.id, "webhook_id": webhook.id, "event": delivery.event})
        after_commit(session, _sender(rt, delivery.id, 0))


# --- what the console lists ------------------------------------------------------------------------

@dataclass(frozen=True)
class WebhookRow:
    id: int
    process_key: str
    process_name: str
    url: str
    active: bool
    created_by: str
    created_at: datetime
    failed: int


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    webhook_id: int
    process_key: str
    url: str
    instance_id: int
    event: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def deployed_processes(session: Session) -> list[tuple[str, str]]:
    """(key, name of the newest version) of every deployed process, by key."""
    newest: dict[str, str] = {}
    for key, name in session.execute(select(ProcessDefinition.key, ProcessDefinition.name)
                                     .order_by(ProcessDefinition.key, ProcessDefinition.version)):
        newest[key] = name
    return sorted(newest.items())


def list_webhooks(session: Session) -> list[WebhookRow]:
    """Every webhook by process key, active first, with how many of its deliveries failed."""
    names = dict(deployed_processes(session))
    failed = dict(session.execute(select(WebhookDelivery.webhook_id, func.count()).where(
        WebhookDelivery.state == "failed").group_by(WebhookDelivery.webhook_id)).all())
    rows = session.execute(select(Webhook, User.real_name).join(User, User.id == Webhook.created_by_id)
                           .order_by(Webhook.process_key, Webhook.active.desc(), Webhook.id)).all()
    return [WebhookRow(w.id, w.process_key, names.get(w.process_key, w.process_key), w.url, w.active, who,
                       w.created_at, failed.get(w.id, 0)) for w, who in rows]


def recent_deliveries(session: Session, *, state: str | None = None, limit: int = 50) -> list[DeliveryRow]:
    """The newest deliveries (of one state, if given), newest first."""
    query = (select(WebhookDelivery, Webhook.process_key, Webhook.url)
             .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
             .order_by(WebhookDelivery.id.desc()).limit(limit))
    if state:
        query = query.where(WebhookDelivery.state == state)
    return [DeliveryRow(d.id, d.webhook_id, key, url, d.instance_id, d.event, d.state, d.attempts, d.last_status,
                        d.last_error, d.created_at, d.next_attempt_at, d.delivered_at)
            for d, key, url in session.execute(query).all()]


def deliveries_by_state(session: Session) -> dict[str, int]:
    """How many deliveries are pending, delivered and failed."""
    return dict(session.execute(select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)).all())
