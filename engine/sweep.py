"""The sweep the background scheduler runs: fire due timers, resend due jobs and webhooks, send reminders.

Due timers fire in batches (GOVFLOW_TIMER_BATCH, 50 instances): a sweep leases a batch, fires the
workflows in memory and writes them in one transaction (engine/timer_batch.py), so a commit is
paid per batch and the write lock is held only while writing. Each instance is re-read under its
lock with the due condition and the version it was fired from repeated, and `save` checks the
version again: a timer fires once however many sweeps race. An instance that fails, or a batch
whose writing fails, is fired one by one here, each in its own transaction: an instance that fails
alone opens an incident and is left alone until an administrator retries it; it never stops the rest.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from db.models import ProcessInstance
from db.prepared import Prepared
from db.session import checkpoint, reading, transaction

from . import audit, instances, timer_batch
from .exceptions import ConflictError, GovFlowError
from .timer_batch import due_condition

log = logging.getLogger(__name__)

BATCH = int(os.environ.get("GOVFLOW_TIMER_BATCH", "50"))  # instances fired per transaction


def due_instances(rt, limit: int = 500) -> list[int]:
    """Instances with a timer due now, earliest first (whether or not a sweep holds them)."""
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(ProcessInstance.id).where(*due_condition(rt.clock.now()))
                                    .order_by(ProcessInstance.next_timer_at).limit(limit)))


_LOCK_DUE = Prepared(select(*instances.INSTANCE_COLUMNS)
                     .where(ProcessInstance.id == bindparam("instance_id"), *due_condition(bindparam("now")))
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
    """Fire the due timers of one instance in one transaction (leased or not); False if there was
    nothing to do."""
    with transaction(rt.session_factory) as session:
        return _fire(rt, session, instance_id)


def _record_broken(rt, instance_id: int, err: Exception) -> None:
    from .jobs import open_incident

    message = err.message if isinstance(err, GovFlowError) else f"触发定时器时出现错误：{err}"
    with transaction(rt.session_factory) as session:
        row = session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update())
        if row is not None and not row.has_incident:
            open_incident(rt, session, row, kind="timer", error=message)
        if row is not None:
            row.timer_lease_until = None  # a retry fires it at once, whatever sweep leased it


def fire_due_timers(rt, limit: int = 500, batch: int | None = None) -> int:
    """Fire every due timer no other sweep holds (up to `limit` instances); returns how many
    instances advanced."""
    batch = max(1, batch or BATCH)
    fired = taken = 0
    while taken < limit:
        instance_ids = timer_batch.take(rt, min(batch, limit - taken))
        if not instance_ids:
            break
        taken += len(instance_ids)
        try:
            outcome = timer_batch.fire_taken(rt, instance_ids)
        except Exception:  # nothing of the batch was kept: fire its instances one by one
            log.info("timer batch of %s instances failed; firing them one by one", len(instance_ids))
            fired += _fire_each(rt, instance_ids)
            continue
        fired += outcome.fired + _fire_each(rt, outcome.alone)
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
