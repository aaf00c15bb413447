"""PEN-1, PEN-2: the violation register coded by type, fed by missed deadlines, circulated 通报 first;
约谈 and accountability as recorded decisions.

Dates by hand: Mon 2026-03-02. An urgent correction (REV-11) dispatched at 10:00 is late at 10:30.
"""

from datetime import datetime

import pytest
from sqlalchemy import select

from db.models import VIOLATION_TYPES, Asset, OrgUnit, User, Violation
from db.session import reading
from engine import ConflictError, Forbidden, InvalidInput, complete_task
from engine.assets import start_correction
from engine.sweep import sweep
from engine.violations import circulate_violations, record_violation_by_office, register, start_accountability
from tests.helpers import attach, instance, ready, task_id

TEN = datetime.fromisoformat("2026-03-02T10:00:00+08:00")


def _asset_id(rt, name="区教育发布") -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset.id).where(Asset.name == name))


def _unit_id(rt, name) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(OrgUnit.id).where(OrgUnit.name == name))


def _register(rt, users, who, **filters) -> dict:
    with reading(rt.session_factory) as session:
        return register(session, session.get(User, users[who].user_id), **filters)


def _late_correction(rt, users, clock) -> Violation:
    """A REV-11 urgent correction left undone: the deadline feeds the register by itself."""
    clock.set(TEN)
    start_correction(rt, users["sunqi"], _asset_id(rt), urgency="urgent", finding="首页领导姓名错字")
    clock.set(datetime.fromisoformat("2026-03-02T10:31:00+08:00"))
    sweep(rt)
    with reading(rt.session_factory) as session:
        return session.scalar(select(Violation).where(Violation.rule == "REV-11"))


def test_pen_1_missed_deadlines_feed_the_register_coded_by_type_and_the_office_circulates_first(rt, users, clock):
    entry = _late_correction(rt, users, clock)
    assert VIOLATION_TYPES[entry.category] == "（七）问题整改不到位"
    office = _register(rt, users, "zhouba")
    assert [r.violation.id for r in office["rows"]] == [entry.id] and office["awaiting"] == 1
    assert office["matrix"] == {"区教育局": {cat: int(cat == "7") for cat in VIOLATION_TYPES}}
    assert [r.violation.id for r in _register(rt, users, "zhangsan")["rows"]] == [entry.id]  # the unit's own
    assert _register(rt, users, "huanglei")["rows"] == []  # another unit sees nothing
    # Accountability before the 通报 is refused.
    with pytest.raises(ConflictError, match="PEN-1"):
        start_accountability(rt, users["zhouba"], unit_id=entry.org_unit_id, trigger="violation",
                             action="accountability", summary="造成不良影响", violation_id=entry.id)
    with pytest.raises(Forbidden, match="PEN-1"):  # the unit does not circulate itself
        circulate_violations(rt, users["zhangsan"], [entry.id], document_number="x", text="y")
    with pytest.raises(InvalidInput):
        circulate_violations(rt, users["zhouba"], [entry.id], document_number="", text="y")
    clock.set(datetime.fromisoformat("2026-03-03T09:00:00+08:00"))
    circulate_violations(rt, users["zhouba"], [entry.id], document_number="区府办通报〔2026〕1号",
                         text="区教育局未在 30 分钟内更正错敏信息，予以通报")
    (row,) = _register(rt, users, "zhouba", status="circulated")["rows"]
    assert (row.circular.document_number, row.circular.circulated_at) == (
        "区府办通报〔2026〕1号", datetime.fromisoformat("2026-03-03T09:00:00+08:00"))
    assert _register(rt, users, "zhouba", status="awaiting")["rows"] == []
    with pytest.raises(ConflictError):  # circulated once
        circulate_violations(rt, users["zhouba"], [entry.id], document_number="2", text="again")
    assert start_accountability(rt, users["zhouba"], unit_id=entry.org_unit_id, trigger="violation",
                                action="accountability", summary="错敏信息造成不良影响", violation_id=entry.id)


