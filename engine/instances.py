"""Loading and saving one instance inside a command's transaction.

`load` takes the instance's lock (FOR UPDATE on PostgreSQL; on SQLite the command's
BEGIN IMMEDIATE already holds the database write lock) and rebuilds the workflow;
`save` writes state, bumps the optimistic `version` and brings the inbox rows in line with
the workflow's READY user tasks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import datetime

from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState
from sqlalchemy import bindparam, delete, insert, null, select, update
from sqlalchemy.orm import Session

from db.models import HumanTask, ProcessInstance, ServiceJob, User, WorkflowTask
from db.prepared import Prepared
from db.session import after_commit
from handlers.registry import HandlerContext

from . import audit, deadlines, jobs, read_ahead, serialization, webhooks
from .assignment import resolve_scope
from .calendar import calendar_for
from .deadlines import DeadlineRecorder
from .exceptions import ConflictError, HandlerFailed, NotFound
from .expressions import SafeScriptEngine
from .multi_instance import lane_functions
from .notifications import reminder_instant
from .serialization import StateChanges, dump_changes, load_workflow
from .specs import CompiledDefinition
from .task_columns import fill_task_columns
from .timers import next_due, waiting_timers


@dataclass(frozen=True)
class InstanceRow:
    """The columns of a locked `process_instance` row, read with Core (no ORM object).

    Frozen: a command changes an instance only through `save` (state, version, status, timers
    in one guarded UPDATE); assigning to a field raises instead of being silently lost.
    """

    id: int
    definition_id: int
    status: str
    state: str
    version: int
    business_key: str
    title: str
    org_unit_id: int
    started_by_id: int
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    next_timer_at: datetime | None
    has_incident: bool
    suspended: bool
    external_key: str | None = None


@dataclass(frozen=True)
class TaskRow:
    """The columns of a locked `human_task` row; changed only by Core UPDATEs (see `finish_task`)."""

    id: int
    instance_id: int
    spiff_task_id: str
    bpmn_id: str
    name: str
    role: str
    org_unit_id: int
    assignee_id: int | None
    state: str
    form_key: str | None
    created_at: datetime
    completed_at: datetime | None
    completed_by_id: int | None
    outcome: str | None
    due_at: datetime | None


INSTANCE_COLUMNS = [getattr(ProcessInstance, f.name) for f in fields(InstanceRow)]
_TASK_COLUMNS = [getattr(HumanTask, f.name) for f in fields(TaskRow)]
# Built once and run on the driver's cursor (db/prepared.py): every command runs these.
_LOCK_INSTANCE = Prepared(select(*INSTANCE_COLUMNS).where(ProcessInstance.id == bindparam("instance_id"))
                          .with_for_update())
_LOCK_TASK = Prepared(select(*INSTANCE_COLUMNS, *_TASK_COLUMNS)
                      .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
                      .where(HumanTask.id == bindparam("task_id")).with_for_update())
_LOCK_JOB = Prepared(select(*INSTANCE_COLUMNS, ServiceJob.state, ServiceJob.spiff_task_id)
                     .join(ServiceJob, ServiceJob.instance_id == ProcessInstance.id)
                     .where(ServiceJob.id == bindparam("job_id")).with_for_update())
# Every column a save may write, always bound, so this one statement serves every command.
SAVED_COLUMNS = ("state", "version", "status", "next_timer_at", "ended_at", "end_reason", "definition_id")
_SAVE = Prepared(update(ProcessInstance)
                 .where(ProcessInstance.id == bindparam("instance_id"),
                        ProcessInstance.version == bindparam("loaded_version"))
                 .values({**{name: bindparam(f"new_{name}") for name in SAVED_COLUMNS},
                          "timer_lease_until": null()}))  # a save ends a sweep's claim (engine/timer_batch.py)
_OPEN_TASKS = Prepared(select(HumanTask.id, HumanTask.spiff_task_id, HumanTask.due_at, HumanTask.created_at).where(
    HumanTask.instance_id == bindparam("instance_id"), HumanTask.state == "ready"))
_SETTLED_TASKS = Prepared(select(WorkflowTask.task_id, WorkflowTask.data)
                          .where(WorkflowTask.instance_id == bindparam("instance_id")))
_DROP_SETTLED = Prepared(delete(WorkflowTask).where(WorkflowTask.instance_id == bindparam("instance_id"),
                                                    WorkflowTask.task_id == bindparam("task_id")))
_ADD_SETTLED = Prepared(insert(WorkflowTask).inline(), columns=["instance_id", "task_id", "data"])
_CANCEL_TASK = Prepared(update(HumanTask).where(HumanTask.id == bindparam("task_id"))
                        .values(state="cancelled", completed_at=bindparam("now")))
_CHANGE_DUE = update(HumanTask).where(HumanTask.id == bindparam("task_id")).values(
    due_at=bindparam("due"), remind_at=bindparam("remind"))
NEW_TASK_COLUMNS = ("instance_id", "spiff_task_id", "bpmn_id", "name", "role", "org_unit_id", "assignee_id",
                    "state", "form_key", "created_at", "due_at", "remind_at",
                    # copied from the instance for the inbox's filters (engine/task_columns.py)
                    "process_key", "title", "business_key", "request_unit_id", "asset_id")
_INSERT_TASKS = Prepared(insert(HumanTask).inline(), columns=NEW_TASK_COLUMNS)
_FINISH_TASK = Prepared(update(HumanTask).where(HumanTask.id == bindparam("task_id"))
                        .values(state="completed", completed_at=bindparam("now"), completed_by_id=bindparam("user_id"),
                                outcome=bindparam("outcome"), assignee_id=bindparam("assignee_id")))


@dataclass
class Loaded:
    row: InstanceRow
    definition: CompiledDefinition
    workflow: BpmnWorkflow
    version: int


def instance_row(values) -> InstanceRow:
    return InstanceRow(*values[:len(INSTANCE_COLUMNS)])


def script_engine(rt, session: Session, row: InstanceRow) -> SafeScriptEngine:
    """The allow-listed engine for one command; service tasks run the registered handlers."""

    def call_service(operation_name, operation_params, _task_data):
        func = rt.handlers.get(operation_name)
        if func is None:
            raise HandlerFailed(f"服务任务处理程序“{operation_name}”未注册。",
                                f"Service-task handler \"{operation_name}\" is not registered.")
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        ctx = HandlerContext(session=session, now=rt.clock.now(), instance_id=row.id,
                             business_key=row.business_key)
        try:
            result = func(params, ctx)
        except Exception as err:  # a handler's failure fails the whole command, with its words
            raise HandlerFailed(f"服务任务“{operation_name}”执行失败：{err}",
                                f"Service task \"{operation_name}\" failed: {err}") from err
        # The step's outcome goes into the trail with the command that ran it (reports read it there).
        audit.record(session, now=ctx.now, action="service_task", instance_id=row.id, org_unit_id=row.org_unit_id,
                     data={"handler": operation_name, "params": params, "result": result})
        return json.dumps(result, ensure_ascii=False)

    # `now` (alias `start`) is the command's clock time: a timer reads add_working_days(start, 5).
    recorder = DeadlineRecorder(lambda: calendar_for(session, rt.roll_calendar_days))
    instant = rt.clock.now().isoformat()
    functions = {**recorder.functions(), "now": instant, "start": instant, "policy": dict(rt.policy.values),
                 **lane_functions(session, row)}  # 会签/或签 cardinality (engine/multi_instance.py)
    return SafeScriptEngine(functions=functions, service_caller=call_service, recorder=recorder)


def new_workflow(rt, session: Session, definition: CompiledDefinition, row: InstanceRow) -> BpmnWorkflow:
    return BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=script_engine(rt, session, row))


def lock(session: Session, instance_id: int) -> InstanceRow:
    """Lock instance `instance_id` and read it as last committed; NotFound if there is none."""
    found = _LOCK_INSTANCE.first(session, {"instance_id": instance_id})
    if found is None:
        raise NotFound(f"流程实例 {instance_id} 不存在。", f"Process instance {instance_id} does not exist.")
    return instance_row(found)


def load(rt, session: Session, instance_id: int) -> Loaded:
    """Lock and rebuild instance `instance_id`."""
    return rebuild(rt, session, lock(session, instance_id))


def lock_task(session: Session, task_id: int) -> tuple[InstanceRow, TaskRow]:
    """Lock a task's instance and the task in one statement, reading both as last committed.

    On PostgreSQL a second caller waits here until the first commits, then sees its result;
    on SQLite the command's BEGIN IMMEDIATE has already queued it behind the first.
    """
    found = _LOCK_TASK.first(session, {"task_id": task_id})
    if found is None:
        raise NotFound(f"任务 {task_id} 不存在。", f"Task {task_id} does not exist.")
    return instance_row(found), TaskRow(*found[len(INSTANCE_COLUMNS):])


def lock_job(session: Session, job_id: int) -> tuple[InstanceRow, str, str] | None:
    """Lock a service job's instance (and the job): (instance, job state, its SpiffWorkflow task id)."""
    found = _LOCK_JOB.first(session, {"job_id": job_id})
    return None if found is None else (instance_row(found), found[-2], found[-1])


