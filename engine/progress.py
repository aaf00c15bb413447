"""Where an instance stands on its diagram: the steps done and the steps open now.

Read from the stored workflow state (not the inbox rows), so gateways, events and service tasks
are shown as well as user tasks. Nothing is locked and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.task import TaskState
from sqlalchemy.orm import Session

from db.models import ProcessDefinition, ProcessInstance, User

from .exceptions import NotFound
from .instances import stored_workflow

OPEN_STATES = TaskState.READY | TaskState.STARTED | TaskState.WAITING


@dataclass(frozen=True)
class DiagramProgress:
    bpmn_xml: str
    completed: list[str]
    current: list[str]


def instance_progress(rt, session: Session, instance_id: int, user: User) -> DiagramProgress:
    """The diagram an instance runs on, with its completed and current element ids."""
    from .queries import may_view_instance

    row = session.get(ProcessInstance, instance_id)
    if row is None or not may_view_instance(session, user, row, rt.clock.now()):
        raise NotFound(f"事项 {instance_id} 不存在或您无权查看。", f"Item {instance_id} does not exist or is not yours to see.")
    definition = rt.definitions.get(session, row.definition_id)
    workflow = stored_workflow(session, row, definition)
    completed, current = [], []
    for task in workflow.get_tasks():
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue  # SpiffWorkflow's own bookkeeping tasks (Root, End joins) are not on the diagram
        if task.state == TaskState.COMPLETED:
            completed.append(bpmn_id)
        elif task.state & OPEN_STATES and row.status == "running":
            current.append(bpmn_id)
    xml = session.get(ProcessDefinition, row.definition_id).bpmn_xml
    return DiagramProgress(bpmn_xml=xml, completed=sorted(set(completed) - set(current)), current=sorted(set(current)))
