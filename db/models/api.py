"""What the JSON API keeps: personal API tokens, rate-limit counters, webhooks and their deliveries."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class ApiToken(Base):
    """A personal API token. Only its SHA-256 is stored: the token itself is shown once, at creation.

    `roles` is the token's scope, a comma-separated subset of the roles its owner held when it was
    created; a request with the token may act only in those roles (and only while the owner still
    holds them)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # the first characters, so the owner can tell tokens apart
    roles: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateLimitBucket(Base):
    """Attempts counted per key (e.g. "login:ip:127.0.0.1") in a fixed window; in the database so
    every web worker shares the count."""

    __tablename__ = "rate_limit_bucket"
    __table_args__ = (UniqueConstraint("key", "window_start", name="uq_rate_limit_bucket_window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Webhook(Base):
    """An external system told when an instance of a process ends (optional, per process key)."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(120), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))  # the HMAC-SHA256 key; the receiver holds it too
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One notification to send. The table is the truth, as for service jobs: a lost broker message
    is sent again once `next_attempt_at` passes; a delivered row is never sent twice."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("webhook_id", "instance_id", "event", name="uq_webhook_delivery_event"),
                      Index("ix_webhook_delivery_due", "state", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))  # instance.completed, instance.cancelled …
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body that is signed and sent
    state: Mapped[str] = mapped_column(String(10))  # pending, delivered, failed (gave up)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
