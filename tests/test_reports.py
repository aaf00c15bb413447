"""Report figures match a hand-counted fixture, and recompute from the audit_event rows alone.

The fixture writes, through the engine's audit writer, exactly the events processes write
(publications, asset state changes and violations as service-task events; citizen messages as
start/complete/end events of `citizen_message` instances), so every expected number below
was counted by hand from the list in `_fixture`.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import select, text

from db.models import OrgUnit, ProcessDefinition, ProcessInstance, User
from db.session import reading, transaction
from engine import audit
from engine.clock import SHANGHAI
from engine.reports import (
    Ev,
    annual_report,
    deadline_compliance,
    inspection_coverage,
    load_events,
    year_bounds,
)


def bj(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=SHANGHAI)


def _units(rt) -> dict[str, int]:
    with reading(rt.session_factory) as session:
        return {name: ident for ident, name in session.execute(select(OrgUnit.id, OrgUnit.name))}


def _record(rt, at: str, action: str, **kwargs) -> None:
    with transaction(rt.session_factory) as session:
        actor = kwargs.pop("actor", None)
        if actor:
            actor = session.scalar(select(User).where(User.username == actor))
        audit.record(session, now=bj(at), action=action, actor=actor, **kwargs)


def _instance(rt, unit_id: int, key: str) -> int:
    with transaction(rt.session_factory) as session:
        definition = session.scalar(select(ProcessDefinition.id).limit(1))
        starter = session.scalar(select(User.id).where(User.username == "zhangsan"))
        row = ProcessInstance(definition_id=definition, status="running", state="", version=1, business_key=key,
                              title=key, org_unit_id=unit_id, started_by_id=starter, started_at=bj("2025-01-01T00:00"))
        session.add(row)
        session.flush()
        return row.id


def _publish(rt, at: str, unit: int, kind: str, column: str) -> None:
    _record(rt, at, "service_task", org_unit_id=unit,
            data={"handler": "publish_content", "params": {"content_id": 1},
                  "result": {"content_id": 1, "target_kind": kind, "target_name": column, "org_unit_id": unit}})


def _state(rt, at: str, unit: int, asset: int, name: str, kind: str, before: str, after: str, path: str = "") -> None:
    _record(rt, at, "service_task", org_unit_id=unit,
            data={"handler": "set_asset_state", "params": {"state": after, **({"path": path} if path else {})},
                  "result": {"asset_id": asset, "state": after, "from_state": before, "name": name, "kind": kind}})


def _message(rt, unit: int, kind: str, start: str, due: str | None = None, done: str | None = None) -> None:
    iid = _instance(rt, unit, f"message:{start}")
    _record(rt, start, "start", instance_id=iid, org_unit_id=unit,
            data={"definition": "citizen_message", "message_type": kind})
    if done:
        _record(rt, done, "complete", actor="zhangsan", role="editor", instance_id=iid,
                data={"outcome": "done", "step": "reply", "due_at": bj(due).isoformat()})
        _record(rt, done, "end", instance_id=iid, org_unit_id=unit)


def _fixture(rt) -> dict[str, int]:
    u = _units(rt)
    edu, street, city = u["区教育局"], u["某街道办事处"], u["某市"]
    _publish(rt, "2025-03-10T10:00", edu, "wechat", "区教育发布")
    _publish(rt, "2025-03-20T10:00", edu, "wechat", "区教育发布")
    _publish(rt, "2025-07-01T10:00", edu, "portal_column", "通知公告")
    _publish(rt, "2025-12-31T23:30", street, "wechat", "某街道发布")  # 15:30 UTC: still 2025 in Beijing
    _publish(rt, "2026-01-01T00:10", edu, "wechat", "区教育发布")  # 2025 in UTC, 2026 in Beijing: not counted
    _publish(rt, "2025-05-05T10:00", city, "portal_column", "市政府信息公开")  # outside the district
    _message(rt, edu, "咨询", "2025-04-01T09:00", due="2025-04-08T23:59:59", done="2025-04-07T16:00")  # on time
    _message(rt, edu, "咨询", "2025-04-02T09:00", due="2025-04-09T23:59:59", done="2025-04-10T09:00")  # late
    _message(rt, edu, "投诉", "2025-05-01T09:00", due="2025-05-22T23:59:59", done="2025-05-20T09:00")  # on time
    _message(rt, edu, "投诉", "2025-06-01T09:00")  # not handled yet
    _state(rt, "2025-02-01T10:00", edu, 101, "区教育抖音", "new_media", "applying", "online")
    _state(rt, "2025-08-01T10:00", street, 102, "某街道便民服务网", "website", "approved", "online")
    _state(rt, "2025-06-10T00:00", edu, 2, "区教育发布", "new_media", "online", "offline", "approval")
    _state(rt, "2025-06-25T00:00", edu, 2, "区教育发布", "new_media", "offline", "online")
    _state(rt, "2025-11-20T00:00", edu, 3, "某区教育", "new_media", "online", "offline", "force_majeure")
    _state(rt, "2025-09-01T10:00", street, 4, "某街道发布", "new_media", "online", "closing")
    _state(rt, "2025-10-15T10:00", street, 4, "某街道发布", "new_media", "closing", "closed")
    _record(rt, "2025-12-01T10:00", "service_task", org_unit_id=edu,
            data={"handler": "record_violation", "params": {"rule": "OFF-3", "category": "1", "description": "超期"},
                  "result": {"violation_id": 1}})
    return u


def _district_units(u) -> set[int]:
    return {u["某区"], u["区教育局"], u["某街道办事处"]}


REPORT_TIME = bj("2026-01-02T09:00")


def _check_annual(report) -> None:
    assert report.published_total == 4
    assert report.published_by_column == [("本单位微信公众号：区教育发布", 2), ("本单位微信公众号：某街道发布", 1),
                                          ("门户网站栏目：通知公告", 1)]
    assert report.published_by_month == [0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert report.messages_by_type == [("咨询", 2, 2, 1), ("投诉", 2, 1, 1)]
    assert (report.messages_received, report.messages_handled, report.messages_on_time) == (4, 3, 2)
    assert report.on_time_rate == pytest.approx(2 / 3)
    assert [(k, n) for k, n, _ in report.openings] == [("政务新媒体", "区教育抖音"), ("政府网站", "某街道便民服务网")]
    assert [n for _, n, _ in report.closures] == ["某街道发布"]
    periods = [(p.name, p.path, p.end is not None, round(p.days(REPORT_TIME), 3)) for p in report.offline_periods]
    assert periods == [("区教育发布", "approval", True, 15.0), ("某区教育", "force_majeure", False, 43.375)]
    assert report.violations_by_rule == [("OFF-3", 1)]


def test_sup_1_annual_figures_match_the_hand_counted_fixture(sqlite_rt):
    u = _fixture(sqlite_rt)
    with reading(sqlite_rt.session_factory) as session:
        start, _ = year_bounds(2025)
        report = annual_report(load_events(session, start, None), 2025, _district_units(u), REPORT_TIME)
    _check_annual(report)


def test_messages_show_zero_when_no_citizen_message_process_ran(sqlite_rt):
    with reading(sqlite_rt.session_factory) as session:
        report = annual_report(load_events(session), 2025, None, REPORT_TIME)
    assert (report.messages_received, report.messages_handled, report.on_time_rate) == (0, 0, None)


def test_deadline_compliance_per_unit_matches_the_fixture(sqlite_rt):
    u = _fixture(sqlite_rt)
    start, end = year_bounds(2025)
    with reading(sqlite_rt.session_factory) as session:
        rows = deadline_compliance(load_events(session), start, end, _district_units(u))
    assert [(r.unit_id, r.with_deadline, r.on_time, r.late, r.violations) for r in rows] == [(u["区教育局"], 3, 2, 1, 1)]


def _raw_events(rt) -> list[Ev]:
    """The audit_event table read with plain SQL, nothing else: what an inspector with a copy has."""
    with reading(rt.session_factory) as session:
        rows = session.execute(text("SELECT id, occurred_at, action, actor_id, actor_name, role, org_unit_id, "
                                    "instance_id, data FROM audit_event ORDER BY id")).all()
    events = []
    for row in rows:
        at = datetime.fromisoformat(row[1] + "+00:00")  # stored as UTC text
        events.append(Ev(row[0], at, row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8]) or {}))
    return events


def test_the_reports_recompute_from_the_audit_event_rows_alone(sqlite_rt, client, auth):
    u = _fixture(sqlite_rt)
    events = _raw_events(sqlite_rt)
    _check_annual(annual_report(events, 2025, _district_units(u), REPORT_TIME))
    start, end = year_bounds(2025)
    assert [(r.with_deadline, r.on_time, r.late) for r in deadline_compliance(events, start, end, None)] == [(3, 2, 1)]
    # …and the downloaded report says the same.
    auth.login("chenjing")
    csv = client.get(f"/reports/annual?district={u['某区']}&year=2025&format=csv").data.decode("utf-8-sig")
    assert "总体,发布信息总数,4" in csv and "按栏目发布,本单位微信公众号：区教育发布,2" in csv
    assert "总体,按时办结率,66.7%" in csv and "违规登记,OFF-3,1" in csv


def test_sup_2_coverage_counts_each_asset_once_and_a_missing_quarter_as_not_started(sqlite_rt):
    u = _fixture(sqlite_rt)
    district = u["某区"]
    iid = _instance(sqlite_rt, district, "quarterly_inspection:x:2025-Q3")
    scope = [{"asset_id": a, "name": f"资产{a}", "kind": "website", "unit_id": district} for a in (1, 2, 3)]
    _record(sqlite_rt, "2025-07-01T00:05", "start", instance_id=iid, org_unit_id=district,
            data={"definition": "quarterly_inspection", "district_id": district, "year": 2025, "quarter": 3,
                  "scope": scope})
    for at, asset, result in (("2025-07-02T10:00", 1, "ok"), ("2025-07-03T10:00", 2, "problem"),
                              ("2025-07-04T10:00", 2, "ok")):  # asset 2 re-checked after its fix
        _record(sqlite_rt, at, "inspection_check", actor="zhouba", role="district_office", instance_id=iid,
                data={"asset_id": asset, "asset_name": f"资产{asset}", "result": result,
                      "problem": "链接失效" if result == "problem" else ""})
    with reading(sqlite_rt.session_factory) as session:
        rows = inspection_coverage(load_events(session), 2025, [district])
    q = {r.quarter: r for r in rows}
    assert (q[3].scope, q[3].checked, q[3].problems) == (3, 2, 0) and q[3].coverage == pytest.approx(2 / 3)
    assert q[1].instance_id is None and q[1].coverage is None