def finish_task(session: Session, task: TaskRow, *, now: datetime, user_id: int, outcome: str) -> None:
    """Mark an inbox row completed by `user_id` (its assignee, if it had none) with `outcome`."""
    _FINISH_TASK.execute(session, {"task_id": task.id, "now": now, "user_id": user_id,
                                   "outcome": outcome, "assignee_id": task.assignee_id or user_id})


def rebuild(rt, session: Session, row: InstanceRow) -> Loaded:
    """The workflow of a locked instance row, ready to run (from memory when this process saved it last)."""
    definition = rt.definitions.get(session, row.definition_id)
    workflow = rt.workflows.take(row.id, row.version)
    if workflow is None:
        workflow = stored_workflow(session, row, definition)
    elif serialization.VERIFY:
        serialization.verify_same(workflow, stored_workflow(session, row, definition))
    # The script engine is not serialized: it must be set again after every load.
    workflow.script_engine = script_engine(rt, session, row)
    return Loaded(row=row, definition=definition, workflow=workflow, version=row.version)


def stored_workflow(session: Session, row, definition: CompiledDefinition) -> BpmnWorkflow:
    """The workflow as last committed: the instance's state and its settled-task rows (no script engine)."""
    settled = read_ahead.take(session, read_ahead.SETTLED, row.id)
    if settled is None:
        settled = dict(_SETTLED_TASKS.all(session, {"instance_id": row.id}))
    return load_workflow(row.state, definition.spec, definition.subprocess_specs, settled)


