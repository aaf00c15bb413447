"""The approvers' lists: 待办, 已办, 我发起的, 抄送我的 — filtered, sorted, paged by keyset.

One function per list; the web inbox and the JSON API call the same ones:

    todo_page(session, user_id, now, filters=InboxFilter(...), cursor=None, limit=50) -> Page
    todo_count(session, user_id, now) -> Count        # the nav badge, capped: "999+"
    done_page(session, user_id, filters=..., cursor=..., limit=...) -> Page
    started_page(session, user_id, filters=..., cursor=..., limit=...) -> Page
    copied_page(session, user_id, cursor=..., limit=...) -> Page

Every list reads `human_task` (or `process_instance` / `task_copy`) through an index, never the
workflow JSON. 待办 is the union of a few branches — tasks assigned to me, each (role, unit)
group I hold, tasks delegated to me (委派/前加签), and the same for whoever I stand in for (委托)
— and each branch is one range scan of an index ending in (due_at, id). Each branch reads at most
one page after the cursor; the pages are merged in deadline order, so a page costs the same
with 100 or 1,000,000 open tasks. The cursor is the last row's (due_at, id): keyset, not OFFSET.
Tasks without a deadline come after those with one, oldest first.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, func, literal_column, or_, select, tuple_
from sqlalchemy.orm import Session

from db.models import (
    HumanTask,
    OrgUnit,
    ProcessDefinition,
    ProcessInstance,
    RoleGrant,
    TaskCopy,
    User,
    UTCDateTime,
)

from .calendar import CalendarNotCovered
from .clock import SHANGHAI, to_shanghai
from .duties import roles_acted_in
from .exceptions import InvalidInput
from .stand_ins import active_principals

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
COUNT_CAP = 999  # counts stop here: a huge group shows "999+" instead of being scanned
DEADLINE_STATES = ("overdue", "today", "soon", "has", "none")
MAX_QUERY = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class InboxFilter:
    """What the lists can be narrowed by. Every field is optional."""

    process: str | None = None  # process key, e.g. "content_review"
    asset_id: int | None = None
    unit_id: int | None = None  # the requesting unit
    deadline: str | None = None  # overdue, today (due before today ends), soon (…the next working day), has, none
    q: str | None = None  # words in the title, or the start of the business key
    status: str | None = None  # 我发起的 only: running, completed, cancelled

    def __post_init__(self):
        if self.deadline not in (None, *DEADLINE_STATES):
            raise InvalidInput("期限筛选条件无效。", "Unknown deadline filter.")
        if self.q is not None and len(self.q) > MAX_QUERY:
            raise InvalidInput(f"搜索词不能超过 {MAX_QUERY} 个字。", f"The search may not exceed {MAX_QUERY} characters.")


@dataclass
class InboxRow:
    id: int  # the task (待办/已办) or the instance (我发起的) or the copy (抄送我的)
    instance_id: int
    title: str
    business_key: str
    process_key: str
    process_name: str
    step: str
    unit: str
    started_by: str
    created_at: datetime
    due_at: datetime | None = None
    claimed: bool = False
    urge_count: int = 0
    on_behalf_of: str | None = None  # 委托: the person I stand in for
    delegated_to: str | None = None  # 委派/前加签 out of my hands
    delegated_by: str | None = None  # handed to me by 委派/前加签
    delegate_kind: str | None = None
    completed_at: datetime | None = None
    outcome: str | None = None
    outcome_label: str | None = None
    status: str | None = None
    open_steps: list[str] = field(default_factory=list)
    note: str | None = None  # 抄送: the note
    unread: bool = False
    role: str | None = None  # the step's lane (待办/已办)
    # REV-3 (待办): the lanes I already acted in on this item; not empty, I may not work this step.
    barred_roles: list[str] = field(default_factory=list)


@dataclass
class Page:
    rows: list[InboxRow]
    next_cursor: str | None


@dataclass(frozen=True)
class Count:
    value: int
    capped: bool

    def __str__(self) -> str:
        return f"{self.value}+" if self.capped else str(self.value)


# --- 待办 ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Branch:
    kind: str  # assigned, delegate, group
    params: dict  # the values its statement is bound to
    on_behalf_of: int | None = None  # 委托: the principal whose task this branch lists


# Statements are built once per shape and bound to values at each call: building a SQLAlchemy
# statement costs more than running one of these index range scans.
_GRANTS = select(RoleGrant.role, RoleGrant.org_unit_id).where(RoleGrant.user_id == bindparam("who"))


def _branches(session: Session, user_id: int, now: datetime) -> list[_Branch]:
    conn = session.connection()
    grants = set(conn.execute(_GRANTS, {"who": user_id}).all())
    branches = [_Branch("assigned", {"who": user_id}), _Branch("delegate", {"who": user_id})]
    branches += [_Branch("group", {"role": role, "unit": unit}) for role, unit in sorted(grants)]
    for principal in active_principals(session, user_id, now):
        branches.append(_Branch("assigned", {"who": principal}, principal))
        branches += [_Branch("group", {"role": role, "unit": unit}, principal)
                     for role, unit in sorted(set(conn.execute(_GRANTS, {"who": principal}).all())) if (role, unit) not in grants]
    return branches


# 'ready' as a literal, not a bound value: only then may SQLite and PostgreSQL use the partial
# indexes (WHERE state = 'ready' …) whose order is the list's order.
_READY = HumanTask.state == literal_column("'ready'")


def _branch_where(kind: str) -> tuple:
    if kind == "assigned":
        return HumanTask.assignee_id == bindparam("who"), _READY
    if kind == "delegate":
        return HumanTask.delegate_id == bindparam("who"), _READY
    return HumanTask.role == bindparam("role"), HumanTask.org_unit_id == bindparam("unit"), _READY, \
        HumanTask.assignee_id.is_(None)


def _residual_where(shape: tuple[str, ...]) -> list:
    conditions = []
    if "process" in shape:
        conditions.append(HumanTask.process_key == bindparam("process"))
    if "asset" in shape:
        conditions.append(HumanTask.asset_id == bindparam("asset"))
    if "unit" in shape:
        conditions.append(HumanTask.request_unit_id == bindparam("request_unit"))
    if "q" in shape:
        conditions.append(or_(HumanTask.title.like(bindparam("q_title"), escape="\\"),
                              HumanTask.business_key.like(bindparam("q_key"), escape="\\")))
    return conditions


def _residual_params(filters: InboxFilter) -> tuple[tuple[str, ...], dict]:
    shape, params = [], {}
    if filters.process:
        shape.append("process")
        params["process"] = filters.process
    if filters.asset_id is not None:
        shape.append("asset")
        params["asset"] = filters.asset_id
    if filters.unit_id is not None:
        shape.append("unit")
        params["request_unit"] = filters.unit_id
    if filters.q and filters.q.strip():
        shape.append("q")
        text = _escape(filters.q.strip())
        params.update(q_title=f"%{text}%", q_key=f"{text}%")
    return tuple(shape), params


@lru_cache(maxsize=512)
def _page_statement(kind: str, phase: int, shape: tuple[str, ...], bounded: bool):
    """One branch's next keys: with a deadline in (due_at, id) order, or without one in id order."""
    where = [*_branch_where(kind), *_residual_where(shape)]
    if phase == 0:
        after = tuple_(bindparam("after_due", type_=UTCDateTime()), bindparam("after_id"))
        query = select(HumanTask.id, HumanTask.due_at).where(*where, tuple_(HumanTask.due_at, HumanTask.id) > after)
        if bounded:
            query = query.where(HumanTask.due_at <= bindparam("high", type_=UTCDateTime()))
        return query.order_by(HumanTask.due_at, HumanTask.id).limit(bindparam("limit"))
    return (select(HumanTask.id, HumanTask.due_at).where(*where, HumanTask.due_at.is_(None),
                                                         HumanTask.id > bindparam("after_id"))
            .order_by(HumanTask.id).limit(bindparam("limit")))


