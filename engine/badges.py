"""The inbox's deadline badge: 剩余 3 个工作日 / 今日到期 / 已超期 2 天, on the working-day calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .calendar import CalendarNotCovered, WorkingCalendar
from .clock import to_shanghai


@dataclass(frozen=True)
class DeadlineBadge:
    kind: str  # ok, soon (1 working day left), today, overdue, unknown (year not entered)
    text_zh: str
    text_en: str
    due: datetime

    def text(self, lang: str) -> str:
        return self.text_en if lang == "en" else self.text_zh


def deadline_badge(calendar: WorkingCalendar, now: datetime, due: datetime) -> DeadlineBadge:
    """How a civil servant reads `due` at `now`.

    Overdue counts calendar days since the due day ("已超期 2 天"); time left counts working
    days ("剩余 3 个工作日"), which is how the regulations state the limits.
    """
    if due < now:
        late = (to_shanghai(now).date() - to_shanghai(due).date()).days
        if late == 0:
            return DeadlineBadge("overdue", "已超期", "Overdue", due)
        return DeadlineBadge("overdue", f"已超期 {late} 天", f"{late} day{'s' if late > 1 else ''} overdue", due)
    try:
        left = calendar.working_days_left(now, due)
    except CalendarNotCovered:
        shown = to_shanghai(due).strftime("%Y-%m-%d")
        return DeadlineBadge("unknown", f"{shown} 到期", f"Due {shown}", due)
    if left <= 0:
        return DeadlineBadge("today", "即将到期 · 今日到期", "Due today", due)
    if left == 1:
        return DeadlineBadge("soon", "即将到期 · 剩余 1 个工作日", "Due soon: 1 working day left", due)
    return DeadlineBadge("ok", f"剩余 {left} 个工作日", f"{left} working days left", due)
