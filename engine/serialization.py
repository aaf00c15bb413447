"""Workflow state as JSON, without the spec.

SpiffWorkflow's serializer inlines the whole parsed spec in every instance (about half of the
state, ENGINE_NOTES.md). We write the task tree and data only; the spec comes back from the
definition the instance row points to (engine.specs). We only ever load state this module
wrote: the version is pinned and no upstream migration runs (the 1.1 migration calls eval()).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task, TaskState
from SpiffWorkflow.util.deep_merge import DeepMerge

from .exceptions import GovFlowError

FORMAT = "govflow-spiff-3.2.0/1"


class _SpecReferenceConverter(BpmnWorkflowConverter):
    """Writes a workflow without its spec; restoring expects the spec objects to be handed in."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        """BpmnWorkflowConverter.from_dict with the task tree restored by `_restore_task`: every
        task id appears three times in a state (its key, its parent's children, its children's
        parent) and SpiffWorkflow parsed a UUID from each. Workflows with subprocesses go upstream."""
        if dct.get("subprocesses"):
            return super().from_dict(dct)
        workflow = self.target_class(dct.pop("spec"), dct.pop("subprocess_specs", {}), deserializing=True)
        uuids: dict[str, UUID] = {}
        for task_dct in dct["tasks"].values():
            _restore_task(self.registry, task_dct, workflow, uuids)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"], uuids))
        self.set_default_attributes(workflow, dct)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _uuid(text: str, uuids: dict[str, UUID]) -> UUID:
    found = uuids.get(text)
    if found is None:
        found = uuids[text] = UUID(text)
    return found


def _restore_task(registry, dct: dict, workflow: BpmnWorkflow, uuids: dict[str, UUID]) -> Task:
    """SpiffWorkflow 3.2.0's TaskConverter.from_dict, step for step, with the task ids parsed once
    per load (the version is pinned; GOVFLOW_VERIFY_STATE compares every load with a whole encoding)."""
    task_spec = workflow.spec.task_specs.get(dct["task_spec"])
    task = Task(workflow, task_spec, state=dct["state"], id=_uuid(dct["id"], uuids))
    task._parent = _uuid(dct["parent"], uuids) if dct["parent"] is not None else None
    task._children = [_uuid(child, uuids) for child in dct["children"]]
    task.last_state_change = dct["last_state_change"]
    task.triggered = dct["triggered"]
    task.internal_data = registry.restore(dct["internal_data"])
    if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
        workflow.top_workflow.event_manager.add_task(task)
    delta = dct.get("delta")
    parent = task.parent
    if delta and parent is not None:
        data = DeepMerge.merge({}, parent.data)
        data.update(registry.restore(delta.get("updates", {})))
        for key in delta.get("deletions", {}):
            if key in data:
                del data[key]
    else:
        data = registry.restore(dct["data"])
    task.data = data
    return task


def _build_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpecReferenceConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _build_serializer()


# One encoder for every call: json.dumps(cls=…) would build a new one each time, and a save
# encodes a task at a time. JSONEncoder.encode keeps no state between calls.
_to_json = _SERIALIZER._encoder_cls(ensure_ascii=False, separators=(",", ":")).encode


def dump_workflow_whole(workflow: BpmnWorkflow) -> str:
    """The state encoded whole, every task afresh: what SpiffWorkflow's serializer does (minus the spec)."""
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = _SERIALIZER.to_dict(workflow)
    finally:
        registry._encoder_mode = False
    dct["format"] = FORMAT
    return _to_json(dct)


# A task's JSON is kept on the task and reused while the task and its parent are settled: finished,
# or predicted and still empty (a task's data is stored as a delta against its parent's, so the
# parent counts too). A settled task is stored once, in its own `workflow_task` row; the instance's
# `state` holds the workflow's fields and the few tasks still in motion. So a command writes what
# changed, not the whole instance: a 300-step instance no longer rewrites 300 tasks every step.
# This loop runs over every task of every save, so it builds nothing for a task whose text it reuses.
_SETTLED = TaskState.FINISHED_MASK | TaskState.PREDICTED_MASK | TaskState.FUTURE
_FRAGMENT = "_govflow_json"  # on a task: (its key fields, its parent and its parent's key fields, JSON)
_STORED = "_govflow_stored"  # on a workflow: {task id: the JSON its workflow_task row holds}


