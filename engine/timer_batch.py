"""Firing a batch of due timers in three steps, so that the write lock is held only for writing.

SQLite has one writer at a time. Firing a timer is mostly SpiffWorkflow work (rebuild the workflow,
run the timer's path, encode the state); done under BEGIN IMMEDIATE, a second worker process
waited through all of it and two workers fired no faster than one. So, as a job executor acquires
its jobs first (Camunda's lock owner and expiry), a sweep:

1. takes: one short write transaction leases up to `batch` due instances (`timer_lease_until`),
   which other sweeps then pass over — on PostgreSQL with FOR UPDATE SKIP LOCKED as well;
2. computes: reads their rows and settled tasks in one snapshot and fires each workflow in memory,
   outside any write transaction (two worker processes do this in parallel);
3. writes: one write transaction locks the batch's instances in one statement, keeps those still
   due and at the version it computed from, and writes each as any command saves; an instance
   that moved on meanwhile (a reviewer completed the task, another sweep fired it after a lease
   ran out) is left out.

Exactly once rests on step 3's version check, not on the lease: a lease only keeps sweeps from
doing the same work twice. A save clears the lease; a sweep that dies leaves it to run out (LEASE).
An instance whose computing fails, or whose deadlines were computed with a calendar an
administrator has changed since, is fired alone afterwards (engine.sweep), where a failure opens an
incident; so is every instance of a batch whose writing fails (nothing of it is kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, or_, select, update

from db.models import Deadline, HumanTask, ProcessInstance, WorkflowTask
from db.prepared import Prepared
from db.session import reading, transaction

from . import audit, instances, read_ahead
from .calendar import calendar_for

LEASE = timedelta(seconds=60)  # far beyond a batch's few hundred milliseconds


def due_condition(now):
    # A suspended instance fires nothing; its due timers fire at the first sweep after it resumes.
    return (ProcessInstance.status == "running", ProcessInstance.has_incident.is_(False),
            ProcessInstance.suspended.is_(False), ProcessInstance.next_timer_at <= now)


_UNLEASED = or_(ProcessInstance.timer_lease_until.is_(None), ProcessInstance.timer_lease_until <= bindparam("now"))
_TAKE = Prepared(
    update(ProcessInstance)
    .where(ProcessInstance.id.in_(
        select(ProcessInstance.id).where(*due_condition(bindparam("now")), _UNLEASED)
        .order_by(ProcessInstance.next_timer_at).limit(bindparam("batch"))
        .with_for_update(skip_locked=True).scalar_subquery()))
    .values(timer_lease_until=bindparam("until"))
    .returning(ProcessInstance.id))
_RELEASE = Prepared(update(ProcessInstance).where(ProcessInstance.id == bindparam("instance_id"))
                    .values(timer_lease_until=None))


@dataclass
class Batch:
    """One batch's outcome: how many fired, and the instances to fire one by one."""

    fired: int = 0
    alone: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Fired:
    loaded: instances.Loaded
    encoded: instances.Encoded
    due: datetime


def take(rt, batch: int) -> list[int]:
    """Lease up to `batch` due instances no other sweep holds; their ids, earliest due first."""
    now = rt.clock.now()
    with transaction(rt.session_factory) as session:
        return [instance_id for (instance_id,) in _TAKE.all(session, {"now": now, "batch": batch,
                                                                     "until": now + LEASE})]


def fire_taken(rt, instance_ids: list[int]) -> Batch:
    """Compute then write the leased instances `instance_ids` (steps 2 and 3 above)."""
    result = Batch()
    _write(rt, _compute(rt, instance_ids, result), instance_ids, result)  # writes, or only ends the leases
    return result


