"""Daily operations: approval forms (REV-14), citizen messages (MSG), duty rosters and duty reading (REV-16, MSG-3)."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class ApprovalForm(Base):
    """REV-14: a content item's 信息发布审批单, registered and archived with the office before publication."""

    __tablename__ = "approval_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_item_id: Mapped[int] = mapped_column(ForeignKey("content_item.id"), unique=True)
    number: Mapped[str] = mapped_column(String(40))
    office_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    # The three reviews as the trail recorded them: [{"step", "role", "name", "at", "opinion"}]
    record: Mapped[list] = mapped_column(JSON)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)


# MSG-1: message types; the working days of each come from the policy profile.
MESSAGE_TYPES = {"consultation": "咨询", "suggestion": "建议", "complaint": "投诉", "other": "其他",
                 "simple": "简单常见问题", "error_report": "我为政府网站找错"}
MESSAGE_STATUSES = {"handling": "办理中", "replied": "已答复待初审", "reported": "已上报办结", "cancelled": "已撤销"}


class CitizenMessage(Base):
    """A citizen's message (网民留言), accepted by the operator and forwarded to the responsible unit."""

    __tablename__ = "citizen_message"
    __table_args__ = (Index("ix_citizen_message_unit_status", "org_unit_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_type: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    citizen_name: Mapped[str] = mapped_column(String(50))
    citizen_contact: Mapped[str] = mapped_column(String(100))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id"), index=True)  # where it was left
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))  # the responsible unit
    accepted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the type's reply deadline (MSG-1)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # MSG-3: the named person
    status: Mapped[str] = mapped_column(String(20), default="handling")
    reply: Mapped[str | None] = mapped_column(Text)
    reply_public: Mapped[str | None] = mapped_column(String(200))  # 公开意见
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DutyRoster(Base):
    """Who is on duty for a unit on a day: reads its sites (REV-16) and handles error reports (MSG-3)."""

    __tablename__ = "duty_roster"
    __table_args__ = (UniqueConstraint("org_unit_id", "day", name="uq_duty_roster_unit_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    day: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    set_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DutyReading(Base):
    """REV-16: one day's duty reading (值班读网) of a site or account: what was read and what was found."""

    __tablename__ = "duty_reading"
    __table_args__ = (UniqueConstraint("asset_id", "day", name="uq_duty_reading_asset_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id"))
    day: Mapped[date] = mapped_column(Date)
    reader_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    items_read: Mapped[list] = mapped_column(JSON)  # content item ids
    # [{"finding", "urgency", "instance_id"} dispatched to REV-11, or {"finding", "correction"} fixed at once]
    findings: Mapped[list] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