@lru_cache(maxsize=8)
def _count_statement(kind: str):
    inner = select(HumanTask.id).where(*_branch_where(kind)).limit(bindparam("cap")).subquery()
    return select(func.count()).select_from(inner)


def _deadline_range(session: Session, now: datetime, state: str | None, calendar) -> tuple[datetime | None, datetime | None, bool]:
    """(lowest due, highest due, whether tasks without a deadline are included)."""
    if state is None:
        return None, None, True
    if state == "none":
        return None, None, False  # handled by the caller: only the no-deadline phase
    if state == "has":
        return None, None, False
    if state == "overdue":
        return None, now - timedelta(microseconds=1), False
    today_end = _end_of_day(to_shanghai(now).date())
    if state == "today":
        return now, today_end, False
    # soon: due by the end of the next working day (剩余 1 个工作日 or less)
    if calendar is not None:
        try:
            return now, calendar.add_working_days(now, 1), False
        except CalendarNotCovered:  # a year nobody entered: the next calendar day instead
            pass
    return now, _end_of_day(to_shanghai(now).date() + timedelta(days=1)), False


def _end_of_day(day) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=SHANGHAI).astimezone(UTC)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _parse_todo_cursor(cursor: str | None) -> tuple[int, datetime | None, int] | None:
    """"0.<µs since epoch>.<id>" (a row with a deadline) or "1.<id>" (without)."""
    if not cursor:
        return None
    try:
        parts = cursor.split(".")
        if parts[0] == "0" and len(parts) == 3:
            return 0, _EPOCH + timedelta(microseconds=int(parts[1])), int(parts[2])
        if parts[0] == "1" and len(parts) == 2:
            return 1, None, int(parts[1])
    except (ValueError, OverflowError):
        pass
    raise InvalidInput("翻页参数无效，请从第一页重新开始。", "The page cursor is not valid; start from the first page.")


