"""What the administrators' console keeps: diagram drafts and the account records of ACC-4…ACC-7."""

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class ProcessDraft(Base):
    """The diagram an administrator is editing (one per process key), not yet deployed."""

    __tablename__ = "process_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    # The deployed version the draft was started from (None: a new process or an upload).
    base_version: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20))  # editor, upload, new
    saved_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PasswordReset(Base):
    """ACC-4: a password reset by the operator on the unit's written request (函), with the letter."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    requesting_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    letter_number: Mapped[str] = mapped_column(String(100))
    document_name: Mapped[str] = mapped_column(String(200))
    document_type: Mapped[str] = mapped_column(String(100))
    document_size: Mapped[int] = mapped_column(Integer)
    document_sha256: Mapped[str] = mapped_column(String(64))  # stored content-addressed, like attachments
    reset_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reset_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccountLeak(Base):
    """ACC-5: a leaked account or password, recorded against the unit; accountability decided apart."""

    __tablename__ = "account_leak"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)  # the unit that bears it
    discovered_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    adverse_effects: Mapped[bool] = mapped_column(Boolean)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decision: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BackgroundCheck(Base):
    """ACC-6 (manual): the declaration that a person passed the security background check."""

    __tablename__ = "background_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    checked_on: Mapped[date] = mapped_column(Date)
    conducted_by: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(200))  # the document or file number
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MediaCustody(Base):
    """ACC-7 (manual): who keeps a new-media account's password, on which dedicated device, VPN or not.

    Rows are only added; the newest one per account is the declaration in force."""

    __tablename__ = "media_custody"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id"), index=True)
    keeper_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    device: Mapped[str] = mapped_column(String(200))
    mobile_via_vpn: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
