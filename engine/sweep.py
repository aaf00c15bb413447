"""The sweep the background scheduler runs: fire due timers, resend due jobs, send reminders.

Each due instance fires in its own transaction. The instance is re-read under its lock with
the due condition repeated (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so parallel sweeps split
the work; on SQLite BEGIN IMMEDIATE serializes writers and the repeated condition is the
guard), and `save` re-checks the optimistic version: a timer fires once however many sweeps
race. An instance that fails to fire opens an incident and is left alone until an
administrator retries it; it never stops the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from db.models import ProcessInstance
from db.prepared import Prepared
from db.session import reading, transaction

from . import audit, instances
from .exceptions import ConflictError, GovFlowError

log = logging.getLogger(__name__)


def _due(now):
    # A suspended instance fires nothing; its due timers fire at the first sweep after it resumes.
    return (ProcessInstance.status == "running", ProcessInstance.has_incident.is_(False),
            ProcessInstance.suspended.is_(False), ProcessInstance.next_timer_at <= now)


def due_instances(rt, limit: int = 500) -> list[int]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(ProcessInstance.id).where(*_due(rt.clock.now()))
                                    .order_by(ProcessInstance.next_timer_at).limit(limit)))


_LOCK_DUE = Prepared(select(*instances.INSTANCE_COLUMNS)
                     .where(ProcessInstance.id == bindparam("instance_id"), *_due(bindparam("now")))
                     .with_for_update(skip_locked=True))


def fire_instance(rt, instance_id: int) -> bool:
    """Fire the due timers of one instance in one transaction; False if there was nothing to do."""
    with transaction(rt.session_factory) as session:
        now = rt.clock.now()
        found = _LOCK_DUE.first(session, {"instance_id": instance_id, "now": now})
        if found is None:
            return False  # fired by another sweep, locked by one right now, or no longer due
        row = instances.instance_row(found)
        loaded = instances.rebuild(rt, session, row)
        due = row.next_timer_at
        loaded.workflow.refresh_timers()
        loaded.workflow.do_engine_steps()
        audit.record(session, now=now, action="timer", instance_id=instance_id, org_unit_id=row.org_unit_id,
                     data={"due": due.isoformat()})
        instances.save(rt, session, loaded)
        return True


def _record_broken(rt, instance_id: int, err: Exception) -> None:
    from .jobs import open_incident

    message = err.message if isinstance(err, GovFlowError) else f"触发定时器时出现错误：{err}"
    with transaction(rt.session_factory) as session:
        row = session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update())
        if row is not None and not row.has_incident:
            open_incident(rt, session, row, kind="timer", error=message)


def fire_due_timers(rt, limit: int = 500) -> int:
    """Fire every due timer (up to `limit` instances); returns how many instances advanced."""
    fired = 0
    for instance_id in due_instances(rt, limit):
        try:
            fired += fire_instance(rt, instance_id)
        except ConflictError:
            continue
        except Exception as err:  # recorded and skipped: one broken instance must not stop the sweep
            log.exception("timer sweep failed for instance %s", instance_id)
            _record_broken(rt, instance_id, err)
    return fired


@dataclass(frozen=True)
class SweepResult:
    timers: int
    jobs: int
    reminders: int


def sweep(rt, limit: int = 500) -> SweepResult:
    """One pass of everything time-driven; what beat runs every few seconds."""
    from .jobs import dispatch_due_jobs
    from .notifications import send_reminders

    timers = 0
    while True:  # drain: a backlog of due timers is fired in one pass, batch by batch
        batch = fire_due_timers(rt, limit)
        timers += batch
        if batch < limit:
            break
    return SweepResult(timers=timers, jobs=dispatch_due_jobs(rt), reminders=send_reminders(rt))