def _micros(instant: datetime) -> int:
    delta = instant.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _todo_cursor(due: datetime | None, task_id: int) -> str:
    return f"0.{_micros(due)}.{task_id}" if due is not None else f"1.{task_id}"


def _branch_keys(conn, branch: _Branch, shape, residual: dict, after, low, high, with_deadline: bool,
                 without_deadline: bool, limit: int) -> list[tuple]:
    """Up to `limit` (phase, due, id) keys of one branch after the cursor, in deadline order."""
    keys: list[tuple] = []
    phase = after[0] if after else 0
    if phase == 0 and with_deadline:
        start_due, start_id = (after[1], after[2]) if after else (low or _EPOCH, 0)
        if low is not None and start_due < low:
            start_due, start_id = low, 0  # (due_at, id) > (low, 0) is due_at >= low: ids start at 1
        params = {**branch.params, **residual, "after_due": start_due, "after_id": start_id, "limit": limit}
        if high is not None:
            params["high"] = high
        keys += [(0, due, task_id) for task_id, due in
                 conn.execute(_page_statement(branch.kind, 0, shape, high is not None), params)]
    if without_deadline and len(keys) < limit:
        start_id = after[2] if after and phase == 1 else 0
        params = {**branch.params, **residual, "after_id": start_id, "limit": limit - len(keys)}
        keys += [(1, None, task_id) for task_id, _ in conn.execute(_page_statement(branch.kind, 1, shape, False), params)]
    return keys


def todo_page(session: Session, user_id: int, now: datetime, *, filters: InboxFilter | None = None,
              cursor: str | None = None, limit: int = PAGE_SIZE, calendar=None) -> Page:
    """待办: my tasks, my groups' unclaimed tasks, tasks handed to me, and (委托) those of whom I
    stand in for; soonest deadline first. `calendar` (a WorkingCalendar) places "soon"."""
    filters = filters or InboxFilter()
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    after = _parse_todo_cursor(cursor)
    low, high, _ = _deadline_range(session, now, filters.deadline, calendar)
    with_deadline = filters.deadline != "none"
    without_deadline = filters.deadline in (None, "none")
    shape, residual = _residual_params(filters)
    conn = session.connection()
    merged: dict[int, tuple] = {}
    streams = []
    for branch in _branches(session, user_id, now):
        keys = _branch_keys(conn, branch, shape, residual, after, low, high, with_deadline, without_deadline, limit + 1)
        streams.append([((phase, due or _EPOCH, task_id), branch.on_behalf_of) for phase, due, task_id in keys])
    for (phase, due, task_id), principal in heapq.merge(*streams, key=lambda item: item[0]):
        if task_id not in merged:  # a task in two branches (my group and my principal's) shows once, as mine
            merged[task_id] = (phase, due, principal)
        if len(merged) > limit:
            break
    ids = list(merged)[:limit]
    more = len(merged) > limit
    rows = _task_rows(session, ids, user_id)
    _mark_barred(session, rows, user_id)
    principals = {p for _, _, p in merged.values() if p is not None}
    if principals:
        names = dict(conn.execute(_NAMES, {"ids": list(principals)}).all())
        for row in rows:
            principal = merged[row.id][2]
            row.on_behalf_of = names.get(principal) if principal is not None else None
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _todo_cursor(last.due_at, last.id)
    return Page(rows, next_cursor)


