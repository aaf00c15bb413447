"""Timers: SpiffWorkflow's notion of "now", and the next due instant of an instance.

SpiffWorkflow reads `datetime.now(timezone.utc)` through the module-level name `datetime` in
its timer module. Rebinding that name once per process to a subclass whose `now()` asks our
clock makes timers obey the injected clock (ENGINE_NOTES.md); the subclass survives
serialization because only ISO strings are stored.
"""

from __future__ import annotations

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


def next_due(workflow) -> datetime | None:
    """The earliest instant at which a waiting timer of `workflow` is due, if any."""
    due = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        value = task.internal_data.get("event_value")
        if isinstance(value, str):
            try:
                due.append(spiff_timer.TimerEventDefinition.get_datetime(value))
            except ValueError:
                continue
        elif isinstance(value, dict) and isinstance(value.get("next"), str):
            due.append(datetime.fromisoformat(value["next"]))
    return min(due) if due else None
