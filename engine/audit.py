"""Writing audit events. Events are only ever added, in the transaction of the command.

A command's events are staged and written by one INSERT just before its transaction commits
(the commit that makes the command's other changes permanent, so both or neither happen).
Staging keeps a command to one audit statement however many events it records.

Each event is chained to the one before it (db/audit_hash.py): `write_staged` reads the last
event's id and hash, numbers the staged events after it and hashes each onto its predecessor.
For that to be one chain, appends must not interleave: on SQLite the command's BEGIN IMMEDIATE
already holds the database's write lock; on PostgreSQL `write_staged` takes a transaction-scoped
advisory lock first, so a second writer waits here until the first commits and then reads its
last event (READ COMMITTED: each statement sees what committed before it). Ids are assigned
under that lock, so id order is chain order. The lock is taken at the very end of the
transaction and held only until its commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from db.audit_hash import GENESIS, event_hash, normalise_data
from db.models import AuditEvent, HumanTask, User
from db.prepared import Prepared
from db.session import before_commit

STAGED = "govflow.audit_staged"
EVENT_COLUMNS = ("id", "occurred_at", "actor_id", "actor_name", "role", "org_unit_id", "action", "instance_id",
                 "task_id", "task_name", "opinion", "data", "client_addr", "on_behalf_of_id", "prev_hash", "hash")
_INSERT_EVENTS = Prepared(insert(AuditEvent).inline(), columns=EVENT_COLUMNS)
# pg_advisory_xact_lock key of the chain's tail ('GOVAUDIT' as 8 bytes).
CHAIN_LOCK_KEY = int.from_bytes(b"GOVAUDIT", "big") & 0x7FFF_FFFF_FFFF_FFFF
_LOCK = Prepared(select(func.pg_advisory_xact_lock(bindparam("key"))))
_TAIL = Prepared(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))


def record(session: Session, *, now: datetime, action: str, actor: User | None = None,
           role: str | None = None, instance_id: int | None = None, task: HumanTask | None = None,
           opinion: str | None = None, data: dict | None = None, client_addr: str | None = None,
           org_unit_id: int | None = None) -> dict:
    """Stage one audit event; the caller's transaction writes it with everything else.

    With a task, the event also records the task's step (BPMN id) and, when it has one, its
    deadline, so reports can tell on-time from late work from the events alone.
    """
    if task is not None:
        data = {**(data or {}), "step": task.bpmn_id}
        if task.due_at is not None:
            data["due_at"] = task.due_at.isoformat()
    event = {
        "occurred_at": now, "actor_id": actor.id if actor else None,
        "actor_name": actor.real_name if actor else "系统", "role": role,
        "org_unit_id": org_unit_id if org_unit_id is not None else (actor.org_unit_id if actor else None),
        "action": action, "instance_id": instance_id, "task_id": task.id if task else None,
        "task_name": task.name if task else None, "opinion": opinion or None, "data": data,
        "client_addr": client_addr, "on_behalf_of_id": None,  # a stand-in's command fills it (engine/stand_ins.py)
    }
    staged = session.info.get(STAGED)
    if staged is None:
        staged = session.info[STAGED] = []
        before_commit(session, lambda: write_staged(session))
    staged.append(event)
    return event


def write_staged(session: Session) -> None:
    """Write the staged events, in the order they were recorded, chained onto the last event."""
    staged = session.info.pop(STAGED, [])
    if staged:
        session.flush()  # rows the events point at (a new task, an instance) exist first
        if session.get_bind().dialect.name == "postgresql":
            _LOCK.all(session, {"key": CHAIN_LOCK_KEY})  # released by this transaction's commit
        tail = _TAIL.first(session)
        last_id, prev = (tail[0], tail[1]) if tail else (0, GENESIS)
        for offset, event in enumerate(staged, start=1):
            event["id"] = last_id + offset
            event["data"] = normalise_data(event["data"])
            event["prev_hash"] = prev
            event["hash"] = prev = event_hash(event, prev)
        _INSERT_EVENTS.execute_many(session, staged)


def instance_events(session: Session, instance_id: int) -> list[AuditEvent]:
    """An instance's events in the order they happened."""
    return list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                .order_by(AuditEvent.id)))
