"""The organisation tree, people and the roles they hold in a unit."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime

# The roles of ../shared/RULES.md ("Actors (lanes)"); lanes in diagrams must name one of them.
ROLES = {
    "editor": "内容编辑",
    "reviewer": "内容审核",
    "signer": "栏目责任人/签发",
    "unit_head": "单位主要负责人",
    "egov_center": "电子政务管理中心",
    "district_office": "区(县)政府办公室",
    "city_office": "市政府办公室",
    "province_office": "省政府办公厅",
    "state_council": "国务院办公厅",
    "auditor": "审计员",
    "admin": "系统管理员",
}

LEVELS = {"province": "省", "city": "市", "district": "区(县)", "unit": "单位"}


class OrgUnit(Base):
    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    # CHG-2: the registered leader in charge, liaisons and website responsibles (set by a process).
    contacts: Mapped[dict | None] = mapped_column(JSON)

    parent: Mapped["OrgUnit | None"] = relationship(remote_side=[id])


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    real_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    email: Mapped[str | None] = mapped_column(String(200))  # for the e-mail channel, when configured
    # ACC-1: a real person, identified by phone and/or ID number (kept masked plus a digest for uniqueness).
    phone: Mapped[str | None] = mapped_column(String(32))
    id_number_masked: Mapped[str | None] = mapped_column(String(32))
    identity_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    # ACC-2: when the password was last set by its holder (NULL: seeded demo account, no rotation);
    # an initial or reset password must be changed at the next login.
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # ACC-3: departure.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deactivation_reason: Mapped[str | None] = mapped_column(Text)

    org_unit: Mapped[OrgUnit] = relationship()
    grants: Mapped[list["RoleGrant"]] = relationship(back_populates="user", cascade="all, delete-orphan")


class RoleGrant(Base):
    """A user holds `role` in `org_unit` (the scope); a lane's holders are found through these."""

    __tablename__ = "role_grant"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "org_unit_id", name="uq_role_grant_user_role_unit"),
        Index("ix_role_grant_role_unit", "role", "org_unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    role: Mapped[str] = mapped_column(String(40))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))

    user: Mapped[User] = relationship(back_populates="grants")