def _mark_barred(session: Session, rows: list[InboxRow], user_id: int) -> None:
    """REV-3: a group step reaches everyone holding its role, including whoever already acted in
    another lane of the item; their row says so (the task page and the command refuse them)."""
    if not rows:
        return
    acted = roles_acted_in(session, sorted({row.instance_id for row in rows}), user_id)
    for row in rows:
        row.barred_roles = sorted(acted.get(row.instance_id, set()) - {row.role})


def todo_count(session: Session, user_id: int, now: datetime, cap: int = COUNT_CAP) -> Count:
    """The 待办 badge: how many tasks the list holds, counting at most `cap` + 1 rows per branch."""
    total = 0
    conn = session.connection()
    for branch in _branches(session, user_id, now):
        total += conn.execute(_count_statement(branch.kind), {**branch.params, "cap": cap + 1}).scalar() or 0
        if total > cap:
            return Count(cap, True)
    return Count(total, False)


# --- decoration: names for the page's rows (a handful of primary-key lookups) --------------

def _name(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(select(User.real_name).where(User.id == user_id))


_PROCESS_NAMES: dict = {}


def process_names(session: Session) -> dict[str, str]:
    """Process key → the name of its newest version (kept until a definition is deployed)."""
    stamp = (str(session.get_bind().url), *session.execute(
        select(func.count(), func.max(ProcessDefinition.id)).select_from(ProcessDefinition)).one())
    if _PROCESS_NAMES.get("stamp") != stamp:
        newest = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
                  .group_by(ProcessDefinition.key).subquery())
        names = dict(session.execute(select(ProcessDefinition.key, ProcessDefinition.name).join(
            newest, and_(newest.c.key == ProcessDefinition.key, newest.c.v == ProcessDefinition.version))).all())
        _PROCESS_NAMES.update(stamp=stamp, names=names)
    return _PROCESS_NAMES["names"]


_NAMES = select(User.id, User.real_name).where(User.id.in_(bindparam("ids", expanding=True)))
_ROWS = (select(HumanTask.id, HumanTask.instance_id, HumanTask.name, HumanTask.title, HumanTask.business_key,
                HumanTask.process_key, HumanTask.created_at, HumanTask.due_at, HumanTask.assignee_id, HumanTask.delegate_id,
                HumanTask.delegate_kind, HumanTask.urge_count, HumanTask.completed_at, HumanTask.outcome,
                ProcessInstance.started_by_id, ProcessInstance.title, ProcessInstance.business_key, OrgUnit.name,
                HumanTask.role)
         .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
         .join(OrgUnit, OrgUnit.id == ProcessInstance.org_unit_id)
         .where(HumanTask.id.in_(bindparam("ids", expanding=True))))


def _task_rows(session: Session, ids: list[int], user_id: int) -> list[InboxRow]:
    """The page's rows with their instance, unit and people's names: two primary-key lookups."""
    if not ids:
        return []
    conn = session.connection()
    found = {r[0]: r for r in conn.execute(_ROWS, {"ids": ids})}
    people = {p for r in found.values() for p in (r.assignee_id, r.delegate_id, r.started_by_id) if p is not None}
    names = dict(conn.execute(_NAMES, {"ids": list(people)}).all()) if people else {}
    processes = process_names(session)
    rows = []
    for task_id in ids:
        (_, instance_id, step, title, key, process_key, created_at, due_at, assignee_id, delegate_id, delegate_kind,
         urges, completed_at, outcome, started_by, instance_title, instance_key, unit, role) = found[task_id]
        row = InboxRow(id=task_id, instance_id=instance_id, title=title or instance_title,
                       business_key=key or instance_key, process_key=process_key or "",
                       process_name=processes.get(process_key, process_key or ""), step=step, unit=unit,
                       started_by=names.get(started_by, ""), created_at=created_at, due_at=due_at,
                       claimed=assignee_id is not None, urge_count=urges or 0, completed_at=completed_at,
                       outcome=outcome, delegate_kind=delegate_kind, role=role)
        if delegate_id is not None and delegate_id != user_id:
            row.delegated_to = names.get(delegate_id)
        if delegate_id == user_id:
            row.delegated_by = names.get(assignee_id)
        rows.append(row)
    return rows


