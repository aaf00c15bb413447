"""Background work: service-task jobs, incidents, and in-app notifications (站内消息)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class ServiceJob(Base):
    """One READY service task to run in the background. The table, not the broker, is the truth:
    a lost message is sent again once `next_attempt_at` passes; a duplicate finds the job done."""

    __tablename__ = "service_job"
    __table_args__ = (UniqueConstraint("instance_id", "spiff_task_id", name="uq_service_job_task"),
                      Index("ix_service_job_due", "state", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(120))
    handler: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(10))  # queued, done, failed (an incident is open)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Incident(Base):
    """Something the engine could not do on its own; an administrator retries it."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # service_task, timer
    job_id: Mapped[int | None] = mapped_column(ForeignKey("service_job.id"))
    bpmn_id: Mapped[str | None] = mapped_column(String(120))
    error: Mapped[str] = mapped_column(Text)  # plain words, shown to administrators
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolution: Mapped[str | None] = mapped_column(Text)


NOTIFICATION_KINDS = {"due_soon": "即将到期", "overdue": "已超期", "incident": "流程故障", "unheld": "无人可办",
                      # the inbox's OA actions (issue 8)
                      "urge": "催办", "cc": "抄送", "transfer": "转办", "delegate": "委派/加签",
                      "stand_in": "委托代理", "voided": "意见作废"}


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_inbox", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