def save(rt, session: Session, loaded: Loaded, **changes) -> None:
    """Write the workflow back under the optimistic lock, then sync the inbox rows.

    `changes` are further columns of the instance to write with it (status, ended_at, end_reason
    when a command ends the instance itself; definition_id when it moves to another version);
    `loaded.row` becomes the row as saved.
    """
    write(rt, session, loaded, encode(rt, loaded, **changes))


@dataclass(frozen=True)
class Encoded:
    """What a save writes, worked out from the workflow alone (no database): see `encode`."""

    state: StateChanges
    values: dict  # the instance's columns to write
    now: datetime
    ending: bool  # the workflow completed in this save
    ended: bool  # the instance stops running with this save (completed or cancelled)
    had_timers: bool


def encode(rt, loaded: Loaded, **changes) -> Encoded:
    """The state and columns a save of `loaded` writes (`save` = encode, then `write`). Encoding
    touches no table, so the sweep does it for a batch before it takes the write lock."""
    unknown = set(changes) - {"status", "ended_at", "end_reason", "definition_id"}
    if unknown:
        raise ValueError(f"save() cannot change {sorted(unknown)}")
    row, workflow = loaded.row, loaded.workflow
    now = rt.clock.now()
    status = changes.get("status", row.status)
    # A cancelled workflow also reports itself completed: only a running instance can complete.
    if status == "running" and workflow.is_completed():
        status = "completed"
    stored = dump_changes(workflow)
    values = {**changes, "state": stored.state, "version": loaded.version + 1, "status": status,
              "next_timer_at": next_due(waiting_timers(workflow))}
    ending = status == "completed" and row.ended_at is None
    if ending:
        values["ended_at"] = now
    return Encoded(stored, values, now, ending, ended=row.status == "running" and status != "running",
                   had_timers=row.next_timer_at is not None)


