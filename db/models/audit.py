"""The audit trail: append-only, each event chained to the one before it by a hash.

No code path updates or deletes a row, and the database refuses to (triggers on UPDATE and
DELETE, and on PostgreSQL TRUNCATE; see migration 0010). `hash` covers every other column and
`prev_hash` (db/audit_hash.py), so an edited, removed or inserted row is found by
`govflow audit verify`.
"""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_event"
    # The auditor's searches: a person, a unit or an action within a date range, newest first.
    __table_args__ = (
        Index("ix_audit_event_actor_time", "actor_id", "occurred_at", "id"),
        Index("ix_audit_event_unit_time", "org_unit_id", "occurred_at", "id"),
        Index("ix_audit_event_action_time", "action", "occurred_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str | None] = mapped_column(String(40))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    action: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    task_name: Mapped[str | None] = mapped_column(String(200))
    opinion: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)
    client_addr: Mapped[str | None] = mapped_column(String(64))
    # Chain: the previous event's hash (64 zeros for the first) and this event's own.
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # 委托: the actor acted as the stand-in of this person ("赵六 代 王五"); REV-3 counts both.
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