# --- 已办 ---------------------------------------------------------------------------------

def _parse_pair_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        micros, task_id = cursor.split(".")
        return _EPOCH + timedelta(microseconds=int(micros)), int(task_id)
    except (ValueError, OverflowError):
        raise InvalidInput("翻页参数无效，请从第一页重新开始。", "The page cursor is not valid; start from the first page.") from None


def done_page(session: Session, user_id: int, *, filters: InboxFilter | None = None, cursor: str | None = None,
              limit: int = PAGE_SIZE) -> Page:
    """已办: steps I completed, and those I completed as someone's stand-in; newest first."""
    filters = replace(filters or InboxFilter(), deadline=None)
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    after = _parse_pair_cursor(cursor)
    shape, params = _residual_params(filters)
    residual = _residual_where(shape)  # bound by `params` at execution
    streams = []
    for column in (HumanTask.completed_by_id, HumanTask.acted_by_id):
        query = select(HumanTask.id, HumanTask.completed_at).where(column == user_id, HumanTask.state == "completed",
                                                                   *residual)
        if after:
            query = query.where(tuple_(HumanTask.completed_at, HumanTask.id) < after)
        query = query.order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(limit + 1)
        streams.append([((-_micros(done), -task_id), task_id) for task_id, done in session.execute(query, params)])
    ids: list[int] = []
    for _key, task_id in heapq.merge(*streams):
        if task_id not in ids:
            ids.append(task_id)
    more = len(ids) > limit
    ids = ids[:limit]
    rows = _task_rows(session, ids, user_id)
    stood_in = dict(session.execute(select(HumanTask.id, HumanTask.completed_by_id).where(
        HumanTask.id.in_(ids), HumanTask.acted_by_id == user_id, HumanTask.completed_by_id != user_id)).all()) if ids else {}
    for row in rows:
        if row.id in stood_in:
            row.on_behalf_of = _name(session, stood_in[row.id])
    _label_outcomes(session, rows)
    next_cursor = f"{_micros(rows[-1].completed_at)}.{rows[-1].id}" if more and rows else None
    return Page(rows, next_cursor)


def _label_outcomes(session: Session, rows: list[InboxRow]) -> None:
    """通过 / 退回修改 … for each completed row, from its definition's outcome list."""
    if not rows:
        return
    definition_of = dict(session.execute(select(ProcessInstance.id, ProcessInstance.definition_id).where(
        ProcessInstance.id.in_({r.instance_id for r in rows}))).all())
    infos = dict(session.execute(select(ProcessDefinition.id, ProcessDefinition.task_info).where(
        ProcessDefinition.id.in_(set(definition_of.values())))).all())
    steps = dict(session.execute(select(HumanTask.id, HumanTask.bpmn_id).where(
        HumanTask.id.in_([r.id for r in rows]))).all())
    for row in rows:
        outcomes = infos[definition_of[row.instance_id]].get(steps[row.id], {}).get("outcomes", [])
        row.outcome_label = next((o["label"] for o in outcomes if o["key"] == row.outcome), row.outcome)


# --- 我发起的 -------------------------------------------------------------------------------

def _parse_id_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    if not cursor.isdigit():
        raise InvalidInput("翻页参数无效，请从第一页重新开始。", "The page cursor is not valid; start from the first page.")
    return int(cursor)


