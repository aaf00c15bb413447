"""A content item under three-level review (三审三校) and where it is to be published."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime

TARGET_KINDS = {"portal_column": "门户网站栏目", "wechat": "本单位微信公众号"}
CONTENT_STATUSES = {"in_review": "审核中", "published": "已发布", "cancelled": "已撤销",
                    "rejected": "未获审定", "collecting": "征集中"}
# How an item enters three-level review (三审三校): the plain path, or one of the special paths of REV-6…REV-18.
CONTENT_MODES = {"normal": "常规发布", "policy_document": "重要政策文件（附解读材料）", "emergency": "紧急信息（先发布后补手续）",
                 "repost": "转载", "pushed": "信息化系统推送（已完成三审）", "out_of_scope": "规定范围以外信息",
                 "clarification": "误读误解回应（权威信息）", "consultation": "意见征集结果和反馈"}


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
    # Additive (issue 7): the path it entered by, and what that path recorded (sources, interpretations…).
    mode: Mapped[str] = mapped_column(String(20), default="normal", server_default="normal")
    details: Mapped[dict | None] = mapped_column(JSON)
