"""DEC-6 (exit from supervision) and CHG-3 (portal column adjustments proposed by the operator)."""


import pytest
from sqlalchemy import select

from db.models import Asset, OrgUnit
from db.session import reading
from engine import Forbidden, InvalidInput, complete_task
from engine.assets import start_column_adjustment, start_exit_supervision
from tests.helpers import attach, instance, ready, register_asset, task_id


def _asset(rt, name) -> Asset:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset).where(Asset.name == name))


def _do(rt, iid, step, actor, outcome="pass", **kwargs):
    complete_task(rt, task_id(rt, iid, step), actor, outcome=outcome, **kwargs)


def test_dec_6_exit_needs_the_establishment_document_and_the_state_council_decision(rt, users):
    account = _asset(rt, "区教育发布").id
    with pytest.raises(InvalidInput, match="DEC-6"):
        start_exit_supervision(rt, users["zhangsan"], account, establishment_document="", reason="职能划转")
    iid = start_exit_supervision(rt, users["zhangsan"], account, establishment_document="某编办〔2026〕12号",
                                 reason="区教育局行政职能划入区政府，不再承担行政职能")
    for step, who in (("district_review", "zhouba"), ("city_review", "wujiu")):
        assert _asset(rt, "区教育发布").state == "online"
        _do(rt, iid, step, users[who])
    assert ready(rt, iid)["state_council_decision"].role == "province_office"
    with pytest.raises(InvalidInput, match="批复文号"):
        _do(rt, iid, "state_council_decision", users["zhengshi"], form={"document": ""})
    with pytest.raises(InvalidInput, match="上传"):  # recorded with the document itself
        _do(rt, iid, "state_council_decision", users["zhengshi"], form={"document": "国办函〔2026〕8号"})
    attach(rt, iid, "state_council_decision", users["zhengshi"], "国办函〔2026〕8号.pdf")
    _do(rt, iid, "state_council_decision", users["zhengshi"], form={"document": "国办函〔2026〕8号"})
    asset = _asset(rt, "区教育发布")
    assert asset.state == "exited" and asset.attributes["external_decision"] == {"document": "国办函〔2026〕8号"}
    assert asset.attributes["establishment_document"] == "某编办〔2026〕12号"


def test_dec_6_a_refused_exit_leaves_the_account_supervised(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = start_exit_supervision(rt, users["zhangsan"], _asset(rt, "区教育发布").id, establishment_document="编办文件",
                                 reason="职能调整")
    _do(rt, iid, "district_review", users["zhouba"], outcome="reject", opinion="仍承担行政职能")
    assert _asset(rt, "区教育发布").state == "online" and instance(rt, iid).status == "completed"


def _column(rt) -> int:
    return register_asset(rt, "column", "教育动态")


def test_chg_3_the_operator_proposes_and_the_office_approves_before_the_change_is_made(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    column = _column(rt)
    with pytest.raises(Forbidden, match="CHG-3"):
        start_column_adjustment(rt, users["zhangsan"], column, proposal="拆分为两个子栏目")
    iid = start_column_adjustment(rt, users["sunqi"], column, proposal="拆分为“通知公告”“工作动态”两个子栏目")
    assert _asset(rt, "教育动态").attributes.get("column_structure") is None
    assert ready(rt, iid)["office_approval"].role == "district_office"
    _do(rt, iid, "office_approval", users["zhouba"])
    assert _asset(rt, "教育动态").attributes["column_structure"].startswith("拆分为")


def test_chg_2_a_unit_registers_its_leader_and_at_least_one_liaison_with_the_operator(rt, users):
    from engine.assets import start_unit_contacts

    with pytest.raises(InvalidInput, match="联络员"):
        start_unit_contacts(rt, users["zhangsan"], leader="赵六（副局长）", liaisons="  \n ")
    iid = start_unit_contacts(rt, users["zhangsan"], leader="赵六（副局长）", liaisons="张三 010-12345678\n王五 010-87654321")
    assert ready(rt, iid)["head_confirm"].role == "unit_head"
    _do(rt, iid, "head_confirm", users["zhaoliu"])
    assert ready(rt, iid)["operator_record"].role == "egov_center"
    _do(rt, iid, "operator_record", users["sunqi"], outcome="done")
    with reading(rt.session_factory) as session:
        unit = session.scalar(select(OrgUnit).where(OrgUnit.name == "区教育局"))
        assert unit.contacts["leader"] == "赵六（副局长）"
        assert unit.contacts["liaisons"] == ["张三 010-12345678", "王五 010-87654321"]
        assert unit.contacts["instance_id"] == iid