def started_page(session: Session, user_id: int, *, filters: InboxFilter | None = None, cursor: str | None = None,
                 limit: int = PAGE_SIZE) -> Page:
    """我发起的: items I started, newest first, with the steps open now."""
    filters = filters or InboxFilter()
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    after = _parse_id_cursor(cursor)
    query = select(ProcessInstance).where(ProcessInstance.started_by_id == user_id)
    if after is not None:
        query = query.where(ProcessInstance.id < after)
    if filters.process:
        query = query.where(ProcessInstance.definition_id.in_(
            select(ProcessDefinition.id).where(ProcessDefinition.key == filters.process)))
    if filters.status:
        query = query.where(ProcessInstance.status == filters.status)
    if filters.unit_id is not None:
        query = query.where(ProcessInstance.org_unit_id == filters.unit_id)
    if filters.asset_id is not None:
        query = query.where(or_(ProcessInstance.business_key == f"asset:{filters.asset_id}",
                                ProcessInstance.business_key.like(f"asset:{filters.asset_id}:%")))
    if filters.q and filters.q.strip():
        text = _escape(filters.q.strip())
        query = query.where(or_(ProcessInstance.title.like(f"%{text}%", escape="\\"),
                                ProcessInstance.business_key.like(f"{text}%", escape="\\")))
    found = list(session.scalars(query.order_by(ProcessInstance.id.desc()).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    definitions = {d.id: (d.key, d.name) for d in session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.id.in_({i.definition_id for i in found})))} if found else {}
    open_steps: dict[int, list[str]] = {}
    for instance_id, name in session.execute(select(HumanTask.instance_id, HumanTask.name).where(
            HumanTask.instance_id.in_([i.id for i in found]), HumanTask.state == "ready").order_by(HumanTask.id)):
        open_steps.setdefault(instance_id, []).append(name)
    units = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({i.org_unit_id for i in found}))).all())
    rows = [InboxRow(id=i.id, instance_id=i.id, title=i.title, business_key=i.business_key,
                     process_key=definitions[i.definition_id][0], process_name=definitions[i.definition_id][1],
                     step="、".join(dict.fromkeys(open_steps.get(i.id, []))), unit=units.get(i.org_unit_id, ""),
                     started_by="", created_at=i.started_at, completed_at=i.ended_at, status=i.status,
                     open_steps=open_steps.get(i.id, []))
            for i in found]
    return Page(rows, str(rows[-1].id) if more and rows else None)


# --- 抄送我的 -------------------------------------------------------------------------------

def copied_page(session: Session, user_id: int, *, cursor: str | None = None, limit: int = PAGE_SIZE) -> Page:
    """抄送我的: items copied to me, newest first; unread ones marked."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    after = _parse_id_cursor(cursor)
    query = (select(TaskCopy, ProcessInstance.title, ProcessInstance.business_key, ProcessInstance.definition_id,
                    ProcessInstance.status, User.real_name)
             .join(ProcessInstance, ProcessInstance.id == TaskCopy.instance_id)
             .join(User, User.id == TaskCopy.from_user_id).where(TaskCopy.to_user_id == user_id))
    if after is not None:
        query = query.where(TaskCopy.id < after)
    found = session.execute(query.order_by(TaskCopy.id.desc()).limit(limit + 1)).all()
    more = len(found) > limit
    definitions = {d.id: (d.key, d.name) for d in session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.id.in_({r[3] for r in found})))} if found else {}
    rows = [InboxRow(id=copy.id, instance_id=copy.instance_id, title=title, business_key=key,
                     process_key=definitions[definition_id][0], process_name=definitions[definition_id][1], step="",
                     unit="", started_by=sender, created_at=copy.created_at, status=status, note=copy.note,
                     unread=copy.read_at is None)
            for copy, title, key, definition_id, status, sender in found[:limit]]
    return Page(rows, str(rows[-1].id) if more and rows else None)


def copied_unread_count(session: Session, user_id: int, cap: int = COUNT_CAP) -> Count:
    inner = select(TaskCopy.id).where(TaskCopy.to_user_id == user_id, TaskCopy.read_at.is_(None)).limit(cap + 1).subquery()
    value = session.scalar(select(func.count()).select_from(inner)) or 0
    return Count(min(value, cap), value > cap)


def mark_copies_read(session: Session, user_id: int, instance_id: int, now: datetime) -> int:
    """The reader opened the item: its copies to them are read (the caller commits)."""
    from sqlalchemy import update

    return session.execute(update(TaskCopy).where(TaskCopy.to_user_id == user_id, TaskCopy.instance_id == instance_id,
                                                  TaskCopy.read_at.is_(None)).values(read_at=now)).rowcount
