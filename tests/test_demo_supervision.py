"""The demo seed leaves issue 7's security and supervision work in interesting states."""

from sqlalchemy import select

from db.models import ProcessInstance, User
from db.session import reading
from engine.demo import seed_demo_work
from engine.violations import register
from tests.helpers import ready


def _instances(rt, prefix_like: str) -> list[ProcessInstance]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(ProcessInstance).where(ProcessInstance.business_key.like(prefix_like))))


def test_the_demo_has_an_open_incident_an_account_in_rectification_and_a_violation_awaiting_circulation(sqlite_rt):
    seed_demo_work(sqlite_rt)
    (incident,) = _instances(sqlite_rt, "asset:%:incident:%")
    assert set(ready(sqlite_rt, incident.id)) == {"office_report"}  # 孙七 is to report it to the office
    rectifications = {row.title.partition("更新不及时")[0]: row for row in _instances(sqlite_rt, "asset:%:rectification:%")}
    assert set(rectifications) == {"区教育发布", "通知公告"}
    assert set(ready(sqlite_rt, rectifications["区教育发布"].id)) == {"rectify"}
    assert set(ready(sqlite_rt, rectifications["通知公告"].id)) == {"criticise"}  # 通报批评 first
    with reading(sqlite_rt.session_factory) as session:
        office = session.scalar(select(User).where(User.username == "zhouba"))
        awaiting = register(session, office, status="awaiting")["rows"]
    # (the citizen-message demo adds its own MSG-1 entries: only the supervision one is checked here)
    assert [(r.violation.rule, r.violation.category, r.asset) for r in awaiting
            if r.violation.rule == "REV-17"] == [("REV-17", "2", "通知公告")]
