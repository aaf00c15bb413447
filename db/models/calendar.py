"""Administrator corrections to the working-day calendar, on top of the bundled schedule.

Rows are never deleted: removing an override stamps `removed_at`, so the calendar's history
(who declared 2027 a covered year, who moved which day) stays readable.
"""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime

# rest: the day is off; work: the day is a working day (调休上班);
# year: the year's schedule has been entered completely (`day` is 1 January of that year).
OVERRIDE_KINDS = {"rest": "放假", "work": "上班", "year": "全年安排已录入"}


class CalendarOverride(Base):
    __tablename__ = "calendar_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    removal_reason: Mapped[str | None] = mapped_column(Text)
