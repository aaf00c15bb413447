"""Workflow state as JSON, without the spec.

SpiffWorkflow's serializer inlines the whole parsed spec in every instance (about half of the
state, ENGINE_NOTES.md). We write the task tree and data only; the spec comes back from the
definition the instance row points to (engine.specs). We only ever load state this module
wrote: the version is pinned and no upstream migration runs (the 1.1 migration calls eval()).
"""

from __future__ import annotations

import json
import os

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import TaskState

from .exceptions import GovFlowError

FORMAT = "govflow-spiff-3.2.0/1"


class _SpecReferenceConverter(BpmnWorkflowConverter):
    """Writes a workflow without its spec; restoring expects the spec objects to be handed in."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _build_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpecReferenceConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _build_serializer()


def _to_json(value) -> str:
    return json.dumps(value, cls=_SERIALIZER._encoder_cls, ensure_ascii=False, separators=(",", ":"))


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


# A task's JSON is kept on the task and written again unchanged while the task and its parent are
# settled: finished, or predicted and still empty (a task's data is stored as a delta against its
# parent's, so the parent counts too). Only the few tasks around the running step are encoded
# again, so saving a long instance no longer costs its whole length every command. This loop runs
# over every task of every save: it avoids building anything for a task whose text it reuses.
_SETTLED = TaskState.FINISHED_MASK | TaskState.PREDICTED_MASK | TaskState.FUTURE
_FRAGMENT = "_govflow_json"


def _task_items(workflow: BpmnWorkflow, registry) -> list[str]:
    """'"<task id>":{…}' for every task of `workflow`, reusing the kept text of settled tasks."""
    tasks = workflow.tasks
    items = []
    for task_id, task in tasks.items():
        state = task._state
        kept = task.__dict__.get(_FRAGMENT)
        if kept is not None and state & _SETTLED:
            # kept: (state, last change, triggered, children, parent id, parent, its state and last change, text)
            parent = kept[5]
            if (kept[0] == state and kept[1] == task.last_state_change and kept[2] == task.triggered
                    and kept[3] == task._children and kept[4] is task._parent and (parent is None or (
                        parent._state == kept[6] and parent.last_state_change == kept[7]))):
                items.append(kept[8])
                continue
        item = f'"{task_id}":{_to_json(registry.convert(task))}'
        parent = tasks.get(task._parent) if task._parent is not None else None
        if state & _SETTLED and (parent is None or parent._state & _SETTLED):
            task.__dict__[_FRAGMENT] = (state, task.last_state_change, task.triggered, list(task._children),
                                        task._parent, parent, parent._state if parent else None,
                                        parent.last_state_change if parent else None, item)
        else:
            task.__dict__.pop(_FRAGMENT, None)
        items.append(item)
    return items


def dump_workflow(workflow: BpmnWorkflow) -> str:
    """The instance's state as JSON text (no spec inside).

    GOVFLOW_VERIFY_STATE=1 (the test suite sets it) checks every dump against a whole new encoding.
    """
    if workflow.subprocesses:
        return dump_workflow_whole(workflow)
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        head = {
            "data": registry.convert(registry.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success, "completed": workflow.completed,
            "root": str(workflow.task_tree.id), "subprocesses": {},
            "bpmn_events": registry.convert(workflow.bpmn_events),
            "typename": registry.typenames[type(workflow)], "format": FORMAT,
        }
        tasks = ",".join(_task_items(workflow, registry))
    finally:
        registry._encoder_mode = False
    text = f'{_to_json(head)[:-1]},"tasks":{{{tasks}}}}}'
    if VERIFY:
        _verify(workflow, text)
    return text


VERIFY = os.environ.get("GOVFLOW_VERIFY_STATE", "") in ("1", "true", "yes")


def _verify(workflow: BpmnWorkflow, text: str) -> None:
    expected = json.loads(dump_workflow_whole(workflow))
    if json.loads(text) != expected:
        raise AssertionError("incremental state encoding differs from a whole encoding")


def verify_same(kept: BpmnWorkflow, loaded: BpmnWorkflow) -> None:
    """A workflow kept in memory (engine.workflow_cache) encodes exactly like its stored state."""
    if json.loads(dump_workflow_whole(kept)) != json.loads(dump_workflow_whole(loaded)):
        raise AssertionError("a cached workflow differs from its stored state")


def load_workflow(text: str, spec, subprocess_specs: dict) -> BpmnWorkflow:
    """Rebuild a workflow from `dump_workflow` output and the parsed spec of its definition."""
    dct = json.loads(text, cls=_SERIALIZER.json_decoder_cls)
    if dct.pop("format", None) != FORMAT:
        raise GovFlowError("流程实例的存储格式无法识别，拒绝加载。", "The stored instance format is not recognised.")
    # Spec objects are not dicts, so the registry hands them through to the converter untouched.
    dct["spec"] = spec
    dct["subprocess_specs"] = dict(subprocess_specs)
    return _SERIALIZER.from_dict(dct)
