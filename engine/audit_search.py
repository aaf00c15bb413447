"""The auditor's view of the trail: search with keyset pagination, an event in its context.

Auditors (and administrators) see the events of their own unit and the units below it: events
done in those units, and every event of an item (instance) that belongs to one of them. A
viewer whose unit is the top of the tree sees everything, and the query then carries no scope
condition at all. Results come newest first, by (occurred_at, id); the cursor is the last row's
pair, so a page costs the same however deep into the trail it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from db.audit_hash import GENESIS, event_hash
from db.models import AuditEvent, OrgUnit, ProcessDefinition, ProcessInstance, RoleGrant, User

from .clock import SHANGHAI
from .exceptions import Forbidden, InvalidInput, NotFound

VIEWER_ROLES = ("auditor", "admin")
PAGE_SIZE = 50
EXPORT_LIMIT = 10_000
CONTEXT_LIMIT = 500


@dataclass(frozen=True)
class EventFilter:
    """What an auditor searches by; every field optional, dates are Beijing calendar days."""

    asset_id: int | None = None
    actor_id: int | None = None
    unit_id: int | None = None
    process_key: str | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass
class EventRow:
    id: int
    occurred_at: datetime
    actor_id: int | None
    actor_name: str
    role: str | None
    unit_name: str
    action: str
    instance_id: int | None
    instance_title: str
    process_name: str
    task_name: str | None
    opinion: str | None
    data: dict | None
    client_addr: str | None

    @property
    def outcome_label(self) -> str:
        return (self.data or {}).get("outcome_label") or ""


@dataclass
class EventPage:
    rows: list[EventRow]
    next_cursor: str | None


class Scope:
    """The units a viewer may audit; `everything` when their unit is the top of the tree."""

    def __init__(self, unit_ids: set[int], everything: bool, names: dict[int, str]):
        self.unit_ids, self.everything, self.names = unit_ids, everything, names

    def covers_unit(self, unit_id: int | None) -> bool:
        return self.everything or unit_id in self.unit_ids


def _scope_query():
    """The viewer's units and everything below them, with names, and how many units exist (one statement)."""
    below = (select(RoleGrant.org_unit_id.label("id")).where(RoleGrant.user_id == bindparam("user_id"),
                                                             RoleGrant.role.in_(bindparam("roles", expanding=True)))
             .cte("below", recursive=True))
    child = aliased(OrgUnit)
    below = below.union(select(child.id).where(child.parent_id == below.c.id))
    total = select(func.count()).select_from(OrgUnit).scalar_subquery()
    return select(OrgUnit.id, OrgUnit.name, total).join(below, below.c.id == OrgUnit.id)


# Built once: building the recursive statement costs more than running it.
_SCOPE = _scope_query()


def viewer_scope(session: Session, user: User, roles: tuple[str, ...] = VIEWER_ROLES) -> Scope:
    """The units at or below those where `user` holds one of `roles`; Forbidden if none."""
    rows = session.execute(_SCOPE, {"user_id": user.id, "roles": list(roles)}).all() if user.active else []
    if not rows:
        raise Forbidden("只有审计员和系统管理员可以查阅审计记录。", "Only auditors and administrators may read the audit trail.")
    return Scope({r[0] for r in rows}, len(rows) == rows[0][2], {r[0]: r[1] for r in rows})


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def _conditions(scope: Scope, flt: EventFilter) -> list:
    where = []
    if not scope.everything:
        where.append(or_(AuditEvent.org_unit_id.in_(scope.unit_ids), AuditEvent.instance_id.in_(
            select(ProcessInstance.id).where(ProcessInstance.org_unit_id.in_(scope.unit_ids)))))
    if flt.actor_id is not None:
        where.append(AuditEvent.actor_id == flt.actor_id)
    if flt.unit_id is not None:
        where.append(AuditEvent.org_unit_id == flt.unit_id)
    if flt.action:
        where.append(AuditEvent.action == flt.action)
    if flt.date_from:
        where.append(AuditEvent.occurred_at >= day_start(flt.date_from))
    if flt.date_to:
        where.append(AuditEvent.occurred_at < day_start(flt.date_to + timedelta(days=1)))
    if flt.process_key:
        where.append(AuditEvent.instance_id.in_(
            select(ProcessInstance.id).join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessDefinition.key == flt.process_key)))
    if flt.asset_id is not None:
        key = f"asset:{flt.asset_id}"
        where.append(or_(
            AuditEvent.instance_id.in_(select(ProcessInstance.id).where(
                or_(ProcessInstance.business_key == key, ProcessInstance.business_key.like(f"{key}:%")))),
            and_(AuditEvent.action == "inspection_check", AuditEvent.data["asset_id"].as_integer() == flt.asset_id)))
    return where


_COLUMNS = (AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.actor_name, AuditEvent.role,
            AuditEvent.org_unit_id, AuditEvent.action, AuditEvent.instance_id, AuditEvent.task_name,
            AuditEvent.opinion, AuditEvent.data, AuditEvent.client_addr)


def parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    when, _, ident = cursor.rpartition("|")
    try:
        return datetime.fromisoformat(when), int(ident)
    except ValueError:
        raise InvalidInput("翻页参数无效，请从第一页重新查询。", "The page cursor is invalid; search again.") from None


def search_events(session: Session, user: User, flt: EventFilter, cursor: str | None = None,
                  limit: int = PAGE_SIZE, scope: Scope | None = None) -> EventPage:
    """One page of matching events, newest first, and the cursor of the next page (or None)."""
    scope = scope or viewer_scope(session, user)
    where = _conditions(scope, flt)
    after = parse_cursor(cursor)
    if after:
        when, ident = after
        where.append(or_(AuditEvent.occurred_at < when, and_(AuditEvent.occurred_at == when, AuditEvent.id < ident)))
    raw = session.execute(select(*_COLUMNS).where(*where)
                          .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit + 1)).all()
    more = len(raw) > limit
    raw = raw[:limit]
    rows = _rows(session, scope, raw)
    last = rows[-1] if rows else None
    return EventPage(rows, f"{last.occurred_at.isoformat()}|{last.id}" if more and last else None)


def iter_events(session: Session, user: User, flt: EventFilter, max_rows: int = EXPORT_LIMIT) -> Iterator[EventRow]:
    """Every matching event, newest first, up to `max_rows` (exports)."""
    scope = viewer_scope(session, user)
    cursor, sent = None, 0
    while sent < max_rows:
        page = search_events(session, user, flt, cursor, limit=min(500, max_rows - sent), scope=scope)
        yield from page.rows
        sent += len(page.rows)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _rows(session: Session, scope: Scope, raw) -> list[EventRow]:
    instance_ids = {r.instance_id for r in raw if r.instance_id is not None}
    instances = {}
    if instance_ids:
        instances = {i: (title, name) for i, title, name in session.execute(
            select(ProcessInstance.id, ProcessInstance.title, ProcessDefinition.name)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessInstance.id.in_(instance_ids)))}
    foreign = {r.org_unit_id for r in raw if r.org_unit_id is not None and r.org_unit_id not in scope.names}
    if foreign:
        scope.names.update(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(foreign))).all())
    return [EventRow(id=r.id, occurred_at=r.occurred_at, actor_id=r.actor_id, actor_name=r.actor_name, role=r.role,
                     unit_name=scope.names.get(r.org_unit_id, ""), action=r.action, instance_id=r.instance_id,
                     instance_title=instances.get(r.instance_id, ("", ""))[0],
                     process_name=instances.get(r.instance_id, ("", ""))[1], task_name=r.task_name,
                     opinion=r.opinion, data=r.data, client_addr=r.client_addr) for r in raw]


@dataclass
class EventContext:
    event: EventRow
    prev_hash: str
    hash: str
    hash_ok: bool
    link_ok: bool
    history: list[EventRow]


def event_context(session: Session, user: User, event_id: int) -> EventContext:
    """An event, whether it checks out against the chain, and its instance's history around it."""
    scope = viewer_scope(session, user)
    event = session.get(AuditEvent, event_id)
    if event is None:
        raise NotFound(f"审计事件 {event_id} 不存在。", f"Audit event {event_id} does not exist.")
    instance = session.get(ProcessInstance, event.instance_id) if event.instance_id else None
    if not (scope.covers_unit(event.org_unit_id) or (instance and scope.covers_unit(instance.org_unit_id))):
        raise Forbidden("此审计事件不在您的审计范围内。", "This event is outside the units you audit.")
    fields = {c.name: getattr(event, c.name) for c in AuditEvent.__table__.columns}
    before = session.scalar(select(AuditEvent.hash).where(AuditEvent.id < event_id).order_by(AuditEvent.id.desc())
                            .limit(1))
    row = _rows(session, scope, [session.execute(select(*_COLUMNS).where(AuditEvent.id == event_id)).one()])[0]
    history = []
    if event.instance_id:
        around = session.execute(select(*_COLUMNS).where(AuditEvent.instance_id == event.instance_id)
                                 .order_by(AuditEvent.id).limit(CONTEXT_LIMIT)).all()
        history = _rows(session, scope, around)
    return EventContext(event=row, prev_hash=event.prev_hash, hash=event.hash,
                        hash_ok=event_hash(fields, event.prev_hash) == event.hash,
                        link_ok=event.prev_hash == (before or GENESIS), history=history)


def audit_people(session: Session, scope: Scope) -> list[tuple[int, str, str]]:
    """(id, name, unit) of the people in the viewer's units, for the search form."""
    rows = session.execute(select(User.id, User.real_name, User.org_unit_id).order_by(User.org_unit_id, User.id)).all()
    return [(i, name, scope.names.get(unit, "")) for i, name, unit in rows if scope.covers_unit(unit)]


def audit_processes(session: Session) -> list[tuple[str, str]]:
    """(key, name) of every deployed process (newest name), for the search form."""
    latest = {}
    for key, name in session.execute(select(ProcessDefinition.key, ProcessDefinition.name)
                                     .order_by(ProcessDefinition.key, ProcessDefinition.version)):
        latest[key] = name
    return sorted(latest.items())
