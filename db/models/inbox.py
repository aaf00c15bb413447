"""The approvers' inbox beyond the task rows: copies (抄送) and stand-ins while away (委托/代理)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class TaskCopy(Base):
    """抄送: an item copied to a reader, who may then see it (but not act on it)."""

    __tablename__ = "task_copy"
    __table_args__ = (Index("ix_task_copy_inbox", "to_user_id", "id"),
                      Index("ix_task_copy_unread", "to_user_id", "read_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    from_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    to_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StandIn(Base):
    """委托/代理: while `principal` is away, `deputy` works their tasks from `starts_at` to `ends_at`."""

    __tablename__ = "stand_in"
    __table_args__ = (Index("ix_stand_in_deputy", "deputy_id", "ends_at"),
                      Index("ix_stand_in_principal", "principal_id", "ends_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    deputy_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
