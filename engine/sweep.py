"""The sweep the background scheduler runs: fire due timers, resend due jobs and webhooks, send reminders.

Due instances fire in batches, one transaction per batch (GOVFLOW_TIMER_BATCH, 50): a commit
costs more than firing a timer, and a backlog (a holiday's worth of deadlines falling due at
once) must drain at well over a thousand timers a second. Each instance is re-read under its
lock with the due condition repeated (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so parallel
sweeps split the work; on SQLite BEGIN IMMEDIATE serializes writers and the repeated condition
is the guard), and `save` re-checks the optimistic version: a timer fires once however many
sweeps race. If anything in a batch fails, the whole batch rolls back and its instances fire one
by one, each in its own transaction: an instance that fails alone opens an incident and is left
alone until an administrator retries it; it never stops the rest.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from db.models import ProcessInstance
from db.prepared import Prepared
from db.session import checkpoint, reading, transaction

from . import audit, instances
from .exceptions import ConflictError, GovFlowError

log = logging.getLogger(__name__)

BATCH = int(os.environ.get("GOVFLOW_TIMER_BATCH", "50"))  # instances fired per transaction


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


def _fire(rt, session, instance_id: int) -> bool:
    """Fire the due timers of one instance inside the caller's transaction; False if not due (any more)."""
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


def fire_instance(rt, instance_id: int) -> bool:
    """Fire the due timers of one instance in one transaction; False if there was nothing to do."""
    with transaction(rt.session_factory) as session:
        return _fire(rt, session, instance_id)


def fire_batch(rt, instance_ids: list[int]) -> int:
    """Fire several instances in one transaction; raises (and keeps nothing) if one of them fails."""
    with transaction(rt.session_factory) as session:
        return sum(_fire(rt, session, instance_id) for instance_id in instance_ids)


def _record_broken(rt, instance_id: int, err: Exception) -> None:
    from .jobs import open_incident

    message = err.message if isinstance(err, GovFlowError) else f"触发定时器时出现错误：{err}"
    with transaction(rt.session_factory) as session:
        row = session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update())
        if row is not None and not row.has_incident:
            open_incident(rt, session, row, kind="timer", error=message)


def fire_due_timers(rt, limit: int = 500, batch: int | None = None) -> int:
    """Fire every due timer (up to `limit` instances); returns how many instances advanced."""
    batch = max(1, batch or BATCH)
    due = due_instances(rt, limit)
    fired = 0
    for start in range(0, len(due), batch):
        chunk = due[start:start + batch]
        if len(chunk) > 1:
            try:
                fired += fire_batch(rt, chunk)
                continue
            except Exception:  # nothing of the batch was kept: fire its instances one by one below
                log.info("timer batch of %s instances failed; firing them one by one", len(chunk))
        fired += _fire_each(rt, chunk)
    return fired


def _fire_each(rt, instance_ids: list[int]) -> int:
    fired = 0
    for instance_id in instance_ids:
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
    webhooks: int = 0


def sweep(rt, limit: int = 500) -> SweepResult:
    """One pass of everything time-driven; what beat runs every few seconds."""
    from .jobs import dispatch_due_jobs
    from .notifications import send_reminders
    from .rate_limit import forget_old_windows
    from .webhooks import dispatch_due_deliveries

    timers = 0
    while True:  # drain: a backlog of due timers is fired in one pass, batch by batch
        batch = fire_due_timers(rt, limit)
        timers += batch
        if batch < limit:
            break
    forget_old_windows(rt.session_factory, rt.clock.now())
    result = SweepResult(timers=timers, jobs=dispatch_due_jobs(rt), reminders=send_reminders(rt),
                         webhooks=dispatch_due_deliveries(rt))
    checkpoint(rt.session_factory.kw["bind"])  # SQLite: the log goes into the file here, not in a web request
    return result
