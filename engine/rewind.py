"""Taking an instance back to an earlier user task (撤回, and review after an edit).

SpiffWorkflow's `reset_from_task_id` drops everything after the task and makes it ready again;
`instances.save` then withdraws the inbox rows of the dropped steps and opens a new row for the
reopened one, in the caller's transaction.
"""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import HumanTask

from . import instances
from .exceptions import ConflictError


def reopen(rt, session: Session, loaded: instances.Loaded, spiff_task_id: str) -> HumanTask:
    """Reset the workflow to the completed task `spiff_task_id`, save, and return its new inbox row."""
    spiff_task = loaded.workflow.get_task_from_id(UUID(spiff_task_id))
    if spiff_task is None or spiff_task.state != TaskState.COMPLETED:
        raise ConflictError("流程已经变化，不能退回到该环节，请刷新。", "The process has moved on; reload the page.")
    loaded.workflow.reset_from_task_id(spiff_task.id)
    loaded.workflow.do_engine_steps()
    instances.save(rt, session, loaded)
    task = session.scalar(select(HumanTask).where(HumanTask.instance_id == loaded.row.id,
                                                  HumanTask.spiff_task_id == spiff_task_id,
                                                  HumanTask.state == "ready").order_by(HumanTask.id.desc()).limit(1))
    if task is None:
        raise ConflictError("流程已经变化，不能退回到该环节，请刷新。", "The process has moved on; reload the page.")
    return task
