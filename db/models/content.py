"""A content item under three-level review (三审三校) and where it is to be published."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime

TARGET_KINDS = {"portal_column": "门户网站栏目", "wechat": "本单位微信公众号"}
CONTENT_STATUSES = {"in_review": "审核中", "published": "已发布", "cancelled": "已撤销"}


class ContentItem(Base):
    __tablename__ = "content_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    target_kind: Mapped[str] = mapped_column(String(40))
    target_name: Mapped[str] = mapped_column(String(200))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="in_review")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
