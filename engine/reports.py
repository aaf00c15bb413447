"""Supervision reports computed from the audit trail alone (SUP-1, SUP-2, deadline compliance).

Every figure here is a function of `audit_event` rows: `load_events` reads them, and the
`annual_report`, `inspection_coverage` and `deadline_compliance` functions only count what
those rows say. The organisation tree (names, which unit is under which) is reference data.
So a report can be recomputed by anyone who holds a copy of the trail, and a verified chain
(engine/audit_verify.py) vouches for the figures.

What the events carry (see engine/audit.py and engine/instances.py): publications and asset
state changes are `service_task` events with the handler's parameters and result; completed
tasks carry their step and deadline; the scheduled SUP-1/SUP-2 instances record their year,
quarter and inspection scope in their start event; each asset checked is an
`inspection_check` event.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ASSET_KINDS, TARGET_KINDS, AuditEvent

from .audit_search import day_start
from .clock import to_shanghai

MESSAGE_PROCESS = "citizen_message"
ANNUAL_PROCESS = "annual_report"
INSPECTION_PROCESS = "quarterly_inspection"
VIOLATION_HANDLERS = ("record_violation", "record_supervision_violation")
UNTYPED = "未分类"


@dataclass(frozen=True)
class Ev:
    """The fields of an audit event a report reads."""

    id: int
    at: datetime
    action: str
    actor_id: int | None
    actor_name: str
    role: str | None
    unit_id: int | None
    instance_id: int | None
    data: dict


def load_events(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[Ev]:
    """The audit events in [start, end), in chain order: all a report needs."""
    query = select(AuditEvent.id, AuditEvent.occurred_at, AuditEvent.action, AuditEvent.actor_id,
                   AuditEvent.actor_name, AuditEvent.role, AuditEvent.org_unit_id, AuditEvent.instance_id,
                   AuditEvent.data).order_by(AuditEvent.id)
    if start is not None:
        query = query.where(AuditEvent.occurred_at >= start)
    if end is not None:
        query = query.where(AuditEvent.occurred_at < end)
    return [Ev(*row[:8], row[8] or {}) for row in session.execute(query)]


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return day_start(date(year, 1, 1)), day_start(date(year + 1, 1, 1))


def _service(events, *handlers: str):
    return [e for e in events if e.action == "service_task" and e.data.get("handler") in handlers]


def _late_instances(events) -> set[int]:
    """Instances where a deadline passed: a task completed after its due instant, a deadline timer
    fired, or a violation was recorded."""
    late = set()
    for e in events:
        if e.instance_id is None:
            continue
        due = e.data.get("due_at")
        if e.action == "complete" and due and e.at > datetime.fromisoformat(due):
            late.add(e.instance_id)
        elif e.action == "timer" or (e.action == "service_task" and e.data.get("handler") in VIOLATION_HANDLERS):
            late.add(e.instance_id)
    return late


@dataclass
class OfflinePeriod:
    asset_id: int
    name: str
    path: str
    start: datetime
    end: datetime | None

    def days(self, until: datetime) -> float:
        return ((self.end or until) - self.start).total_seconds() / 86400


@dataclass
class AnnualReport:
    """SUP-1 年度工作报表 of one district (or the viewer's whole scope) for one year."""

    year: int
    published_total: int = 0
    published_by_column: list[tuple[str, int]] = field(default_factory=list)
    published_by_month: list[int] = field(default_factory=lambda: [0] * 12)
    messages_received: int = 0
    messages_by_type: list[tuple[str, int, int, int]] = field(default_factory=list)  # type, received, handled, on time
    messages_handled: int = 0
    messages_on_time: int = 0
    openings: list[tuple[str, str, datetime]] = field(default_factory=list)  # kind label, name, when
    closures: list[tuple[str, str, datetime]] = field(default_factory=list)
    exits: list[tuple[str, str, datetime]] = field(default_factory=list)
    offline_periods: list[OfflinePeriod] = field(default_factory=list)
    violations_by_rule: list[tuple[str, int]] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float | None:
        return self.messages_on_time / self.messages_handled if self.messages_handled else None


def annual_report(events: list[Ev], year: int, units: set[int] | None, until: datetime) -> AnnualReport:
    """SUP-1 figures of `year` for the events of `units` (None: every unit), from events alone.

    `events` must cover the year (and, for messages, offline periods and late work, what
    followed until `until`, the moment the report is made).
    """
    start, end = year_bounds(year)

    def mine(e: Ev) -> bool:
        return units is None or e.unit_id in units

    report = AnnualReport(year=year)
    by_column: Counter = Counter()
    for e in _service(events, "publish_content", "publish_emergency"):  # REV-6 items are published too
        if start <= e.at < end and mine(e):
            result = e.data.get("result") or {}
            kind = TARGET_KINDS.get(result.get("target_kind"), result.get("target_kind") or "")
            by_column[f"{kind}：{result.get('target_name') or '（未注明）'}"] += 1
            report.published_by_month[to_shanghai(e.at).month - 1] += 1
    report.published_total = sum(by_column.values())
    report.published_by_column = sorted(by_column.items(), key=lambda kv: (-kv[1], kv[0]))

    late = _late_instances(events)
    ended = {e.instance_id for e in events if e.action == "end"}
    types: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for e in events:
        if e.action == "start" and e.data.get("definition") == MESSAGE_PROCESS and start <= e.at < end and mine(e):
            counts = types[e.data.get("message_type") or e.data.get("type") or UNTYPED]
            counts[0] += 1
            if e.instance_id in ended:
                counts[1] += 1
                counts[2] += e.instance_id not in late
    report.messages_by_type = sorted(((t, *c) for t, c in types.items()), key=lambda row: (-row[1], row[0]))
    report.messages_received = sum(c[0] for c in types.values())
    report.messages_handled = sum(c[1] for c in types.values())
    report.messages_on_time = sum(c[2] for c in types.values())

    open_offline: dict[int, OfflinePeriod] = {}
    periods: list[OfflinePeriod] = []
    for e in _service(events, "set_asset_state"):
        result, params = e.data.get("result") or {}, e.data.get("params") or {}
        asset_id, to_state, from_state = result.get("asset_id"), result.get("state"), result.get("from_state")
        if not mine(e) or asset_id is None:
            continue
        label = (ASSET_KINDS.get(result.get("kind"), result.get("kind") or ""), result.get("name") or f"#{asset_id}")
        if to_state == "offline":
            open_offline[asset_id] = OfflinePeriod(asset_id, label[1], params.get("path") or "", e.at, None)
            periods.append(open_offline[asset_id])
        elif from_state == "offline" and asset_id in open_offline:
            open_offline.pop(asset_id).end = e.at
        if not start <= e.at < end:
            continue
        if to_state == "online" and from_state in ("applying", "approved"):
            report.openings.append((*label, e.at))
        elif to_state == "closed":
            report.closures.append((*label, e.at))
        elif to_state == "exited":
            report.exits.append((*label, e.at))
    report.offline_periods = [p for p in periods if p.start < end and (p.end is None or p.end >= start)]

    rules: Counter = Counter()
    for handler in VIOLATION_HANDLERS:
        for e in _service(events, handler):
            if start <= e.at < end and mine(e):
                rules[(e.data.get("params") or {}).get("rule") or "—"] += 1
    report.violations_by_rule = sorted(rules.items())
    return report


@dataclass
class QuarterCoverage:
    """SUP-2: one district's inspection of one quarter."""

    district_id: int
    year: int
    quarter: int
    instance_id: int | None = None
    scope: int = 0
    checked: int = 0
    problems: int = 0
    problem_list: list[tuple[str, str]] = field(default_factory=list)  # asset, problem
    reported_at: datetime | None = None
    published_at: datetime | None = None
    published_url: str = ""
    late: bool = False

    @property
    def coverage(self) -> float | None:
        return self.checked / self.scope if self.scope else None


def inspection_coverage(events: list[Ev], year: int, districts: list[int]) -> list[QuarterCoverage]:
    """SUP-2 coverage of `year`, one row per district and quarter, from events alone."""
    rows = {(d, q): QuarterCoverage(d, year, q) for d in districts for q in range(1, 5)}
    by_instance: dict[int, QuarterCoverage] = {}
    scopes: dict[int, dict[int, str]] = {}
    for e in events:
        if e.action == "start" and e.data.get("definition") == INSPECTION_PROCESS and e.data.get("year") == year:
            row = rows.get((e.data.get("district_id"), e.data.get("quarter")))
            if row is not None:
                row.instance_id = e.instance_id
                by_instance[e.instance_id] = row
                scopes[e.instance_id] = {a["asset_id"]: a["name"] for a in e.data.get("scope") or []}
    checks: dict[int, dict[int, dict]] = defaultdict(dict)
    late = _late_instances(events)
    for e in events:
        row = by_instance.get(e.instance_id)
        if row is None:
            continue
        if e.action == "inspection_check":
            checks[e.instance_id][e.data.get("asset_id")] = e.data  # a later check of an asset replaces the earlier
        elif e.action == "complete" and e.data.get("step") == "city_review" and e.data.get("outcome") == "pass":
            row.reported_at = e.at
        elif e.action == "complete" and e.data.get("step") == "publish_results":
            row.published_at = e.at
            row.published_url = (e.data.get("form") or {}).get("published_url", "")
    for instance_id, row in by_instance.items():
        checked = checks[instance_id]
        scope = set(scopes[instance_id]) | set(checked)
        row.scope, row.checked = len(scope), len(checked)
        row.problem_list = [(c.get("asset_name") or f"#{a}", c.get("problem") or "")
                            for a, c in sorted(checked.items(), key=lambda kv: kv[0] or 0) if c.get("result") == "problem"]
        row.problems = len(row.problem_list)
        row.late = instance_id in late
    return [rows[k] for k in sorted(rows)]


@dataclass
class UnitCompliance:
    unit_id: int | None
    with_deadline: int = 0
    on_time: int = 0
    late: int = 0
    violations: int = 0

    @property
    def rate(self) -> float | None:
        return self.on_time / self.with_deadline if self.with_deadline else None


def deadline_compliance(events: list[Ev], start: datetime, end: datetime, units: set[int] | None) -> list[UnitCompliance]:
    """Per unit: tasks with a deadline completed in [start, end), on time or late, and violations
    recorded against the unit's items."""
    rows: dict[int | None, UnitCompliance] = {}
    for e in events:
        if not start <= e.at < end or (units is not None and e.unit_id not in units):
            continue
        if e.action == "complete" and e.data.get("due_at"):
            row = rows.setdefault(e.unit_id, UnitCompliance(e.unit_id))
            row.with_deadline += 1
            if e.at > datetime.fromisoformat(e.data["due_at"]):
                row.late += 1
            else:
                row.on_time += 1
        elif e.action == "service_task" and e.data.get("handler") in VIOLATION_HANDLERS:
            rows.setdefault(e.unit_id, UnitCompliance(e.unit_id)).violations += 1
    return sorted(rows.values(), key=lambda r: (r.unit_id is None, r.unit_id or 0))


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    first = date(year, 3 * quarter - 2, 1)
    nxt = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return first, nxt - timedelta(days=1)