def write(rt, session: Session, loaded: Loaded, encoded: Encoded) -> None:
    """Write an encoded save under the optimistic lock (ConflictError, nothing written, if the
    instance moved on since `loaded`), then sync inbox, deadline and job rows and the trail."""
    row, workflow, stored, now, ending = loaded.row, loaded.workflow, encoded.state, encoded.now, encoded.ending
    session.flush()  # whatever the command changed through the ORM goes first
    saved = replace(row, **encoded.values)
    written = _SAVE.execute(session, {
        "instance_id": row.id, "loaded_version": loaded.version,
        **{f"new_{name}": getattr(saved, name) for name in SAVED_COLUMNS}})
    if written != 1:
        raise ConflictError("此事项刚刚被其他人办理，您的操作未保存，请刷新后重试。",
                            "Someone else changed this item just now; nothing was saved. Reload and try again.")
    # Under the version check just passed: the settled tasks that moved go, the newly settled come.
    _DROP_SETTLED.execute_many(session, [{"instance_id": row.id, "task_id": task_id}
                                         for task_id in stored.settled_gone])
    _ADD_SETTLED.execute_many(session, [{"instance_id": row.id, "task_id": task_id, "data": text}
                                        for task_id, text in stored.settled_new])
    loaded.row = row = saved
    loaded.version = row.version
    _keep_after_commit(rt, session, row.id, row.version, workflow)
    recorder = getattr(workflow.script_engine, "recorder", None)
    due_by_task = deadlines.sync(session, row.id, workflow, recorder, now, encoded.had_timers)
    sync_human_tasks(rt, session, row, loaded.definition.task_info, workflow, due_by_task,
                     calendar=(lambda: recorder.calendar) if recorder else None, new=loaded.version == 1)
    jobs.queue_service_tasks(rt, session, row, workflow)
    end_event = workflow.last_task.task_spec if ending and workflow.last_task else None
    if ending:
        audit.record(session, now=now, action="end", instance_id=row.id, org_unit_id=row.org_unit_id,
                     data={"end_event": end_event.bpmn_name if end_event else None})
    if encoded.ended:  # the one place an instance ends: webhooks of its process are told (engine/webhooks.py)
        webhooks.instance_ended(rt, session, row, loaded.definition, end_event.bpmn_id if end_event else None)


SAVED_WORKFLOWS = "govflow.saved_workflows"


def _keep_after_commit(rt, session: Session, instance_id: int, version: int, workflow: BpmnWorkflow) -> None:
    """Hand the saved workflow to the cache once the transaction commits (the last save of an
    instance in a transaction wins); nothing is cached for a transaction that rolls back."""
    saved = session.info.get(SAVED_WORKFLOWS)
    if saved is None:
        saved = session.info[SAVED_WORKFLOWS] = {}
        after_commit(session, lambda: [rt.workflows.put(i, v, w) for i, (v, w) in saved.items()])
    saved[instance_id] = (version, workflow)


