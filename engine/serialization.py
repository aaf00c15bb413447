"""Workflow state as JSON, without the spec.

SpiffWorkflow's serializer inlines the whole parsed spec in every instance (about half of the
state, ENGINE_NOTES.md). We write the task tree and data only; the spec comes back from the
definition the instance row points to (engine.specs). We only ever load state this module
wrote: the version is pinned and no upstream migration runs (the 1.1 migration calls eval()).
"""

from __future__ import annotations

import json

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

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


def dump_workflow(workflow: BpmnWorkflow) -> str:
    """The instance's state as JSON text (no spec inside)."""
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = _SERIALIZER.to_dict(workflow)
    finally:
        registry._encoder_mode = False
    dct["format"] = FORMAT
    return json.dumps(dct, cls=_SERIALIZER._encoder_cls, ensure_ascii=False, separators=(",", ":"))


def load_workflow(text: str, spec, subprocess_specs: dict) -> BpmnWorkflow:
    """Rebuild a workflow from `dump_workflow` output and the parsed spec of its definition."""
    dct = json.loads(text, cls=_SERIALIZER.json_decoder_cls)
    if dct.pop("format", None) != FORMAT:
        raise GovFlowError("流程实例的存储格式无法识别，拒绝加载。", "The stored instance format is not recognised.")
    # Spec objects are not dicts, so the registry hands them through to the converter untouched.
    dct["spec"] = spec
    dct["subprocess_specs"] = dict(subprocess_specs)
    return _SERIALIZER.from_dict(dct)