def _compute(rt, instance_ids: list[int], result: Batch) -> list[_Fired]:
    now = rt.clock.now()
    computed = []
    with reading(rt.session_factory) as session:
        rows = session.execute(select(*instances.INSTANCE_COLUMNS).where(
            ProcessInstance.id.in_(instance_ids), *due_condition(now))).all()
        settled: dict[int, dict[str, str]] = {row.id: {} for row in rows}
        for instance_id, task_id, data in session.execute(
                select(WorkflowTask.instance_id, WorkflowTask.task_id, WorkflowTask.data)
                .where(WorkflowTask.instance_id.in_(list(settled)))):
            settled[instance_id][task_id] = data
        read_ahead.leave(session, read_ahead.SETTLED, settled)
        for values in rows:
            row = instances.instance_row(values)
            try:
                loaded = instances.rebuild(rt, session, row)
                loaded.workflow.refresh_timers()
                loaded.workflow.do_engine_steps()
                computed.append(_Fired(loaded, instances.encode(rt, loaded), row.next_timer_at))
            except Exception:  # fired alone below, where a failure is recorded as an incident
                result.alone.append(row.id)
    return computed


def _write(rt, computed: list[_Fired], instance_ids: list[int], result: Batch) -> None:
    written = set()
    with transaction(rt.session_factory) as session:
        # Locked and checked first, in one statement (in id order, so two sweeps lock alike): one that
        # moved on since it was read (fired elsewhere, completed, suspended …) is left out; then the
        # rows every save reads, for all the rest at once.
        versions = _lock_due(session, [item.loaded.row.id for item in computed], rt.clock.now())
        computed = [item for item in computed if versions.get(item.loaded.row.id) == item.loaded.version]
        if computed:
            _read_ahead(session, [item.loaded.row.id for item in computed])
        current_calendar = cache(lambda: calendar_for(session, rt.roll_calendar_days))  # one read per batch
        for item in computed:
            loaded = item.loaded
            row = loaded.row
            recorder = getattr(loaded.workflow.script_engine, "recorder", None)
            if recorder is not None and not recorder.read_calendar_from(current_calendar):
                result.alone.append(row.id)  # its deadlines used a calendar changed since
                continue
            audit.record(session, now=item.encoded.now, action="timer", instance_id=row.id,
                         org_unit_id=row.org_unit_id, data={"due": item.due.isoformat()})
            instances.write(rt, session, loaded, item.encoded)
            written.add(row.id)
        for instance_id in instance_ids:
            if instance_id not in written:
                _RELEASE.execute(session, {"instance_id": instance_id})
    result.fired += len(written)


def _lock_due(session, instance_ids: list[int], now: datetime) -> dict[int, int]:
    """{instance id: version} of those of `instance_ids` still due, locked (FOR UPDATE on PostgreSQL;
    on SQLite the transaction's BEGIN IMMEDIATE holds the whole database)."""
    if not instance_ids:
        return {}
    return dict(session.execute(
        select(ProcessInstance.id, ProcessInstance.version)
        .where(ProcessInstance.id.in_(instance_ids), *due_condition(now))
        .order_by(ProcessInstance.id).with_for_update()).all())


def _read_ahead(session, instance_ids: list[int]) -> None:
    """The open inbox and deadline rows of the instances to write, two statements for the batch."""
    tasks: dict[int, list] = {instance_id: [] for instance_id in instance_ids}
    for instance_id, *values in session.execute(
            select(HumanTask.instance_id, HumanTask.id, HumanTask.spiff_task_id, HumanTask.due_at, HumanTask.created_at)
            .where(HumanTask.instance_id.in_(instance_ids), HumanTask.state == "ready")):
        tasks[instance_id].append(tuple(values))
    deadlines: dict[int, list] = {instance_id: [] for instance_id in instance_ids}
    for instance_id, *values in session.execute(
            select(Deadline.instance_id, Deadline.id, Deadline.spiff_task_id, Deadline.due_at)
            .where(Deadline.instance_id.in_(instance_ids), Deadline.state == "open")):
        deadlines[instance_id].append(tuple(values))
    read_ahead.leave(session, read_ahead.OPEN_TASKS, tasks)
    read_ahead.leave(session, read_ahead.OPEN_DEADLINES, deadlines)
    read_ahead.leave(session, read_ahead.SCOPES, {})

