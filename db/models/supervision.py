"""Supervision, security and violation records (issue 7: SEC, SUP-3…SUP-8, PEN).

Processes carry the work; these tables keep what a page must list without reading workflow
state: which periodic duties ran for which period, the updates counted for monitoring, the
register's circulars 通报, the security evidence of each site or account, vendors and the
yearly evaluation results.
"""

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime

# SEC-5 / SEC-6 evidence kinds kept per site or account.
SECURITY_RECORD_KINDS = {"emergency_plan": "应急预案", "plan_filing": "应急预案备案", "drill": "应急演练",
                         "security_test": "安全检测评估"}
EVALUATION_GRADES = {"excellent": "优秀", "pass": "合格", "fail": "不合格"}
VENDOR_STATES = {"reviewing": "审查中", "approved": "准予开展服务", "rejected": "不予采用"}


class PeriodicRun(Base):
    """One periodic duty for one period (a week's update check, a year's duties): run once."""

    __tablename__ = "periodic_run"
    __table_args__ = (UniqueConstraint("kind", "period_start", name="uq_periodic_run_kind_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    # baseline: the first period after monitoring began, recorded without acting on it
    state: Mapped[str] = mapped_column(String(20))  # baseline, running, done
    items: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PeriodicItem(Base):
    """What a periodic duty did for one subject (an account, a column, a unit) in one period."""

    __tablename__ = "periodic_item"
    __table_args__ = (UniqueConstraint("kind", "period_start", "subject", name="uq_periodic_item_kind_period_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    subject: Mapped[str] = mapped_column(String(80))  # asset:<id> or unit:<id>
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id"), index=True)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    required: Mapped[int | None] = mapped_column(Integer)
    counted: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UpdateRecord(Base):
    """SUP-3/SUP-5: an update of an account or column published outside GovFlow (e.g. on Weibo)."""

    __tablename__ = "update_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id"), index=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(500), default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ViolationCircular(Base):
    """PEN-1: a 通报 by the office, covering one or more register entries."""

    __tablename__ = "violation_circular"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_number: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))  # the circulating office's unit
    circulated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))  # circulated at a process step
    circulated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ViolationCircularItem(Base):
    __tablename__ = "violation_circular_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    circular_id: Mapped[int] = mapped_column(ForeignKey("violation_circular.id"), index=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violation.id"), unique=True)  # circulated once


class SecurityRecord(Base):
    """SEC-5/SEC-6 (manual): an emergency plan, its filing, a drill or a security test of a site or account."""

    __tablename__ = "security_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    occurred_on: Mapped[date] = mapped_column(Date)
    details: Mapped[dict] = mapped_column(JSON)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Vendor(Base):
    """SEC-6: an outsourced service vendor of a unit, approved only after review and confidentiality agreement."""

    __tablename__ = "vendor"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(Text)
    assets: Mapped[str] = mapped_column(String(500), default="")  # the sites or accounts concerned
    state: Mapped[str] = mapped_column(String(20))
    agreement: Mapped[dict | None] = mapped_column(JSON)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Evaluation(Base):
    """SUP-8: a unit's yearly evaluation result, fed to the annual 绩效考核."""

    __tablename__ = "evaluation"
    __table_args__ = (UniqueConstraint("year", "org_unit_id", name="uq_evaluation_year_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    score: Mapped[int | None] = mapped_column(Integer)
    basis: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[str | None] = mapped_column(String(20))
    circular: Mapped[dict | None] = mapped_column(JSON)  # 通报表扬 or 通报批评: document number and text
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
