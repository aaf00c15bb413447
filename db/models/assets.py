"""The asset registry: websites, columns, new-media accounts and apps, and their lifecycle.

An asset's `state` changes only through a process instance (a handler in the instance's
transaction), and every change leaves an `asset_event` naming the instance that made it.
"""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime

ASSET_KINDS = {"website": "政府网站", "column": "栏目/专题", "sub_homepage": "小首页",
               "new_media": "政务新媒体", "app": "移动客户端"}
PLATFORMS = {"wechat": "微信", "weibo": "微博", "douyin": "抖音", "toutiao": "今日头条", "kuaishou": "快手",
             "bilibili": "哔哩哔哩", "other": "其他平台"}
ASSET_STATES = {"applying": "申请中", "approved": "已批准", "online": "已上线", "offline": "临时下线",
                "closing": "关停中", "closed": "已关停", "exited": "已退出监管", "rejected": "未获批准"}
# States in which an asset counts as the unit's (OPEN-2: one account per platform per unit).
ACTIVE_STATES = ("applying", "approved", "online", "offline", "closing")

# PEN-1 violation types (000 §34).
VIOLATION_TYPES = {
    "1": "（一）擅自开设或关停、下线", "2": "（二）信息发布不及时、不规范", "3": "（三）发布不当信息",
    "4": "（四）泄露秘密", "5": "（五）因失职发生安全事件", "6": "（六）营利或收费", "7": "（七）问题整改不到位",
    "8": "（八）未履行安全责任", "9": "（九）其他",
}


class Asset(Base):
    __tablename__ = "asset"
    __table_args__ = (Index("ix_asset_unit_kind", "org_unit_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str | None] = mapped_column(String(20))  # new_media only
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    state: Mapped[str] = mapped_column(String(20))
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)  # domain, identifier code, URL…
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AssetEvent(Base):
    """One change of an asset's state, by the instance that made it."""

    __tablename__ = "asset_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    # e.g. {"path": "approval" | "force_majeure"} for going offline (OFF-2 counts approvals only)
    data: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Violation(Base):
    """An entry of the violation register (PEN-1), circulated 通报 by the office."""

    __tablename__ = "violation"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    rule: Mapped[str] = mapped_column(String(20))  # the rule broken, e.g. OFF-3
    category: Mapped[str] = mapped_column(String(4))  # VIOLATION_TYPES key
    description: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
