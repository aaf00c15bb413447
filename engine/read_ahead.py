"""Rows a batch read for many instances in one statement, handed to the code that reads them per instance.

The sweep fires fifty instances per transaction (engine/timer_batch.py); the save of each reads
its settled tasks, open inbox rows and open deadlines, one small statement each. The batch reads
each kind for all its instances at once and leaves the rows here, in the session; the per-instance
reader takes its own rows (once) and reads from the database only when none were left for it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

_KEY = "govflow.read_ahead"

SETTLED = "settled"  # {task id: JSON} per instance (instances.stored_workflow)
OPEN_TASKS = "open_tasks"  # [(task row id, spiff task id, due_at, created_at)] (instances.sync_human_tasks)
OPEN_DEADLINES = "open_deadlines"  # [(deadline id, spiff task id, due_at)] (deadlines.sync)
SCOPES = "scopes"  # {(role, unit id): the unit whose holders get the task} (instances._new_human_task)


def leave(session: Session, kind: str, rows_by_instance: dict) -> None:
    """Leave `rows_by_instance` ({instance id: its rows}) for the per-instance readers of `kind`."""
    session.info.setdefault(_KEY, {})[kind] = rows_by_instance


def take(session: Session, kind: str, instance_id: int):
    """The rows of `kind` left for `instance_id` (removed: they are read once), or None."""
    left = session.info.get(_KEY)
    if not left or kind not in left:
        return None
    return left[kind].pop(instance_id, None)


def memo(session: Session, kind: str) -> dict | None:
    """A dict kept for the batch's transaction to remember answers in (None outside a batch)."""
    left = session.info.get(_KEY)
    return left.get(kind) if left else None