def _task_json(task, tasks: dict, registry) -> tuple[str, bool]:
    """The task's JSON, and whether it is settled (kept as it is until the task or its parent moves)."""
    state = task._state
    kept = task.__dict__.get(_FRAGMENT)
    if kept is not None and state & _SETTLED:
        parent = kept[5]
        if (kept[0] == state and kept[1] == task.last_state_change and kept[2] == task.triggered
                and kept[3] == task._children and kept[4] is task._parent and (parent is None or (
                    parent._state == kept[6] and parent.last_state_change == kept[7]))):
            return kept[8], True
    text = _to_json(registry.convert(task))
    parent = tasks.get(task._parent) if task._parent is not None else None
    if state & _SETTLED and (parent is None or parent._state & _SETTLED):
        task.__dict__[_FRAGMENT] = (state, task.last_state_change, task.triggered, list(task._children),
                                    task._parent, parent, parent._state if parent else None,
                                    parent.last_state_change if parent else None, text)
        return text, True
    task.__dict__.pop(_FRAGMENT, None)
    return text, False


def _head(workflow: BpmnWorkflow, registry) -> str:
    """The workflow's own fields as JSON text without its closing brace (tasks are appended)."""
    head = {
        "data": registry.convert(registry.clean(workflow.data)),
        "correlations": workflow.correlations,
        "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
        "success": workflow.success, "completed": workflow.completed,
        "root": str(workflow.task_tree.id), "subprocesses": {},
        "bpmn_events": registry.convert(workflow.bpmn_events),
        "typename": registry.typenames[type(workflow)], "format": FORMAT,
    }
    return _to_json(head)[:-1]


@dataclass(frozen=True)
class StateChanges:
    """What a save writes: the instance's state, and the settled-task rows to add and to drop."""

    state: str
    settled_new: list[tuple[str, str]]  # (task id, JSON) rows to insert
    settled_gone: list[str]  # task ids whose row must go (the task moved again, or is gone)


def dump_changes(workflow: BpmnWorkflow) -> StateChanges:
    """The state to store, and how the instance's settled-task rows change since the last save.

    The workflow remembers which rows its instance holds (seeded by `load_workflow`, updated
    here), so a workflow kept in memory between commands (engine.workflow_cache) knows too.
    GOVFLOW_VERIFY_STATE=1 (the test suite sets it) checks the whole against a new encoding.
    """
    stored = workflow.__dict__.setdefault(_STORED, {})
    if workflow.subprocesses:  # subprocess tasks live in their own workflows: store the whole state
        gone = [str(task_id) for task_id in stored]
        stored.clear()
        return StateChanges(dump_workflow_whole(workflow), [], gone)
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        head = _head(workflow, registry)
        tasks = workflow.tasks
        moving, new, gone = [], [], []
        for task_id, task in tasks.items():
            text, settled = _task_json(task, tasks, registry)
            held = stored.get(task_id)
            if settled:
                if held is not text:
                    if held is not None:
                        gone.append(str(task_id))
                    new.append((str(task_id), text))
                    stored[task_id] = text
            else:
                if held is not None:
                    gone.append(str(task_id))
                    del stored[task_id]
                moving.append(f'"{task_id}":{text}')
        if len(stored) > len(tasks) - len(moving):  # rows of tasks no longer in the workflow
            for task_id in stored.keys() - tasks.keys():
                gone.append(str(task_id))
                del stored[task_id]
    finally:
        registry._encoder_mode = False
    changes = StateChanges(f'{head},"tasks":{{{",".join(moving)}}}}}', new, gone)
    if VERIFY:
        whole = json.loads(changes.state)
        whole["tasks"].update({str(task_id): json.loads(text) for task_id, text in stored.items()})
        _verify(workflow, whole)
    return changes


