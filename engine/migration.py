"""Moving a running instance to a newer version of its process (Camunda Cockpit / spiff-arena style).

SpiffWorkflow 3.2.0 aligns the old spec with the new one (`SpiffWorkflow.bpmn.util.diff`:
`diff_workflow` matches task specs by BPMN id, `migrate_workflow` swaps the specs in and
re-predicts the open branches). GovFlow adds the guards around it:

- every element the instance stands on now, and every element it has passed, must exist in the
  new version; otherwise the migration is refused with a sentence naming the missing ones (a
  stored task whose element is gone could never be loaded again);
- where the new version put something in front of an open task (typically a boundary timer
  added to it, which SpiffWorkflow models as a split before the task), the open task is re-entered
  through that new element so the structure matches the new diagram;
- a timer that waits in both versions with the same expression keeps its due instant; a new or
  changed one counts from the migration;
- claims of open tasks are kept; the inbox, deadline rows and the audit event (with the reason)
  are written in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Deadline, HumanTask, ProcessDefinition
from db.session import transaction

from . import audit, instances
from .assignment import resolve_scope
from .exceptions import ConflictError, InvalidInput, NotFound
from .people import load_admin, require_manages
from .serialization import _SERIALIZER

OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
# Predicted tasks are dropped and predicted again by the migration; every other task must survive it.
PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE


@dataclass(frozen=True)
class MigrationResult:
    from_version: int
    to_version: int
    restructured: list[str]


def _label(task) -> str:
    spec = task.task_spec
    return f"{spec.bpmn_id}（{spec.bpmn_name}）" if getattr(spec, "bpmn_name", None) else spec.bpmn_id


def _missing(workflow, new_spec, states) -> list[str]:
    names = []
    for task in workflow.get_tasks(state=states):
        spec = task.task_spec
        if getattr(spec, "bpmn_id", None) and spec.name not in new_spec.task_specs:
            names.append(_label(task))
        elif spec.name not in new_spec.task_specs and not getattr(spec, "bpmn_id", None) and task.parent is not None:
            # Bookkeeping specs (a boundary split or join) whose element was removed: name the element.
            names.append(spec.name.split(".")[0])
    return sorted(set(names))


def check_migration(workflow, target) -> list[str]:
    """Why `workflow` cannot move to `target` (a CompiledDefinition): one sentence per obstacle."""
    problems = []
    current = _missing(workflow, target.spec, OPEN)
    if current:
        problems.append(f"当前环节 {'、'.join(current)}在版本 {target.version} 中不存在，无法迁移。")
    passed = sorted(set(_missing(workflow, target.spec, ~(OPEN | PREDICTED))) - set(current))
    if passed:
        problems.append(f"已经办理过的环节 {'、'.join(passed)}在版本 {target.version} 中已删除，"
                        "迁移后无法还原此事项的办理记录。")
    for sub in workflow.subprocesses.values():
        if sub.spec.name not in target.subprocess_specs:
            problems.append(f"子流程 {sub.spec.name} 在版本 {target.version} 中不存在，无法迁移。")
    return problems


def _reenter_through_new_parents(workflow) -> list[str]:
    """Open tasks whose new spec is entered through an element their parent does not lead to
    (e.g. a boundary split added in the new version) are re-created through that element."""
    restructured = []
    for task in list(workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)):
        if task.id not in workflow.tasks:
            continue
        spec, parent = task.task_spec, task.parent
        if parent is None or parent.task_spec in spec.inputs:
            continue
        entry = [candidate for candidate in spec.inputs if candidate in parent.task_spec.outputs]
        if len(entry) != 1:
            raise ConflictError(f"环节 {_label(task)} 之前的流程结构在新版本中发生了变化，无法自动迁移。",
                                f"The structure before {spec.bpmn_id} changed in the new version; it cannot be migrated.")
        workflow._remove_task(task.id)
        child = parent._add_child(entry[0], TaskState.FUTURE)
        entry[0]._predict(child, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)
        entry[0]._update(child)
        restructured.append(getattr(spec, "bpmn_id", spec.name))
    return restructured


def _waiting_timers(workflow) -> dict[str, tuple[str, object]]:
    """{bpmn id: (timer expression, due value)} of the timers waiting now."""
    found = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and "event_value" in task.internal_data:
            found[task.task_spec.bpmn_id] = (definition.expression, task.internal_data["event_value"])
    return found


def migrate_instance(rt, instance_id: int, actor_id: int, *, definition_id: int, reason: str,
                     client_addr: str | None = None) -> MigrationResult:
    """Move a running instance to a newer version of its process; refused with the missing elements named."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写迁移的理由。", "A reason is required to migrate.")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        loaded = instances.load(rt, session, instance_id)
        row, source = loaded.row, loaded.definition
        require_manages(session, admin, row.org_unit_id)
        if row.status != "running":
            raise ConflictError("只能迁移办理中的事项。", "Only a running instance can be migrated.")
        if session.get(ProcessDefinition, definition_id) is None:
            raise NotFound("目标版本不存在。", "The target version does not exist.")
        target = rt.definitions.get(session, definition_id)
        if target.key != source.key or target.version <= source.version:
            raise InvalidInput(f"只能迁移到“{source.name}”的更新版本（当前为版本 {source.version}）。",
                               f"Choose a newer version of {source.key} (now version {source.version}).")
        workflow = loaded.workflow
        problems = check_migration(workflow, target)
        if problems:
            raise ConflictError("".join(problems), " ".join(problems))
        timers_before = _waiting_timers(workflow)
        claims = _claims(session, row.id)

        top_diff, _sub_diffs = diff_workflow(_SERIALIZER.registry, workflow, target.spec, target.subprocess_specs)
        migrate_workflow(top_diff, workflow, target.spec)
        workflow.subprocess_specs = dict(target.subprocess_specs)
        restructured = _reenter_through_new_parents(workflow)
        workflow.do_engine_steps()
        _keep_unchanged_timers(workflow, timers_before)

        now = rt.clock.now()
        audit.record(session, now=now, action="migrate", actor=admin, role="admin", instance_id=row.id,
                     opinion=reason, client_addr=client_addr,
                     data={"definition": target.key, "from_version": source.version, "to_version": target.version,
                           "restructured": restructured})
        migrated = instances.Loaded(row=row, definition=target, workflow=workflow, version=loaded.version)
        instances.save(rt, session, migrated, definition_id=target.id)
        row = migrated.row
        _refresh_task_rows(session, row, target.task_info, claims)
        _describe_new_deadlines(session, row.id, workflow)
        return MigrationResult(source.version, target.version, restructured)


