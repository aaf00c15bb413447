"""Firing due timers: the sweep the background scheduler runs.

Each due instance fires in its own transaction under the instance lock, and `save` re-checks
the optimistic version, so two sweeps racing fire a timer once: the loser sees a conflict
or finds nothing due after the lock. One broken instance is logged and never stops the rest.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from db.models import ProcessInstance
from db.session import reading, transaction

from . import audit, instances
from .exceptions import ConflictError

log = logging.getLogger(__name__)


def due_instances(rt, limit: int = 100) -> list[int]:
    now = rt.clock.now()
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.status == "running", ProcessInstance.next_timer_at <= now)
            .order_by(ProcessInstance.next_timer_at).limit(limit)))


def fire_due_timers(rt, limit: int = 100) -> int:
    """Fire every due timer; returns how many instances advanced."""
    fired = 0
    for instance_id in due_instances(rt, limit):
        try:
            with transaction(rt.session_factory) as session:
                loaded = instances.load(rt, session, instance_id)
                due = loaded.row.next_timer_at
                if loaded.row.status != "running" or due is None or due > rt.clock.now():
                    continue  # another sweep got here first
                loaded.workflow.refresh_timers()
                loaded.workflow.do_engine_steps()
                audit.record(session, now=rt.clock.now(), action="timer", instance_id=instance_id,
                             org_unit_id=loaded.row.org_unit_id, data={"due": due.isoformat()})
                instances.save(rt, session, loaded)
                fired += 1
        except ConflictError:
            continue
        except Exception:  # recorded and skipped: one broken instance must not stop the sweep
            log.exception("timer sweep failed for instance %s", instance_id)
    return fired
