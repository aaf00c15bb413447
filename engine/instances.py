"""Loading and saving one instance inside a command's transaction.

`load` takes the instance's lock (FOR UPDATE on PostgreSQL; on SQLite the command's
BEGIN IMMEDIATE already holds the database write lock) and rebuilds the workflow;
`save` writes state, bumps the optimistic `version` and brings the inbox rows in line with
the workflow's READY user tasks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from db.models import HumanTask, ProcessInstance, User
from handlers.registry import HandlerContext

from . import audit, deadlines, jobs
from .assignment import resolve_scope
from .calendar import calendar_for
from .deadlines import DeadlineRecorder
from .exceptions import ConflictError, HandlerFailed, NotFound
from .expressions import SafeScriptEngine
from .multi_instance import lane_functions
from .notifications import reminder_instant
from .serialization import dump_workflow, load_workflow
from .specs import CompiledDefinition
from .task_columns import fill_task_columns
from .timers import next_due, waiting_timers


@dataclass
class Loaded:
    row: ProcessInstance
    definition: CompiledDefinition
    workflow: BpmnWorkflow
    version: int


def script_engine(rt, session: Session, row: ProcessInstance) -> SafeScriptEngine:
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
        return json.dumps(result, ensure_ascii=False)

    # `now` (alias `start`) is the command's clock time: a timer reads add_working_days(start, 5).
    recorder = DeadlineRecorder(lambda: calendar_for(session, rt.roll_calendar_days))
    instant = rt.clock.now().isoformat()
    functions = {**recorder.functions(), "now": instant, "start": instant, "policy": dict(rt.policy.values),
                 **lane_functions(session, row)}  # 会签/或签 cardinality (engine/multi_instance.py)
    return SafeScriptEngine(functions=functions, service_caller=call_service, recorder=recorder)


def new_workflow(rt, session: Session, definition: CompiledDefinition, row: ProcessInstance) -> BpmnWorkflow:
    return BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=script_engine(rt, session, row))


def load(rt, session: Session, instance_id: int) -> Loaded:
    """Lock and rebuild instance `instance_id`."""
    row = session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id)
                         .with_for_update().execution_options(populate_existing=True))
    if row is None:
        raise NotFound(f"流程实例 {instance_id} 不存在。", f"Process instance {instance_id} does not exist.")
    return rebuild(rt, session, row)


def lock_task(session: Session, task_id: int) -> tuple[ProcessInstance, HumanTask]:
    """Lock a task's instance and the task in one statement, reading both as last committed.

    On PostgreSQL a second caller waits here until the first commits, then sees its result;
    on SQLite the command's BEGIN IMMEDIATE has already queued it behind the first.
    """
    found = session.execute(
        select(ProcessInstance, HumanTask).join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
        .where(HumanTask.id == task_id).with_for_update()
        .execution_options(populate_existing=True)).one_or_none()
    if found is None:
        raise NotFound(f"任务 {task_id} 不存在。", f"Task {task_id} does not exist.")
    return found[0], found[1]


def rebuild(rt, session: Session, row: ProcessInstance) -> Loaded:
    """The workflow of a locked instance row, ready to run."""
    definition = rt.definitions.get(session, row.definition_id)
    workflow = load_workflow(row.state, definition.spec, definition.subprocess_specs)
    # The script engine is not serialized: it must be set again after every load.
    workflow.script_engine = script_engine(rt, session, row)
    return Loaded(row=row, definition=definition, workflow=workflow, version=row.version)


def save(rt, session: Session, loaded: Loaded) -> None:
    """Write the workflow back under the optimistic lock, then sync the inbox rows."""
    row, workflow = loaded.row, loaded.workflow
    now = rt.clock.now()
    # A cancelled workflow also reports itself completed: only a running instance can complete.
    status = "completed" if row.status == "running" and workflow.is_completed() else row.status
    had_timers = row.next_timer_at is not None
    timers = waiting_timers(workflow)
    values = {"state": dump_workflow(workflow), "version": loaded.version + 1, "status": status,
              "next_timer_at": next_due(timers)}
    ending = status == "completed" and row.ended_at is None
    if ending:
        values["ended_at"] = now
    session.flush()  # whatever the command changed through the ORM goes first
    result = session.connection().execute(update(ProcessInstance)
                                          .where(ProcessInstance.id == row.id, ProcessInstance.version == loaded.version)
                                          .values(**values))
    if result.rowcount != 1:
        raise ConflictError("此事项刚刚被其他人办理，您的操作未保存，请刷新后重试。",
                            "Someone else changed this item just now; nothing was saved. Reload and try again.")
    # The guarded UPDATE above already wrote these: record them as committed, so the ORM does
    # not send the state a second time (without the version check) at flush.
    for key, value in values.items():
        set_committed_value(row, key, value)
    recorder = getattr(workflow.script_engine, "recorder", None)
    due_by_task = deadlines.sync(session, row.id, workflow, recorder, now, had_timers)
    sync_human_tasks(rt, session, row, loaded.definition.task_info, workflow, due_by_task,
                     calendar=(lambda: recorder.calendar) if recorder else None)
    jobs.queue_service_tasks(rt, session, row, workflow)
    if ending:
        audit.record(session, now=now, action="end", instance_id=row.id, org_unit_id=row.org_unit_id,
                     data={"end_event": workflow.last_task.task_spec.bpmn_name if workflow.last_task else None})


def sync_human_tasks(rt, session: Session, row: ProcessInstance, info: dict, workflow: BpmnWorkflow,
                     due_by_task: dict[str, datetime] | None = None, calendar=None) -> None:
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

    conn = session.connection()  # Core straight to the connection: no ORM layer on the hot path
    open_rows = {spiff_id: (task_id, due_at, created_at) for task_id, spiff_id, due_at, created_at in conn.execute(
        select(HumanTask.id, HumanTask.spiff_task_id, HumanTask.due_at, HumanTask.created_at)
        .where(HumanTask.instance_id == row.id, HumanTask.state == "ready"))}
    gone = [task_id for spiff_id, (task_id, _, _) in open_rows.items() if spiff_id not in ready]
    if gone:
        conn.execute(update(HumanTask).where(HumanTask.id.in_(gone)).values(state="cancelled", completed_at=now))
    new_rows = []
    for spiff_id, task in ready.items():
        due = due_by_task.get(spiff_id)
        if spiff_id in open_rows:
            task_id, due_at, created_at = open_rows[spiff_id]
            if due is not None and due_at != due:
                conn.execute(update(HumanTask).where(HumanTask.id == task_id)
                             .values(due_at=due, remind_at=reminder(due, created_at)))
            continue
        values = _new_human_task(session, row, spiff_id, task.task_spec.bpmn_id, info[task.task_spec.bpmn_id], now)
        values["due_at"] = due
        values["remind_at"] = reminder(due, now) if due is not None else None
        new_rows.append(values)
    if new_rows:
        fill_task_columns(rt, session, row, info, ready, new_rows)  # inbox listing columns, 会签 members
        conn.execute(insert(HumanTask), new_rows)


def _new_human_task(session, row, spiff_id, bpmn_id, task_info, now) -> dict:
    role = task_info["role"]
    if task_info.get("assignee") == "starter":
        # REV-4: a returned item goes back to the person who submitted it.
        scope, assignee = row.org_unit_id, row.started_by_id
    else:
        scope, assignee = resolve_scope(session, role, row.org_unit_id), None
        if scope is None:
            # Nobody holds the role at or above the unit: keep the task visible to an
            # administrator (scoped to the requesting unit) and say so in the trail.
            scope = row.org_unit_id
            audit.record(session, now=now, action="unassigned", instance_id=row.id, role=role,
                         data={"task": bpmn_id}, org_unit_id=row.org_unit_id)
    return {"instance_id": row.id, "spiff_task_id": spiff_id, "bpmn_id": bpmn_id, "name": task_info["name"],
            "role": role, "org_unit_id": scope, "assignee_id": assignee, "state": "ready",
            "form_key": task_info.get("form"), "created_at": now}


def describe_completion(session: Session, task: HumanTask) -> str:
    """"此任务已由张三于 2026-03-02 10:02 办理" for a conflict message."""
    from .clock import to_shanghai

    who = session.get(User, task.completed_by_id) if task.completed_by_id else None
    when = to_shanghai(task.completed_at).strftime("%Y-%m-%d %H:%M") if task.completed_at else ""
    if task.state == "completed" and who:
        return f"此任务已由{who.real_name}于 {when} 办理"
    return "此任务已不在待办状态（流程已变更或已撤销）"