def dump_workflow(workflow: BpmnWorkflow) -> str:
    """The instance's whole state as one JSON text (no spec inside), reusing kept task texts."""
    if workflow.subprocesses:
        return dump_workflow_whole(workflow)
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        head = _head(workflow, registry)
        tasks = workflow.tasks
        items = ",".join(f'"{task_id}":{_task_json(task, tasks, registry)[0]}' for task_id, task in tasks.items())
    finally:
        registry._encoder_mode = False
    text = f'{head},"tasks":{{{items}}}}}'
    if VERIFY:
        _verify(workflow, json.loads(text))
    return text


VERIFY = os.environ.get("GOVFLOW_VERIFY_STATE", "") in ("1", "true", "yes")


def _verify(workflow: BpmnWorkflow, encoded: dict) -> None:
    if encoded != json.loads(dump_workflow_whole(workflow)):
        raise AssertionError("incremental state encoding differs from a whole encoding")


def verify_same(kept: BpmnWorkflow, loaded: BpmnWorkflow) -> None:
    """A workflow kept in memory (engine.workflow_cache) encodes exactly like its stored state."""
    if json.loads(dump_workflow_whole(kept)) != json.loads(dump_workflow_whole(loaded)):
        raise AssertionError("a cached workflow differs from its stored state")


def load_workflow(text: str, spec, subprocess_specs: dict, settled: dict[str, str] | None = None) -> BpmnWorkflow:
    """Rebuild a workflow from its stored state (`dump_changes`/`dump_workflow` output), its settled
    task rows ({task id: JSON}) and the parsed spec of its definition."""
    dct = json.loads(text, cls=_SERIALIZER.json_decoder_cls)
    if dct.pop("format", None) != FORMAT:
        raise GovFlowError("流程实例的存储格式无法识别，拒绝加载。", "The stored instance format is not recognised.")
    if settled:
        decoder = _SERIALIZER.json_decoder_cls
        dct["tasks"] = _tree_order({**{task_id: json.loads(data, cls=decoder) for task_id, data in settled.items()},
                                    **dct["tasks"]}, dct["root"])
    # Spec objects are not dicts, so the registry hands them through to the converter untouched.
    dct["spec"] = spec
    dct["subprocess_specs"] = dict(subprocess_specs)
    workflow = _SERIALIZER.from_dict(dct)
    if settled:
        _seed_stored(workflow, settled)
    return workflow


def _tree_order(tasks: dict, root: str) -> dict:
    """The tasks parents first (depth-first from the root), as SpiffWorkflow created them: restoring a
    task applies its data delta to its parent's data, so the parent must be restored before it."""
    ordered, stack = {}, [root]
    while stack:
        task_id = stack.pop()
        task = tasks.get(task_id)
        if task is None or task_id in ordered:
            continue
        ordered[task_id] = task
        stack.extend(reversed(task["children"]))
    for task_id, task in tasks.items():  # unreachable ones (none are expected) keep their place at the end
        ordered.setdefault(task_id, task)
    return ordered


def _seed_stored(workflow: BpmnWorkflow, settled: dict[str, str]) -> None:
    """Remember which rows the instance holds, and keep their text on the tasks, so the next save
    writes only what moved (a row whose task is no longer settled is dropped then)."""
    stored = workflow.__dict__.setdefault(_STORED, {})
    tasks = workflow.tasks
    for task_id, task in tasks.items():
        text = settled.get(str(task_id))
        if text is None:
            continue
        stored[task_id] = text
        state = task._state
        parent = tasks.get(task._parent) if task._parent is not None else None
        if state & _SETTLED and (parent is None or parent._state & _SETTLED):
            task.__dict__[_FRAGMENT] = (state, task.last_state_change, task.triggered, list(task._children),
                                        task._parent, parent, parent._state if parent else None,
                                        parent.last_state_change if parent else None, text)