def _claims(session: Session, instance_id: int) -> dict[str, tuple[int, object]]:
    return {t.bpmn_id: (t.assignee_id, t.claimed_at) for t in session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "ready",
                                HumanTask.claimed_at.is_not(None)))}


def _keep_unchanged_timers(workflow, before: dict[str, tuple[str, object]]) -> None:
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        old = before.get(getattr(task.task_spec, "bpmn_id", None))
        if isinstance(definition, TimerEventDefinition) and old and old[0] == definition.expression:
            task.internal_data["event_value"] = old[1]


def _refresh_task_rows(session: Session, row, task_info: dict, claims: dict) -> None:
    """Open inbox rows take the new version's step name and lane; claims survive a re-created task."""
    for task in session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id, HumanTask.state == "ready")):
        info = task_info.get(task.bpmn_id)
        if info is None:
            continue
        task.name = info["name"]
        if info["role"] != task.role:
            task.role, task.assignee_id, task.claimed_at = info["role"], None, None
            task.org_unit_id = resolve_scope(session, info["role"], row.org_unit_id) or row.org_unit_id
        elif task.assignee_id is None and task.bpmn_id in claims:
            task.assignee_id, task.claimed_at = claims[task.bpmn_id]


def _describe_new_deadlines(session: Session, instance_id: int, workflow) -> None:
    """A timer re-evaluated by the migration records what its due instant was computed from."""
    recorder = getattr(workflow.script_engine, "recorder", None)
    for task_id, how in (recorder.computed if recorder else {}).items():
        session.execute(update(Deadline).where(Deadline.instance_id == instance_id, Deadline.spiff_task_id == task_id,
                                               Deadline.state == "open", Deadline.due_at == how.due)
                        .values(rule=how.rule, start_at=how.start, amount=how.amount))
