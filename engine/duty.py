"""Duty rosters (值班表) and daily duty reading (值班读网).

The roster names, per unit and day, the person on duty: who reads the unit's sites and accounts
(REV-16) and who handles the day's error reports from citizens (MSG-3). A unit with no roster
entry for the day falls back to its registered liaison (CHG-2 contacts).

A duty reading is one day's reading of one site or account: every item published that day is
read, and each error found is either dispatched at once as a REV-11 correction (by the portal
operator) or, by the host unit itself, corrected at once and logged. Reading, log and
corrections commit in one transaction.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Asset, ContentItem, DutyReading, DutyRoster, OrgUnit, User
from db.session import transaction

from . import audit
from .assignment import holds_role, holds_role_at_or_above
from .clock import SHANGHAI, to_shanghai
from .commands import Actor, load_actor
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound

# Who may set a unit's roster: its principal leader, or the operator, office or administrators above it.
ROSTER_KEEPERS_ABOVE = ("egov_center", "district_office", "admin")
MAX_FINDING = 1000


def may_keep_roster(session: Session, user: User, unit_id: int) -> bool:
    return holds_role(session, user, "unit_head", unit_id) or any(
        holds_role_at_or_above(session, user, role, unit_id) for role in ROSTER_KEEPERS_ABOVE)


def set_duty(rt, actor: Actor, *, unit_id: int, day: date, user_id: int) -> int:
    """Name the person on duty for a unit on a day (replacing an earlier entry); audited."""
    with transaction(rt.session_factory) as session:
        keeper = load_actor(session, actor)
        unit = session.get(OrgUnit, unit_id)
        if unit is None:
            raise NotFound(f"单位 {unit_id} 不存在。", f"Unit {unit_id} does not exist.")
        if not may_keep_roster(session, keeper, unit.id):
            raise Forbidden("只有本单位主要负责人或上级运维单位、政府办公室、管理员可以排班。",
                            "Only the unit head, or the operator, office or an administrator above, keeps the roster.")
        person = session.get(User, user_id)
        if person is None or not person.active or person.org_unit_id != unit.id:
            raise InvalidInput(f"值班人须是{unit.name}的在岗人员。", f"The person on duty must work at {unit.name}.")
        if not isinstance(day, date) or day < to_shanghai(rt.clock.now()).date():
            raise InvalidInput("只能为今天或以后的日期排班。", "Only today or later days can be rostered.")
        row = session.scalar(select(DutyRoster).where(DutyRoster.org_unit_id == unit.id, DutyRoster.day == day))
        before = session.get(User, row.user_id).real_name if row else None
        now = rt.clock.now()
        if row is None:
            row = DutyRoster(org_unit_id=unit.id, day=day, user_id=person.id, set_by_id=keeper.id, set_at=now)
            session.add(row)
        else:
            row.user_id, row.set_by_id, row.set_at = person.id, keeper.id, now
        session.flush()
        audit.record(session, now=now, action="duty_set", actor=keeper, org_unit_id=unit.id,
                     opinion=f"{day.isoformat()} 值班：{person.real_name}",
                     data={"unit_id": unit.id, "day": day.isoformat(), "user": person.real_name, "before": before})
        return row.id


def duty_person(session: Session, unit_id: int, day: date) -> tuple[User | None, str]:
    """MSG-3: the unit's named person for `day`: the roster's, else the registered liaison (CHG-2).

    Returns (user, "roster" | "liaison"), or (None, "") when the unit has named nobody.
    """
    row = session.scalar(select(DutyRoster).where(DutyRoster.org_unit_id == unit_id, DutyRoster.day == day))
    if row is not None:
        user = session.get(User, row.user_id)
        if user is not None and user.active:
            return user, "roster"
    unit = session.get(OrgUnit, unit_id)
    staff = list(session.scalars(select(User).where(User.org_unit_id == unit_id, User.active.is_(True))))
    for line in ((unit.contacts or {}).get("liaisons") or []) if unit else []:
        for user in staff:
            if str(line).strip().startswith(user.real_name):
                return user, "liaison"
    return None, ""


def roster_of(session: Session, unit_id: int, first: date, days: int = 14) -> list[tuple[date, User | None, str]]:
    """The next `days` days of a unit's roster, with the fallback each day would use."""
    return [(first + timedelta(days=i), *duty_person(session, unit_id, first + timedelta(days=i))) for i in range(days)]


