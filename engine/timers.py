"""Timers: SpiffWorkflow's notion of "now", and the next due instant of an instance.

SpiffWorkflow reads `datetime.now(timezone.utc)` through the module-level name `datetime` in
its timer module. Rebinding that name once per process to a subclass whose `now()` asks our
clock makes timers obey the injected clock (ENGINE_NOTES.md); the subclass survives
serialization because only ISO strings are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.task import TaskState

from .clock import Clock

_active: list[Clock] = [Clock()]


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        instant = _active[0].now()
        return instant.astimezone(tz) if tz else instant.replace(tzinfo=None)


def install_clock(clock: Clock) -> None:
    """Make SpiffWorkflow's timers read `clock` (process-wide; the last runtime built wins)."""
    _active[0] = clock
    spiff_timer.datetime = _ClockedDatetime


def active_clock() -> Clock:
    """The installed clock, for code that runs inside a command without the runtime (a task form)."""
    return _active[0]


@dataclass(frozen=True)
class WaitingTimer:
    task: object  # the SpiffWorkflow task waiting on the timer
    task_id: str
    bpmn_id: str
    due: datetime


def waiting_timers(workflow) -> list[WaitingTimer]:
    """Every timer of `workflow` that is waiting, with the instant it is due."""
    found = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if not isinstance(getattr(task.task_spec, "event_definition", None), spiff_timer.TimerEventDefinition):
            continue
        due = _due_of(task.internal_data.get("event_value"))
        if due is not None:
            found.append(WaitingTimer(task, str(task.id), task.task_spec.bpmn_id or task.task_spec.name, due))
    return found


def _due_of(value) -> datetime | None:
    if isinstance(value, str):
        try:
            return spiff_timer.TimerEventDefinition.get_datetime(value)
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("next"), str):
        return datetime.fromisoformat(value["next"])
    return None


def next_due(timers: list[WaitingTimer]) -> datetime | None:
    """The earliest instant at which one of `timers` is due, if any."""
    return min((timer.due for timer in timers), default=None)
