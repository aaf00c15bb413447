"""Administrator overrides of the working-day calendar: reading them and changing them.

Each change is one transaction: the override row, the recomputed open deadlines (moved inside
their workflows too) and one audit event per change, or nothing at all. Only an administrator
of a top-level unit may change the calendar: it is the same for every unit of the deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import CalendarOverride, OrgUnit, RoleGrant, User
from db.session import reading, transaction

from . import audit
from .calendar import CalendarNotCovered, DayOverride, WorkingCalendar, bundled_years, calendar_for
from .deadlines import recompute_open
from .exceptions import Forbidden, InvalidInput, NotFound

MAX_NAME = 100
MIN_YEAR, MAX_YEAR = 2004, 2100


def stored_overrides(session: Session) -> tuple[tuple[DayOverride, ...], tuple[int, ...]]:
    """The overrides in force, as hashable values (the calendar cache's key), and declared years."""
    rows = session.execute(select(CalendarOverride.day, CalendarOverride.kind, CalendarOverride.name)
                           .where(CalendarOverride.removed_at.is_(None))
                           .order_by(CalendarOverride.day, CalendarOverride.id)).all()
    days = {day: DayOverride(day, kind == "work", name) for day, kind, name in rows if kind != "year"}
    years = tuple(sorted({day.year for day, kind, _ in rows if kind == "year"}))
    return tuple(days[d] for d in sorted(days)), years


@dataclass(frozen=True)
class CalendarChange:
    override_id: int
    moved_deadlines: int


def _require_calendar_admin(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise Forbidden("用户不存在或已停用。", "The user does not exist or has been deactivated.")
    top = session.scalar(select(RoleGrant.id).join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
                         .where(RoleGrant.user_id == user.id, RoleGrant.role == "admin",
                                OrgUnit.parent_id.is_(None)).limit(1))
    if top is None:
        raise Forbidden("只有最上级单位的系统管理员可以修改工作日历。",
                        "Only an administrator of the top-level unit may change the working calendar.")
    return user


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写修改工作日历的理由（例如国务院办公厅通知的文号）。",
                           "Give a reason for changing the calendar (e.g. the State Council notice number).")
    return reason


def _apply(rt, session: Session, user: User, reason: str, action: str, data: dict) -> int:
    """After a change is staged: recompute the open deadlines and audit the change itself."""
    session.flush()
    calendar = calendar_for(session, rt.roll_calendar_days)
    try:
        moved = recompute_open(rt, session, calendar, user, reason)
    except CalendarNotCovered as err:
        raise InvalidInput(f"此修改会使未到期的期限落入尚未录入的 {err.year} 年，无法计算，未作任何更改。"
                           f"请先录入 {err.year} 年的节假日安排。",
                           f"This change would leave open deadlines in {err.year}, whose schedule is not entered; "
                           "nothing was changed.") from None
    audit.record(session, now=rt.clock.now(), actor=user, role="admin", action=action, opinion=reason,
                 data={**data, "moved_deadlines": moved})
    return moved


def set_day(rt, user_id: int, day: date, *, working: bool, name: str, reason: str) -> CalendarChange:
    """Make `day` a working day (调休上班) or a rest day, replacing any earlier override of it."""
    reason = _clean_reason(reason)
    name = (name or "").strip() or ("调休上班" if working else "放假")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"名称最多 {MAX_NAME} 个字。", f"The name may have at most {MAX_NAME} characters.")
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise InvalidInput(f"日期必须在 {MIN_YEAR} 年到 {MAX_YEAR} 年之间。",
                           f"The date must lie between {MIN_YEAR} and {MAX_YEAR}.")
    with transaction(rt.session_factory) as session:
        user = _require_calendar_admin(session, user_id)
        now = rt.clock.now()
        for earlier in session.scalars(select(CalendarOverride).where(
                CalendarOverride.day == day, CalendarOverride.kind != "year",
                CalendarOverride.removed_at.is_(None))):
            earlier.removed_at, earlier.removed_by_id, earlier.removal_reason = now, user.id, reason
        row = CalendarOverride(day=day, kind="work" if working else "rest", name=name, reason=reason,
                               created_by_id=user.id, created_at=now)
        session.add(row)
        session.flush()
        moved = _apply(rt, session, user, reason, "calendar_day_set",
                       {"day": day.isoformat(), "working": working, "name": name})
        return CalendarChange(row.id, moved)


def declare_year(rt, user_id: int, year: int, *, reason: str) -> CalendarChange:
    """Declare `year`'s schedule entered completely: deadlines may now be computed into it."""
    reason = _clean_reason(reason)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"年份必须在 {MIN_YEAR} 到 {MAX_YEAR} 之间。",
                           f"The year must lie between {MIN_YEAR} and {MAX_YEAR}.")
    with transaction(rt.session_factory) as session:
        user = _require_calendar_admin(session, user_id)
        _, declared = stored_overrides(session)
        if year in declared or year in bundled_years():
            raise InvalidInput(f"{year} 年的节假日安排已经录入。", f"The {year} schedule is already entered.")
        row = CalendarOverride(day=date(year, 1, 1), kind="year", name=f"{year} 年安排", reason=reason,
                               created_by_id=user.id, created_at=rt.clock.now())
        session.add(row)
        session.flush()
        moved = _apply(rt, session, user, reason, "calendar_year_declared", {"year": year})
        return CalendarChange(row.id, moved)


def remove_override(rt, user_id: int, override_id: int, *, reason: str) -> CalendarChange:
    """Withdraw an override (a day goes back to the bundled schedule, or a year to uncovered).

    Refused, changing nothing, when an open deadline could then no longer be computed.
    """
    reason = _clean_reason(reason)
    with transaction(rt.session_factory) as session:
        user = _require_calendar_admin(session, user_id)
        row = session.get(CalendarOverride, override_id)
        if row is None or row.removed_at is not None:
            raise NotFound("该日历修改不存在或已撤销。", "That calendar override does not exist or was withdrawn.")
        row.removed_at, row.removed_by_id, row.removal_reason = rt.clock.now(), user.id, reason
        moved = _apply(rt, session, user, reason, "calendar_override_removed",
                       {"day": row.day.isoformat(), "kind": row.kind, "name": row.name})
        return CalendarChange(row.id, moved)


@dataclass(frozen=True)
class OverrideView:
    id: int
    day: date
    kind: str
    name: str
    reason: str
    created_by: str
    created_at: datetime


def list_overrides(rt, year: int | None = None) -> list[OverrideView]:
    """Overrides in force (optionally of one year), oldest day first, with who made them."""
    with reading(rt.session_factory) as session:
        query = (select(CalendarOverride, User.real_name).join(User, User.id == CalendarOverride.created_by_id)
                 .where(CalendarOverride.removed_at.is_(None)).order_by(CalendarOverride.day))
        if year is not None:
            query = query.where(CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31))
        return [OverrideView(o.id, o.day, o.kind, o.name, o.reason, who, o.created_at)
                for o, who in session.execute(query)]


def current_calendar(rt) -> WorkingCalendar:
    """The calendar in force now (bundled data plus overrides)."""
    with reading(rt.session_factory) as session:
        return calendar_for(session, rt.roll_calendar_days)
