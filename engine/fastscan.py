"""Finding tasks by state without walking the whole task tree.

SpiffWorkflow answers "which tasks are READY / WAITING" by walking the task tree from its root,
through every completed and predicted task (~3 µs each). A 300-step instance has 300+ tasks, and
a command walks the tree a dozen times (engine steps, waiting tasks, inbox rows, timers), so the
walks alone grew with the length of the instance. `workflow.tasks` already holds every task of
a top-level workflow in a dict: scanning it is ~50 ns a task.

The scan gives the same set as the walk: a definite task (FUTURE, WAITING, READY, STARTED) never
sits below a predicted one, and the walk descends through everything definite or finished. It
does not give the walk's depth-first order, so whenever more than one task matches (parallel
branches, where the order in which READY tasks run could matter) the original walk answers.
Subprocesses keep the original walk too. `install()` is called once, on import of the engine.
"""

from __future__ import annotations

import os

from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter
from SpiffWorkflow.task import TaskState
from SpiffWorkflow.workflow import Workflow

# GOVFLOW_VERIFY_STATE=1 (the test suite sets it): every scan is checked against the walk.
VERIFY = os.environ.get("GOVFLOW_VERIFY_STATE", "") in ("1", "true", "yes")
_FILTER_ARGS = {"state", "manual", "spec_name", "spec_class", "lane", "catches_event", "updated_ts"}
_original_get_tasks = Workflow.get_tasks
_original_update_waiting = Workflow.update_waiting_tasks
_original_is_completed = Workflow.is_completed


def _scannable(workflow) -> bool:
    # Only a top-level workflow without subprocesses holds all of its tasks in `.tasks`.
    return getattr(workflow, "top_workflow", None) is workflow and not workflow.subprocesses


def _get_tasks(self, first_task=None, **kwargs):
    state = kwargs.get("state")
    if (first_task is None and state and not state & ~TaskState.DEFINITE_MASK
            and kwargs.keys() <= _FILTER_ARGS and _scannable(self)):
        found = [task for task in self.tasks.values() if task._state & state]
        if found and len(kwargs) > 1:  # more than the state to match: SpiffWorkflow's own filter decides
            task_filter = BpmnTaskFilter(**kwargs)
            found = [task for task in found if task_filter.matches(task)]
        if len(found) <= 1:
            if VERIFY and found != _original_get_tasks(self, None, **kwargs):
                raise AssertionError(f"task scan differs from the tree walk for {kwargs}")
            return found
    return _original_get_tasks(self, first_task, **kwargs)


def _update_waiting_tasks(self):
    if _scannable(self):
        waiting = [task for task in self.tasks.values() if task._state == TaskState.WAITING]
        if VERIFY and {t.id for t in waiting} != {t.id for t in _original_get_tasks(self, None, state=TaskState.WAITING)}:
            walked = _original_get_tasks(self, None, state=TaskState.WAITING)
            raise AssertionError(f"waiting-task scan differs from the tree walk: {waiting} vs {walked}")
        if len(waiting) <= 1:
            for task in waiting:
                task.task_spec._update(task)
            return
    _original_update_waiting(self)


def _is_completed(self):
    if not self.completed and _scannable(self):
        # Any unfinished task, predicted ones included, means not completed (what the walk asks).
        if not any(task._state & TaskState.NOT_FINISHED_MASK for task in self.tasks.values()):
            if VERIFY and _original_is_completed(self) is not True:
                raise AssertionError("completion scan differs from the tree walk")
            self.completed = True
        return self.completed
    return _original_is_completed(self)


_PATCHES = {"get_tasks": (_get_tasks, _original_get_tasks),
            "update_waiting_tasks": (_update_waiting_tasks, _original_update_waiting),
            "is_completed": (_is_completed, _original_is_completed)}


def install() -> None:
    """Route state queries of BPMN workflows through the scan (idempotent)."""
    for name, (patched, _original) in _PATCHES.items():
        setattr(BpmnBaseWorkflow, name, patched)


def uninstall() -> None:
    """Back to SpiffWorkflow's own walks (the benchmarks' bare-SpiffWorkflow baselines use this)."""
    for name in _PATCHES:
        if name in BpmnBaseWorkflow.__dict__:
            delattr(BpmnBaseWorkflow, name)
