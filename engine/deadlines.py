"""Deadline rows: every waiting timer, what it was computed from, and recomputing them.

A timer expression such as `add_working_days(start, 5)` is evaluated by SpiffWorkflow when the
timer starts waiting. The command's DeadlineRecorder hands the expression the calendar
vocabulary and remembers, per timer task, the rule, start and N behind the due instant. After
the command, `sync` writes one `deadline` row per waiting timer; when an administrator
corrects the calendar, `recompute_open` computes the open ones again, moves the timers inside
the workflow state and audits each change, all in the correcting transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from db.models import Deadline, User
from db.prepared import Prepared

from . import audit, read_ahead
from .calendar import WorkingCalendar, add_hours, add_minutes
from .clock import SHANGHAI
from .timers import WaitingTimer, waiting_timers

RECOMPUTED_RULES = ("working_days", "calendar_days_rolled", "end_of_workday", "half_working_day")
# half_working_day keeps both office-hour bounds in `amount`: office_start * 10000 + office_end.
_OFFICE_PACK = 10_000
_DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Computation:
    rule: str
    start: datetime
    amount: int
    due: datetime


def compute(calendar: WorkingCalendar, rule: str, start: datetime, amount: int) -> datetime:
    """The due instant of `rule` from `start`: the one place a stored deadline is recomputed."""
    if rule == "working_days":
        return calendar.add_working_days(start, amount)
    if rule in ("calendar_days", "calendar_days_rolled"):
        return calendar.add_calendar_days(start, amount)
    if rule == "end_of_workday":
        return calendar.end_of_workday(start, amount)
    if rule == "half_working_day":
        return calendar.half_working_day(start, *divmod(amount, _OFFICE_PACK))
    if rule == "hours":
        return add_hours(start, amount)
    if rule == "minutes":
        return add_minutes(start, amount)
    if rule == "end_of_month":
        return end_of_month(start, amount)
    raise ValueError(f"unknown deadline rule {rule!r}")


def end_of_month(start: datetime, months: int) -> datetime:
    """23:59:59 Beijing time on the last day of the month `months` after the start's month
    (0: the start's own month). SUP-1's "by 31 January", SUP-2's "within the quarter"."""
    local = start.astimezone(SHANGHAI)
    index = local.year * 12 + local.month - 1 + int(months) + 1  # the month after the target month
    first_of_next = datetime(index // 12, index % 12 + 1, 1, tzinfo=SHANGHAI)
    return first_of_next - timedelta(seconds=1)


def _instant(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError("时间参数必须是日期时间")
    if value.tzinfo is None:
        raise TypeError("时间参数必须带时区")
    return value


def days_until(start, month_day: str) -> int:
    """Calendar days from the start day (Beijing) to the next `MM-DD` on or after it."""
    if not isinstance(month_day, str) or len(month_day) != 5 or month_day[2] != "-":
        raise ValueError("日期应写成 MM-DD，例如 '03-31'")
    day = _instant(start).astimezone(SHANGHAI).date()
    month, day_of_month = int(month_day[:2]), int(month_day[3:])
    target = date(day.year, month, day_of_month)
    if target < day:
        target = date(day.year + 1, month, day_of_month)
    return (target - day).days


def iso(instant: datetime) -> str:
    """SpiffWorkflow wants timer values as ISO text; +08:00 so nothing depends on the server zone."""
    return instant.astimezone(SHANGHAI).isoformat(timespec="seconds")


class DeadlineRecorder:
    """The calendar vocabulary of one command, remembering what each timer was computed from.

    `calendar` is called at most once, and only if an expression uses the working-day
    calendar, so a command without deadlines never reads the calendar tables.
    """

    def __init__(self, calendar: Callable[[], WorkingCalendar]):
        self._calendar_source = calendar
        self._calendar: WorkingCalendar | None = None
        self.current_task_id: str | None = None  # set by the script engine around an evaluation
        self.computed: dict[str, Computation] = {}

    @property
    def calendar(self) -> WorkingCalendar:
        if self._calendar is None:
            self._calendar = self._calendar_source()
        return self._calendar

    def read_calendar_from(self, calendar: Callable[[], WorkingCalendar]) -> bool:
        """Take the calendar from `calendar` from now on (another transaction's); False when the one
        already read differs from it, so deadlines computed with it are out of date."""
        self._calendar_source = calendar
        return self._calendar is None or self._calendar is calendar()

    def _record(self, rule: str, start, amount) -> str:
        start = _instant(start)
        if self.calendar.roll_calendar_days and rule == "calendar_days":
            rule = "calendar_days_rolled"
        due = compute(self.calendar, rule, start, amount)
        if self.current_task_id is not None:
            # The outermost call finishes last, so a nested expression keeps its final step.
            self.computed[self.current_task_id] = Computation(rule, start, amount, due)
        return iso(due)

    def functions(self) -> dict[str, Callable]:
        return {
            "add_working_days": lambda start, days: self._record("working_days", start, days),
            "add_calendar_days": lambda start, days: self._record("calendar_days", start, days),
            "add_hours": lambda start, hours: self._record("hours", start, hours),
            "add_minutes": lambda start, minutes: self._record("minutes", start, minutes),
            # 当日下班前: `office_end` is the closing time as minutes after midnight (policy value).
            "end_of_workday": lambda start, office_end: self._record("end_of_workday", start, office_end),
            # 0.5 个工作日 in office hours (MSG-1): the bounds are minutes after midnight (policy values).
            "add_half_working_day": lambda start, office_start, office_end: self._record(
                "half_working_day", start, _office_hours(office_start, office_end)),
            # A fixed date of the year ('03-31': the end of Q1): the end of its next occurrence on or
            # after the start day, kept as N calendar days so it is stored and recomputed like them.
            "by_date": lambda start, month_day: self._record("calendar_days", start, days_until(start, month_day)),
            "end_of_month": lambda start, months: self._record("end_of_month", start, months),
        }


def _office_hours(office_start, office_end) -> int:
    for value in (office_start, office_end):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _DAY_MINUTES:
            raise ValueError("上下班时间必须是 0 到 1440 之间的分钟数")
    return office_start * _OFFICE_PACK + office_end


_OPEN_DEADLINES = Prepared(select(Deadline.id, Deadline.spiff_task_id, Deadline.due_at)
                           .where(Deadline.instance_id == bindparam("instance_id"), Deadline.state == "open"))
_CLOSE_DEADLINE = Prepared(update(Deadline).where(Deadline.id == bindparam("deadline_id"))
                           .values(state="closed", closed_at=bindparam("now")))
_INSERT_DEADLINES = Prepared(insert(Deadline).inline(), columns=[
    "instance_id", "spiff_task_id", "bpmn_id", "rule", "start_at", "amount", "due_at", "state", "created_at",
    "closed_at"])


def sync(session: Session, instance_id: int, workflow, recorder: DeadlineRecorder | None, now: datetime,
         had_timers: bool) -> dict[str, datetime]:
    """Write the `deadline` rows of one instance; returns {user task id: its earliest due}.

    `had_timers` (the instance had a next timer before this command) lets a command on an
    instance that never waits on a timer skip the query altogether.
    """
    timers = waiting_timers(workflow)
    if not timers and not had_timers:
        return {}
    computed = recorder.computed if recorder else {}
    conn = session.connection()  # Core straight to the connection: this runs in every timer command
    found = read_ahead.take(session, read_ahead.OPEN_DEADLINES, instance_id)
    if found is None:
        found = _OPEN_DEADLINES.all(session, {"instance_id": instance_id})
    open_rows = {spiff_id: (row_id, due_at) for row_id, spiff_id, due_at in found}
    waiting = {timer.task_id: timer for timer in timers}
    closed = [row_id for task_id, (row_id, _) in open_rows.items() if task_id not in waiting]
    _CLOSE_DEADLINE.execute_many(session, [{"deadline_id": row_id, "now": now} for row_id in closed])
    new_rows = []
    for task_id, timer in waiting.items():
        if task_id in open_rows:
            row_id, due_at = open_rows[task_id]
            if due_at != timer.due:
                conn.execute(update(Deadline).where(Deadline.id == row_id).values(due_at=timer.due))
            continue
        how = computed.get(task_id)
        new_rows.append({"instance_id": instance_id, "spiff_task_id": task_id, "bpmn_id": timer.bpmn_id,
                         "rule": how.rule if how else "fixed", "start_at": how.start if how else None,
                         "amount": how.amount if how else None, "due_at": timer.due, "state": "open",
                         "created_at": now, "closed_at": None})
    _INSERT_DEADLINES.execute_many(session, new_rows)
    return task_due_dates(timers)


def task_due_dates(timers: list[WaitingTimer]) -> dict[str, datetime]:
    """A user task's due instant is its earliest waiting boundary timer."""
    due: dict[str, datetime] = {}
    for timer in timers:
        parent = timer.task.parent
        if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
            continue
        for sibling in parent.children:
            if not isinstance(sibling.task_spec, BoundaryEvent):
                key = str(sibling.id)
                due[key] = min(due.get(key, timer.due), timer.due)
    return due


def recompute_open(rt, session: Session, calendar: WorkingCalendar, actor: User, reason: str) -> int:
    """Move every open calendar-based deadline that `calendar` now puts elsewhere; returns how many.

    Runs inside the caller's transaction: if one deadline can no longer be computed (a year
    left uncovered) CalendarNotCovered aborts the whole correction.
    """
    from . import instances

    rows = list(session.scalars(select(Deadline).where(Deadline.state == "open",
                                                       Deadline.rule.in_(RECOMPUTED_RULES))
                                .order_by(Deadline.instance_id, Deadline.id)))
    moves: dict[int, list[tuple[Deadline, datetime]]] = {}
    for row in rows:
        new_due = compute(calendar, row.rule, row.start_at, row.amount)
        if new_due != row.due_at:
            moves.setdefault(row.instance_id, []).append((row, new_due))
    for instance_id, changes in moves.items():
        loaded = instances.load(rt, session, instance_id)
        by_id = {str(task.id): task for task in loaded.workflow.get_tasks()}
        for row, new_due in changes:
            task = by_id.get(row.spiff_task_id)
            if task is None:
                continue
            old_due = row.due_at
            task.internal_data["event_value"] = iso(new_due)
            audit.record(session, now=rt.clock.now(), actor=actor, role="admin", action="deadline_recomputed",
                         instance_id=instance_id, org_unit_id=loaded.row.org_unit_id, opinion=reason,
                         data={"task": row.bpmn_id, "rule": row.rule, "amount": row.amount,
                               "start": iso(row.start_at), "old_due": iso(old_due), "new_due": iso(new_due)})
        instances.save(rt, session, loaded)
    return sum(len(changes) for changes in moves.values())


def open_deadlines_of(session: Session, instance_id: int) -> list[Deadline]:
    return list(session.scalars(select(Deadline).where(Deadline.instance_id == instance_id,
                                                       Deadline.state == "open").order_by(Deadline.due_at)))