def _units_at_or_below(session: Session, unit_id: int) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for unit in session.scalars(select(OrgUnit)):
        children.setdefault(unit.parent_id, []).append(unit.id)
    found, todo = set(), [unit_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    return found


def items_to_read(session: Session, asset: Asset, day: date) -> list[ContentItem]:
    """REV-16: the items a site or account published on `day` (Beijing time), oldest first.

    A website's are the portal items of its host unit and the units below it; a new-media
    account's are the items published to it by name.
    """
    begin = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    query = select(ContentItem).where(ContentItem.status == "published", ContentItem.published_at >= begin,
                                      ContentItem.published_at < begin + timedelta(days=1))
    if asset.kind == "website":
        query = query.where(ContentItem.target_kind == "portal_column",
                            ContentItem.org_unit_id.in_(_units_at_or_below(session, asset.org_unit_id)))
    elif asset.kind == "new_media":
        query = query.where(ContentItem.target_kind != "portal_column", ContentItem.target_name == asset.name)
    else:
        return []
    return list(session.scalars(query.order_by(ContentItem.published_at, ContentItem.id)))


def may_read(session: Session, user: User, asset: Asset) -> bool:
    """The host unit's own people, or the portal operator above it."""
    return user.org_unit_id == asset.org_unit_id or holds_role_at_or_above(session, user, "egov_center",
                                                                             asset.org_unit_id)


def record_duty_reading(rt, actor: Actor, asset_id: int, *, read_item_ids, findings=(), note: str = "") -> int:
    """REV-16: today's duty reading of a site or account; returns the log entry's id.

    Every item published today must be read (`read_item_ids`). Each finding is {"finding",
    "urgency"} — dispatched at once to the unit as a REV-11 correction when the reader is the
    portal operator — or {"finding", "correction"} when the host unit corrected it at once itself.
    """
    from .assets import URGENCY, dispatch_correction

    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise NotFound(f"网站或账号 {asset_id} 不存在。", f"Asset {asset_id} does not exist.")
        if not may_read(session, user, asset):
            raise Forbidden("值班读网由主办单位或上级门户网站运维单位进行。", "The host unit or the operator reads it.")
        now = rt.clock.now()
        today = to_shanghai(now).date()
        if session.scalar(select(DutyReading.id).where(DutyReading.asset_id == asset.id, DutyReading.day == today)):
            raise ConflictError(f"“{asset.name}”今天已经值班读网并记录。", f"{asset.name} was already read today.")
        expected = {item.id for item in items_to_read(session, asset, today)}
        read = {int(i) for i in read_item_ids or () if str(i).isdigit()}
        unread = expected - read
        if unread:
            raise InvalidInput(f"当日新发布的 {len(expected)} 条信息中还有 {len(unread)} 条未审看，请逐条审看后再记录（REV-16）。",
                               f"{len(unread)} of today's {len(expected)} new items are not read yet (REV-16).")
        operator = holds_role_at_or_above(session, user, "egov_center", asset.org_unit_id)
        logged = []
        for raw in findings or ():
            finding = (raw.get("finding") or "").strip()
            if not finding:
                continue
            if len(finding) > MAX_FINDING:
                raise InvalidInput(f"每条问题描述不超过 {MAX_FINDING} 个字。", "A finding is too long.")
            if operator:
                urgency = raw.get("urgency") or "general"
                if urgency not in URGENCY:
                    raise InvalidInput("请选择问题的紧急程度：紧急或一般。", "Choose urgent or general.")
                instance = dispatch_correction(rt, session, actor, user, asset, urgency=urgency, finding=finding)
                logged.append({"finding": finding, "urgency": urgency, "instance_id": instance.id})
            else:
                correction = (raw.get("correction") or "").strip()
                if not correction:
                    raise InvalidInput("发现的错误须立即纠正：请写明纠正情况（REV-16）。",
                                       "An error found must be corrected at once: say how (REV-16).")
                logged.append({"finding": finding, "correction": correction[:MAX_FINDING]})
        row = DutyReading(asset_id=asset.id, day=today, reader_id=user.id, items_read=sorted(expected), findings=logged,
                          note=(note or "").strip()[:MAX_FINDING], recorded_at=now)
        session.add(row)
        session.flush()
        audit.record(session, now=now, action="duty_reading", actor=user, org_unit_id=asset.org_unit_id,
                     opinion=f"{asset.name}：审看 {len(expected)} 条，发现问题 {len(logged)} 个",
                     data={"asset_id": asset.id, "day": today.isoformat(), "findings": logged})
        return row.id


def readings_of(session: Session, asset_id: int, limit: int = 30) -> list[DutyReading]:
    return list(session.scalars(select(DutyReading).where(DutyReading.asset_id == asset_id)
                                .order_by(DutyReading.day.desc()).limit(limit)))
