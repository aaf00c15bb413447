"""Webhook configuration for the administrators' console: add, deactivate, send again, list.

A webhook sends every unit's results for a process to an outside system, so only an
administrator of the top-level unit (who may also deploy processes) changes them; each change
is one audited transaction. The secret is made here and shown once, to be given to the receiver.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import ProcessDefinition, User, Webhook, WebhookDelivery
from db.session import after_commit, transaction

from . import audit
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound
from .people import load_admin
from .webhooks import LEASE, LOCK_DELIVERY, sender

MAX_URL = 500
MAX_PER_PROCESS = 10


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
        found = session.execute(LOCK_DELIVERY.where(WebhookDelivery.id == delivery_id)).first()
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
        after_commit(session, sender(rt, delivery.id, 0))


# --- what the console lists ----------------------------------------------------------------------

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
