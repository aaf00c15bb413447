"""Periodic duties: the work beat runs once a minute besides the timer sweep.

A duty acts once per period (last week's update check, this year's topic plans…). The
`periodic_run` row of (duty, period) is the gate: once it is `done` the duty costs one query
a minute. Each subject (an account, a unit) is handled in its own transaction that first
inserts its `periodic_item` row, whose unique key makes a second runner fail before it starts
anything: a subject is acted on once however many workers race. A subject that fails (a
calendar year not yet entered…) is logged, its error kept on the run, and tried again a
minute later; the others go on.

The first time a duty runs it only records a baseline for the period at hand (monitoring
starts with the next full period, a year's duties whose due date has passed wait for next
year), so switching the product on never floods units with overdue work.

Requests a duty opens have no human starter: they are started by the system user, an inactive
account nobody can log in as and that holds no role.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import OrgUnit, PeriodicItem, PeriodicRun, User
from db.session import reading, transaction

from .accounts import hash_password
from .commands import latest_definition, start_instance

log = logging.getLogger(__name__)

SYSTEM_USERNAME = "system"
SYSTEM_NAME = "系统（定时任务）"


def system_user(session: Session, now: datetime) -> User:
    """The inactive account that starts what periodic duties open (created on first use)."""
    user = session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    if user is None:
        top = session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1))
        user = User(username=SYSTEM_USERNAME, real_name=SYSTEM_NAME, org_unit_id=top, active=False, created_at=now,
                    password_hash=hash_password(secrets.token_urlsafe(32)))  # a password nobody knows
        session.add(user)
        session.flush()
    return user


def start_as_system(rt, session: Session, key: str, *, title: str, business_key: str, unit_id: int,
                    data: dict | None = None, opinion: str | None = None):
    """Start the newest version of `key` for `unit_id` in the caller's transaction, by the system.

    The same steps as a user's start (engine.commands.start_in_session) without the starter's
    role check: nobody asked for it, a duty did.
    """
    return start_instance(rt, session, latest_definition(rt, session, key), title=title, business_key=business_key,
                          unit_id=unit_id, started_by_id=system_user(session, rt.clock.now()).id, data=data,
                          opinion=opinion, audit_data={"by": "periodic"})


@dataclass(frozen=True)
class Duty:
    """A duty done once per period for each of its subjects."""

    kind: str
    # The period to act on at `now`, as (start, end) instants.
    period: Callable[[object, datetime], tuple[datetime, datetime]]
    # On the duty's very first run: True records the period as a baseline without acting.
    baseline: Callable[[object, datetime, datetime, datetime], bool]
    # The subject keys (asset:<id>, unit:<id>) due in the period.
    subjects: Callable[[object, Session, datetime, datetime], list[str]]
    # Handle one subject in the caller's transaction, filling in its (already inserted) item.
    act: Callable[[object, Session, PeriodicItem], None]


DUTIES: dict[str, Duty] = {}


def register_duty(duty: Duty) -> Duty:
    DUTIES[duty.kind] = duty
    return duty


def run_periodic(rt) -> int:
    """One pass over every duty; returns how many subjects were handled. What beat runs."""
    from . import annual, monitoring, supervision  # noqa: F401  (their duties register on import)

    _ensure_system_user(rt)
    return sum(run_duty(rt, duty) for duty in list(DUTIES.values()))


def _ensure_system_user(rt) -> None:
    """Created up front, so runners racing on their first subject never collide on it."""
    with reading(rt.session_factory) as session:
        if session.scalar(select(User.id).where(User.username == SYSTEM_USERNAME)) is not None:
            return  # the usual case: no write transaction a minute just for this
    try:
        with transaction(rt.session_factory) as session:
            system_user(session, rt.clock.now())
    except IntegrityError:
        pass  # another runner created it


def run_duty(rt, duty: Duty) -> int:
    now = rt.clock.now()
    start, end = duty.period(rt, now)
    run = _run_row(rt, duty, start, end, now)
    if run is None or run.state in ("done", "baseline"):
        return 0
    with reading(rt.session_factory) as session:
        subjects = duty.subjects(rt, session, start, end)
        done = set(session.scalars(select(PeriodicItem.subject).where(PeriodicItem.kind == duty.kind,
                                                                      PeriodicItem.period_start == start)))
    handled, errors = 0, []
    for subject in subjects:
        if subject in done:
            continue
        try:
            with transaction(rt.session_factory) as session:
                item = PeriodicItem(kind=duty.kind, period_start=start, period_end=end, subject=subject,
                                    done_at=rt.clock.now())
                session.add(item)
                session.flush()  # a concurrent runner stops here, before it starts anything
                duty.act(rt, session, item)
            handled += 1
        except IntegrityError as err:
            if _item_exists(rt, duty, start, subject):
                continue  # handled by another runner
            errors.append(f"{subject}：{err}")
        except Exception as err:  # kept on the run and retried next time; the other subjects go on
            log.warning("periodic duty %s failed for %s: %s", duty.kind, subject, err)
            errors.append(f"{subject}：{getattr(err, 'message', err)}")
    with transaction(rt.session_factory) as session:
        row = session.get(PeriodicRun, run.id)
        row.items += handled
        row.error = "；".join(errors)[:2000] or None
        if not errors:
            row.state, row.finished_at = "done", rt.clock.now()
    return handled


def _item_exists(rt, duty: Duty, start: datetime, subject: str) -> bool:
    with reading(rt.session_factory) as session:
        return session.scalar(select(PeriodicItem.id).where(PeriodicItem.kind == duty.kind, PeriodicItem.period_start
                                                            == start, PeriodicItem.subject == subject)) is not None


def _run_row(rt, duty: Duty, start: datetime, end: datetime, now: datetime) -> PeriodicRun | None:
    """The gate row of (duty, period), created on first sight; None when another runner holds it."""
    with reading(rt.session_factory) as session:
        run = session.scalar(select(PeriodicRun).where(PeriodicRun.kind == duty.kind,
                                                       PeriodicRun.period_start == start))
    if run is not None:
        return run
    try:
        with transaction(rt.session_factory) as session:
            first = session.scalar(select(PeriodicRun.id).where(PeriodicRun.kind == duty.kind).limit(1)) is None
            baseline = first and duty.baseline(rt, start, end, now)
            run = PeriodicRun(kind=duty.kind, period_start=start, period_end=end, items=0, started_at=now,
                              state="baseline" if baseline else "running", finished_at=now if baseline else None)
            session.add(run)
            session.flush()
            return run
    except IntegrityError:
        with reading(rt.session_factory) as session:
            return session.scalar(select(PeriodicRun).where(PeriodicRun.kind == duty.kind,
                                                            PeriodicRun.period_start == start))


def latest_runs(session: Session) -> list[PeriodicRun]:
    """The newest run of each duty, for the monitoring page."""
    rows = session.scalars(select(PeriodicRun).order_by(PeriodicRun.kind, PeriodicRun.period_start.desc()))
    newest: dict[str, PeriodicRun] = {}
    for row in rows:
        newest.setdefault(row.kind, row)
    return list(newest.values())