def test_pen_1_accountability_is_a_separate_decision_recorded_with_the_serious_consequences(sqlite_rt, sqlite_users,
                                                                                           clock):
    rt, users = sqlite_rt, sqlite_users
    entry = _late_correction(rt, users, clock)
    circulate_violations(rt, users["zhouba"], [entry.id], document_number="区府办通报〔2026〕1号", text="通报")
    with pytest.raises(InvalidInput, match="PEN-1"):  # accountability needs a register entry
        start_accountability(rt, users["zhouba"], unit_id=entry.org_unit_id, trigger="negative_opinion",
                             action="accountability", summary="x")
    iid = start_accountability(rt, users["zhouba"], unit_id=entry.org_unit_id, trigger="violation",
                               action="accountability", summary="错敏信息被大量转发", violation_id=entry.id)
    assert set(ready(rt, iid)) == {"decide"}
    decision = {"consequences": "错误信息被转发 3 万次，造成恶劣影响", "persons": "分管副局长、值班编辑",
                "measures": "诫勉谈话", "document_number": "区纪委〔2026〕3号"}
    with pytest.raises(InvalidInput, match="上传"):
        complete_task(rt, task_id(rt, iid, "decide"), users["zhouba"], outcome="done", form=decision)
    attach(rt, iid, "decide", users["zhouba"], "问责决定.pdf")
    complete_task(rt, task_id(rt, iid, "decide"), users["zhouba"], outcome="done", form=decision)
    assert instance(rt, iid).status == "completed"
    (row,) = _register(rt, users, "zhouba")["rows"]
    assert [case.id for case in row.cases] == [iid]  # the register shows the decision taken on the entry


def test_pen_1_the_office_records_what_no_deadline_catches(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(Forbidden, match="PEN-1"):
        record_violation_by_office(rt, users["zhangsan"], unit_id=_unit_id(rt, "区教育局"), category="6",
                                   description="x")
    with pytest.raises(InvalidInput):
        record_violation_by_office(rt, users["zhouba"], unit_id=_unit_id(rt, "区教育局"), category="10",
                                   description="x")
    with pytest.raises(InvalidInput):  # the account is not the street office's
        record_violation_by_office(rt, users["zhouba"], unit_id=_unit_id(rt, "某街道办事处"), category="3",
                                   description="x", asset_id=_asset_id(rt))
    vid = record_violation_by_office(rt, users["zhouba"], unit_id=_unit_id(rt, "区教育局"), category="6",
                                     description="公众号推送培训机构收费广告", asset_id=_asset_id(rt))
    (row,) = _register(rt, users, "zhouba", category="6")["rows"]
    assert (row.violation.id, row.violation.rule, row.asset, row.unit) == (vid, "PEN-1", "区教育发布", "区教育局")
    assert _register(rt, users, "zhouba", unit_id=_unit_id(rt, "某街道办事处"))["rows"] == []


def test_pen_2_a_summons_after_a_superiors_circular_is_recorded_with_its_document(rt, users):
    unit = _unit_id(rt, "区教育局")
    with pytest.raises(Forbidden, match="PEN-2"):
        start_accountability(rt, users["zhangsan"], unit_id=unit, trigger="superior_circular", action="summons",
                             summary="x")
    iid = start_accountability(rt, users["zhouba"], unit_id=unit, trigger="superior_circular", action="summons",
                               summary="市政府办公室通报区教育局网站更新不及时")
    summons = {"persons": "区教育局分管副局长", "time_place": "2026年3月3日 区政府 301 会议室",
               "content": "限 10 个工作日内整改"}
    with pytest.raises(InvalidInput, match="上传"):
        complete_task(rt, task_id(rt, iid, "summons"), users["zhouba"], outcome="done", form=summons)
    attach(rt, iid, "summons", users["zhouba"], "约谈记录.pdf")
    complete_task(rt, task_id(rt, iid, "summons"), users["zhouba"], outcome="done", form=summons)
    assert ready(rt, iid)["unit_report"].org_unit_id == unit  # the summoned unit reports back
    complete_task(rt, task_id(rt, iid, "unit_report"), users["zhangsan"], outcome="done",
                  form={"measures": "已建立更新台账"})
    # No serious consequences: the case closes without accountability.
    complete_task(rt, task_id(rt, iid, "judge"), users["zhouba"], outcome="close")
    assert instance(rt, iid).status == "completed" and ready(rt, iid) == {}
