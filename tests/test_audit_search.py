"""The auditor's search filters on both backends, and the scope: a district auditor sees the
district's units and items, not the city's own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import OrgUnit, User
from db.session import reading
from engine import Forbidden, complete_task
from engine.assets import start_correction
from engine.audit_search import EventFilter, event_context, search_events
from tests.helpers import submit, task_id


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def test_each_filter_narrows_the_search(rt, users):
    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    correction = start_correction(rt, users["sunqi"], 2, urgency="general", finding="错字")
    with reading(rt.session_factory) as session:
        auditor = _user(session, "chenjing")
        unit = session.scalar(select(OrgUnit.id).where(OrgUnit.name == "某区"))

        def ids(**kwargs) -> set[int | None]:
            return {r.instance_id for r in search_events(session, auditor, EventFilter(**kwargs), limit=500).rows}

        assert ids(asset_id=2) == {correction}  # 区教育发布's correction (business key asset:2:correction:1)
        assert ids(process_key="content_review") == {iid}
        assert ids(action="complete") == {iid}
        assert ids(unit_id=unit) == {correction}  # events done in 某区 itself: 孙七's dispatch
        assert ids(actor_id=_user(session, "lisi").id) == {iid}
        from datetime import date

        assert ids(date_from=date(2030, 1, 1)) == set()


def test_a_district_auditor_does_not_see_the_city_offices_own_events(sqlite_rt, sqlite_users):
    from db.session import transaction
    from engine.audit import record

    with transaction(sqlite_rt.session_factory) as session:
        record(session, now=sqlite_rt.clock.now(), action="probe", actor=_user(session, "wujiu"), role="city_office")
    with reading(sqlite_rt.session_factory) as session:
        district = search_events(session, _user(session, "chenjing"), EventFilter(action="probe")).rows
        top = search_events(session, _user(session, "gaoyuan"), EventFilter(action="probe")).rows
        assert district == [] and len(top) == 1
        with pytest.raises(Forbidden, match="审计范围"):
            event_context(session, _user(session, "chenjing"), top[0].id)


def test_a_bad_cursor_is_a_sentence_not_a_crash(sqlite_rt):
    from engine import InvalidInput

    with reading(sqlite_rt.session_factory) as session:
        with pytest.raises(InvalidInput, match="翻页参数无效"):
            search_events(session, _user(session, "chenjing"), EventFilter(), cursor="garbage|x")
