"""委托/代理: a time-bound stand-in works a person's tasks while they are away.

The principal names a colleague of their own unit, a period and a reason. Inside the period the
stand-in sees the principal's tasks in 待办 and acts on them *as the principal's stand-in*: the
command authorises the principal (their lanes, their separation of duties) and also holds the
stand-in to REV-3, and the audit trail names both — "赵六 代 王五" — so nobody can later say the
principal did it alone or that the stand-in acted on their own authority.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from db.models import HumanTask, ProcessInstance, StandIn, User, UTCDateTime
from db.session import before_commit, transaction

from . import audit
from .exceptions import Forbidden, InvalidInput, NotFound

MAX_PERIOD = timedelta(days=180)
MAX_REASON = 500
DEPUTY = "govflow.deputy"  # session.info: (stand-in User, principal User) of the running command


@dataclass(frozen=True)
class StandInRow:
    id: int
    principal: str
    deputy: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    revoked_at: datetime | None
    active: bool


_PRINCIPALS = (select(StandIn.principal_id).join(User, User.id == StandIn.principal_id)
               .where(StandIn.deputy_id == bindparam("deputy"), StandIn.ends_at > bindparam("now", type_=UTCDateTime()),
                      StandIn.starts_at <= bindparam("now", type_=UTCDateTime()), StandIn.revoked_at.is_(None),
                      User.active.is_(True)).order_by(StandIn.id))


def active_principals(session: Session, deputy_id: int, now: datetime) -> list[int]:
    """Whom `deputy_id` stands in for at `now` (one indexed range on stand_in; built once, it runs
    for every inbox page)."""
    return list(dict.fromkeys(session.connection().execute(_PRINCIPALS, {"deputy": deputy_id, "now": now}).scalars()))


def is_stand_in(session: Session, deputy_id: int, principal_id: int, now: datetime | None) -> bool:
    return now is not None and principal_id in active_principals(session, deputy_id, now)


def enter_stand_in(session: Session, actor, now: datetime | None) -> User:
    """Called by load_actor for an Actor with on_behalf_of: the principal, once the stand-in holds.

    Remembers the stand-in for this command, so REV-3 checks them too and every audit event the
    command writes names them ("赵六 代 王五").
    """
    deputy = session.get(User, actor.user_id)
    principal = session.get(User, actor.on_behalf_of)
    if deputy is None or not deputy.active or principal is None:
        raise Forbidden("用户不存在或已停用。", "The user does not exist or has been deactivated.")
    if not is_stand_in(session, deputy.id, principal.id, now):
        raise Forbidden(f"您目前不是{principal.real_name}的委托代理人，不能代其办理。",
                        f"You are not {principal.real_name}'s stand-in at this time.")
    session.info[DEPUTY] = (deputy, principal)
    before_commit(session, lambda: _stamp_staged_events(session))
    return principal


def current_deputy(session: Session) -> User | None:
    """The stand-in running the current command, if any."""
    found = session.info.get(DEPUTY)
    return found[0] if found else None


def _stamp_staged_events(session: Session) -> None:
    """Before the audit events are written: the principal's acts name the stand-in who did them.

    Registered by enter_stand_in, i.e. before any event is staged, so it runs before
    audit.write_staged; every staged event gets the column so one INSERT writes them all.
    """
    deputy, principal = session.info[DEPUTY]
    for event in session.info.get(audit.STAGED, []):
        event.setdefault("on_behalf_of_id", None)
        if event["actor_id"] == principal.id:
            event.update(actor_id=deputy.id, actor_name=f"{deputy.real_name} 代 {principal.real_name}",
                         on_behalf_of_id=principal.id)


def record_stand_in_completion(rt, session: Session, row: ProcessInstance, task: HumanTask, user: User,
                               outcome: str) -> None:
    """complete_task hook: the task row remembers the stand-in who completed it (their 已办)."""
    deputy = current_deputy(session)
    if deputy is not None and deputy.id != user.id:
        session.execute(update(HumanTask).where(HumanTask.id == task.id).values(acted_by_id=deputy.id))


def create_stand_in(rt, actor, *, deputy_id: int, starts_at: datetime, ends_at: datetime, reason: str) -> int:
    """The actor names a colleague of their unit to stand in for them from `starts_at` to `ends_at`."""
    from .commands import load_actor

    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("设置委托代理时必须填写事由（例如：出差、休假）。", "A reason (e.g. travel, leave) is required.")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"事由不能超过 {MAX_REASON} 个字。", f"The reason may not exceed {MAX_REASON} characters.")
    for value in (starts_at, ends_at):
        if value.tzinfo is None:
            raise InvalidInput("请填写完整的起止时间。", "Give both the start and the end.")
    if ends_at <= starts_at:
        raise InvalidInput("结束时间必须晚于开始时间。", "The end must come after the start.")
    if ends_at - starts_at > MAX_PERIOD:
        raise InvalidInput(f"委托期限最长 {MAX_PERIOD.days} 天。", f"A stand-in lasts at most {MAX_PERIOD.days} days.")
    with transaction(rt.session_factory) as session:
        principal = load_actor(session, actor)
        now = rt.clock.now()
        if ends_at <= now:
            raise InvalidInput("结束时间已经过去。", "The end is already past.")
        deputy = session.get(User, deputy_id)
        if deputy is None or not deputy.active:
            raise InvalidInput("所选代理人不存在或已停用。", "The chosen stand-in does not exist or is deactivated.")
        if deputy.id == principal.id:
            raise InvalidInput("不能委托给自己。", "You cannot stand in for yourself.")
        if deputy.org_unit_id != principal.org_unit_id:
            raise InvalidInput(f"{deputy.real_name}不是本单位人员，只能委托本单位的同事代理。",
                               f"{deputy.real_name} is not in your unit; choose a colleague of your unit.")
        overlapping = session.scalar(select(StandIn.id).where(
            StandIn.principal_id == principal.id, StandIn.revoked_at.is_(None),
            StandIn.starts_at < ends_at, StandIn.ends_at > starts_at).limit(1))
        if overlapping is not None:
            raise InvalidInput("这段时间内已有委托代理，请先撤销原委托。",
                               "A stand-in already covers part of this period; revoke it first.")
        stand_in = StandIn(principal_id=principal.id, deputy_id=deputy.id, starts_at=starts_at, ends_at=ends_at,
                           reason=reason, created_at=now)
        session.add(stand_in)
        session.flush()
        audit.record(session, now=now, action="stand_in", actor=principal, opinion=reason,
                     client_addr=actor.client_addr,
                     data={"stand_in": stand_in.id, "deputy_id": deputy.id, "deputy": deputy.real_name,
                           "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
        from .notifications import notify

        notify(rt, session, [deputy.id], kind="stand_in", title=f"委托代理：{principal.real_name}",
               body=f"{principal.real_name}委托您在 {_shown(starts_at)} 至 {_shown(ends_at)} 期间代为办理其待办事项。事由：{reason}")
        return stand_in.id


def revoke_stand_in(rt, actor, stand_in_id: int) -> None:
    """The principal ends a stand-in early (or cancels one not yet begun)."""
    from .commands import load_actor

    with transaction(rt.session_factory) as session:
        principal = load_actor(session, actor)
        stand_in = session.get(StandIn, stand_in_id)
        if stand_in is None or stand_in.principal_id != principal.id:
            raise NotFound("委托记录不存在。", "The stand-in does not exist.")
        now = rt.clock.now()
        if stand_in.revoked_at is not None or stand_in.ends_at <= now:
            raise InvalidInput("此委托已经结束。", "This stand-in has already ended.")
        stand_in.revoked_at = now
        audit.record(session, now=now, action="stand_in_revoked", actor=principal, client_addr=actor.client_addr,
                     data={"stand_in": stand_in.id, "deputy_id": stand_in.deputy_id})


def stand_ins_of(session: Session, user_id: int, now: datetime) -> tuple[list[StandInRow], list[StandInRow]]:
    """(whom I asked to stand in for me, whom I stand in for), newest first."""
    names = {}

    def name(user_id):
        if user_id not in names:
            names[user_id] = session.get(User, user_id).real_name
        return names[user_id]

    def rows(where):
        return [StandInRow(s.id, name(s.principal_id), name(s.deputy_id), s.starts_at, s.ends_at, s.reason,
                           s.revoked_at, s.revoked_at is None and s.starts_at <= now < s.ends_at)
                for s in session.scalars(select(StandIn).where(where).order_by(StandIn.id.desc()).limit(100))]

    return rows(StandIn.principal_id == user_id), rows(StandIn.deputy_id == user_id)


def colleagues(session: Session, user_id: int) -> list[User]:
    """Who may stand in for `user_id`: the active people of their unit."""
    user = session.get(User, user_id)
    return list(session.scalars(select(User).where(User.org_unit_id == user.org_unit_id, User.id != user.id,
                                                   User.active.is_(True)).order_by(User.id)))


def _shown(instant: datetime) -> str:
    from .clock import to_shanghai

    return to_shanghai(instant).strftime("%Y-%m-%d %H:%M")
