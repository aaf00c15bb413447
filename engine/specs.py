"""Deployed definitions, compiled once per process and cached by id.

A definition never changes after deployment, so its parsed spec and task table can be kept
for the life of the process: commands then never re-read the BPMN XML (about 15 KB a row)
or re-parse it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from sqlalchemy.orm import Session

from db.models import ProcessDefinition

from . import fastscan
from .exceptions import NotFound
from .parsing import build_parser, parse_safely

fastscan.install()


@dataclass(frozen=True)
class CompiledDefinition:
    id: int
    key: str
    version: int
    name: str
    start_role: str
    task_info: dict
    spec: object
    subprocess_specs: dict


def defer_service_tasks(spec, subprocess_specs: dict) -> None:
    """Make service tasks wait for a background job instead of running inside the command.

    SpiffWorkflow's engine steps run every READY task that is not `manual`; flagged manual, a
    service task stays READY and `engine.jobs` runs it with retries (and its own transaction).
    """
    for process in (spec, *subprocess_specs.values()):
        for task_spec in process.task_specs.values():
            if isinstance(task_spec, ServiceTask):
                task_spec.manual = True


class DefinitionCache:
    """Definition id → CompiledDefinition. Sharing one parsed spec across threads is safe
    (measured over 1,200 instances, ENGINE_NOTES.md); the lock only stops duplicate parsing."""

    def __init__(self):
        self._compiled: dict[int, CompiledDefinition] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, definition_id: int) -> CompiledDefinition:
        compiled = self._compiled.get(definition_id)
        if compiled is not None:
            return compiled
        row = session.get(ProcessDefinition, definition_id)
        if row is None:
            raise NotFound(f"流程定义 {definition_id} 不存在。", f"Definition {definition_id} does not exist.")
        with self._lock:
            if definition_id not in self._compiled:
                spec, subprocess_specs = build_parser(parse_safely(row.bpmn_xml.encode("utf-8")), row.key)
                defer_service_tasks(spec, subprocess_specs)
                self._compiled[definition_id] = CompiledDefinition(
                    id=row.id, key=row.key, version=row.version, name=row.name, start_role=row.start_role,
                    task_info=row.task_info, spec=spec, subprocess_specs=subprocess_specs)
            return self._compiled[definition_id]