def sync_human_tasks(rt, session: Session, row: InstanceRow, info: dict, workflow: BpmnWorkflow,
                     due_by_task: dict[str, datetime] | None = None, calendar=None, new: bool = False) -> None:
    """One `human_task` row per READY user task; rows whose task is gone are cancelled.

    `due_by_task` carries each task's boundary-timer deadline (a calendar correction moves it);
    `calendar()` gives the calendar that places the reminder one working day before it.
    Core statements, not the unit of work: this runs in every command, and one statement
    for all changed rows of a kind is what keeps a command cheap.
    """
    due_by_task = due_by_task or {}
    now = rt.clock.now()
    ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
             if not isinstance(t.task_spec, ServiceTask)}

    def reminder(due: datetime, opened: datetime):
        source = calendar() if calendar else calendar_for(session, rt.roll_calendar_days)
        return reminder_instant(source, due, opened)

    if new:
        open_rows = {}
    else:
        found = read_ahead.take(session, read_ahead.OPEN_TASKS, row.id)
        if found is None:
            found = _OPEN_TASKS.all(session, {"instance_id": row.id})
        open_rows = {spiff_id: (task_id, due_at, created_at) for task_id, spiff_id, due_at, created_at in found}
    gone = [task_id for spiff_id, (task_id, _, _) in open_rows.items() if spiff_id not in ready]
    if gone:
        _CANCEL_TASK.execute_many(session, [{"task_id": task_id, "now": now} for task_id in gone])
    new_rows = []
    for spiff_id, task in ready.items():
        due = due_by_task.get(spiff_id)
        if spiff_id in open_rows:
            task_id, due_at, created_at = open_rows[spiff_id]
            if due is not None and due_at != due:
                session.connection().execute(_CHANGE_DUE, {"task_id": task_id, "due": due,
                                                           "remind": reminder(due, created_at)})
            continue
        values = _new_human_task(session, row, spiff_id, task.task_spec.bpmn_id, info[task.task_spec.bpmn_id], now)
        values["due_at"] = due
        values["remind_at"] = reminder(due, now) if due is not None else None
        new_rows.append(values)
    if new_rows:
        fill_task_columns(rt, session, row, info, ready, new_rows)  # inbox listing columns, 会签 members
        _INSERT_TASKS.execute_many(session, new_rows)


def _holder_scope(session, role: str, unit_id: int) -> int | None:
    """resolve_scope, remembered for the rest of a batch's transaction (engine/read_ahead.py)."""
    scopes = read_ahead.memo(session, read_ahead.SCOPES)
    if scopes is None:
        return resolve_scope(session, role, unit_id)
    if (role, unit_id) not in scopes:
        scopes[role, unit_id] = resolve_scope(session, role, unit_id)
    return scopes[role, unit_id]


def _new_human_task(session, row, spiff_id, bpmn_id, task_info, now) -> dict:
    role = task_info["role"]
    if task_info.get("assignee") == "starter":
        # REV-4: a returned item goes back to the person who submitted it.
        scope, assignee = row.org_unit_id, row.started_by_id
    else:
        scope, assignee = _holder_scope(session, role, row.org_unit_id), None
        if scope is None:
            # Nobody holds the role at or above the unit: keep the task visible to an
            # administrator (scoped to the requesting unit) and say so in the trail.
            scope = row.org_unit_id
            audit.record(session, now=now, action="unassigned", instance_id=row.id, role=role,
                         data={"task": bpmn_id}, org_unit_id=row.org_unit_id)
    return {"instance_id": row.id, "spiff_task_id": spiff_id, "bpmn_id": bpmn_id, "name": task_info["name"],
            "role": role, "org_unit_id": scope, "assignee_id": assignee, "state": "ready",
            "form_key": task_info.get("form"), "created_at": now}


def completion_details(session: Session, task) -> dict:
    """Who finished the task and when, for machines (the API's 409)."""
    who = session.get(User, task.completed_by_id) if task.completed_by_id else None
    return {"task_id": task.id, "task_state": task.state,
            "completed_by": {"id": who.id, "username": who.username, "real_name": who.real_name} if who else None,
            "completed_at": task.completed_at.isoformat() if task.completed_at else None}


def describe_completion(session: Session, task) -> str:
    """"此任务已由张三于 2026-03-02 10:02 办理" for a conflict message."""
    from .clock import to_shanghai

    who = session.get(User, task.completed_by_id) if task.completed_by_id else None
    when = to_shanghai(task.completed_at).strftime("%Y-%m-%d %H:%M") if task.completed_at else ""
    if task.state == "completed" and who:
        return f"此任务已由{who.real_name}于 {when} 办理"
    return "此任务已不在待办状态（流程已变更或已撤销）"
