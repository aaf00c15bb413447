"""安全管理, 监督考核 and 违规登记 in the web UI: forms post through CSRF, refusals are sentences,
outsiders get 403 or see nothing of other units."""

import re
from datetime import datetime

from sqlalchemy import select

from db.models import Asset, OrgUnit, ProcessInstance, SecurityRecord, Violation
from db.session import reading
from engine.policy import load_policy


def _asset_id(rt, name) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset.id).where(Asset.name == name))


def _unit_id(rt, name) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(OrgUnit.id).where(OrgUnit.name == name))


def test_the_host_unit_reports_an_incident_and_the_operator_finds_it_in_the_inbox(client, auth, sqlite_rt):
    auth.login("zhangsan")
    page = client.get("/security/").get_data(as_text=True)
    assert 'data-testid="report-incident"' in page and 'data-testid="notify-hazard"' not in page
    refused = auth.post("/security/incidents", {"asset_id": _asset_id(sqlite_rt, "区教育发布"), "kind": "incident",
                                                "severity": "large", "description": ""})
    assert "请填写事件情况" in client.get(refused.headers["Location"]).get_data(as_text=True)
    done = auth.post("/security/incidents", {"asset_id": _asset_id(sqlite_rt, "区教育发布"), "kind": "incident",
                                             "severity": "large", "description": "公众号后台异常登录"})
    assert "/instances/" in done.headers["Location"]
    auth.logout()
    auth.login("sunqi")
    assert "向政府办公室报告" in client.get("/inbox/").get_data(as_text=True)


def test_security_evidence_is_recorded_on_the_asset_page_by_its_host_only(client, auth, sqlite_rt):
    account = _asset_id(sqlite_rt, "区教育发布")
    auth.login("zhangsan")
    page = client.get(f"/security/assets/{account}").get_data(as_text=True)
    assert 'data-testid="security-missing"' in page and 'data-testid="record-emergency_plan"' in page
    auth.post(f"/security/assets/{account}/records", {"kind": "emergency_plan", "occurred_on": "2026-02-01",
                                                       "title": "公众号应急预案", "version": "v1",
                                                       "network_cut_plan": "发现入侵立即冻结账号"})
    assert "公众号应急预案" in client.get(f"/security/assets/{account}").get_data(as_text=True)
    auth.logout()
    auth.login("huanglei")
    assert client.get(f"/security/assets/{account}").status_code == 403
    auth.post(f"/security/assets/{account}/records", {"kind": "drill", "occurred_on": "2026-02-01",
                                                       "scenario": "x", "participants": "y", "summary": "z"})
    with reading(sqlite_rt.session_factory) as session:
        assert [r.kind for r in session.scalars(select(SecurityRecord))] == ["emergency_plan"]


def test_the_office_keeps_the_responsibility_table_and_units_record_updates(client, auth, sqlite_rt):
    from tests.helpers import register_asset

    column = register_asset(sqlite_rt, "column", "政策解读")
    auth.login("zhangsan")
    page = client.get("/supervision/").get_data(as_text=True)
    assert "区教育发布" in page and "某街道发布" not in page and f'data-testid="responsibility-{column}"' not in page
    sqlite_rt.clock.set(datetime.fromisoformat("2026-03-04T10:00:00+08:00"))
    auth.login("zhangsan")  # two days later the idle session has timed out (GOVFLOW_SESSION_MINUTES)
    auth.post(f"/supervision/assets/{_asset_id(sqlite_rt, '区教育发布')}/updates",
              {"title": "开学第一课", "published_at": "2026-03-03T09:00"})
    so_far = re.findall(r'data-testid="so-far">(\d+)', client.get("/supervision/").get_data(as_text=True))
    assert "1" in so_far
    auth.logout()
    auth.login("zhouba")
    assert f'data-testid="responsibility-{column}"' in client.get("/supervision/").get_data(as_text=True)
    auth.post(f"/supervision/columns/{column}/responsibility",
              {"owner_unit_id": _unit_id(sqlite_rt, "区教育局"), "updates": "2", "period": "week",
               "content": "政策文件解读", "quality": "准确"})
    html = client.get("/supervision/").get_data(as_text=True)
    assert "每周 ≥ 2" in html and "政策文件解读" in html


def test_the_register_shows_entries_per_unit_and_the_office_circulates_them(client, auth, sqlite_rt, sqlite_users):
    from engine.violations import record_violation_by_office

    vid = record_violation_by_office(sqlite_rt, sqlite_users["zhouba"], unit_id=_unit_id(sqlite_rt, "区教育局"),
                                     category="3", description="转载未经审核的不实信息")
    auth.login("huanglei")
    assert "转载未经审核的不实信息" not in client.get("/violations/").get_data(as_text=True)
    auth.logout()
    auth.login("zhangsan")
    html = client.get("/violations/").get_data(as_text=True)
    assert "转载未经审核的不实信息" in html and 'name="violation_id"' not in html  # sees it, cannot circulate
    auth.logout()
    auth.login("zhouba")
    assert 'data-testid="awaiting"' in client.get("/violations/?status=awaiting").get_data(as_text=True)
    refused = auth.post("/violations/circulate", {"violation_id": str(vid), "document_number": "", "text": "x"})
    assert "请填写通报文号" in client.get(refused.headers["Location"]).get_data(as_text=True)
    auth.post("/violations/circulate", {"violation_id": str(vid), "document_number": "区府办通报〔2026〕5号",
                                        "text": "予以通报"})
    html = client.get("/violations/?category=3").get_data(as_text=True)
    assert "区府办通报〔2026〕5号" in html and 'data-testid="awaiting"' not in html
    started = auth.post("/violations/accountability", {"unit_id": _unit_id(sqlite_rt, "区教育局"), "action": "summons",
                                                       "trigger": "violation", "violation_id": str(vid),
                                                       "summary": "不实信息造成负面影响"})
    assert "/instances/" in started.headers["Location"]
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(ProcessInstance.business_key).order_by(ProcessInstance.id.desc())) == (
            f"unit:{_unit_id(sqlite_rt, '区教育局')}:accountability:v{vid}")
        assert session.get(Violation, vid).category == "3"


def test_every_form_needs_the_csrf_token(client, auth, sqlite_rt):
    auth.login("zhouba")
    response = client.post("/violations/record", data={"unit_id": "1", "category": "3", "description": "x"})
    assert response.status_code == 400
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(Violation.id)) is None


def test_the_policy_page_shows_the_security_and_supervision_deadlines(client, auth, sqlite_rt):
    sqlite_rt.policy = load_policy("fujin", "")
    auth.login("chenjing")
    html = client.get("/admin/calendar/policy").get_data(as_text=True)
    for key in ("hazard_rectification_hours", "incident_report_minutes", "intrusion_cutoff_minutes",
                "counterfeit_report_hours", "update_rectification_working_days", "topic_plan_due"):
        assert key in html


def test_the_three_pages_speak_english_too(client, auth, sqlite_rt):
    from engine.demo import seed_demo_work

    seed_demo_work(sqlite_rt)
    auth.login("zhouba")
    for url, heading in (("/security/?lang=en", "Security requests"), ("/supervision/?lang=en", "Update monitoring"),
                         ("/violations/?lang=en", "By unit and type")):
        response = client.get(url)
        assert response.status_code == 200 and heading in response.get_data(as_text=True)
    asset = _asset_id(sqlite_rt, "区教育局网站")
    assert "Plans, filings, drills and tests" in client.get(f"/security/assets/{asset}?lang=en").get_data(as_text=True)
