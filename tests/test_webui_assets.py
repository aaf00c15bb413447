"""网站与账号 in the web UI: the registry, an asset's page, applying for temporary offline (OFF-1)."""

import re

from sqlalchemy import select

from db.models import Asset, ProcessInstance
from db.session import reading


def _asset_id(rt, name="区教育发布") -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset.id).where(Asset.name == name))


def _instances(rt) -> int:
    with reading(rt.session_factory) as session:
        return len(session.scalars(select(ProcessInstance.id)).all())


def test_the_host_unit_applies_for_temporary_offline_from_the_asset_page(client, auth, sqlite_rt):
    auth.login("zhangsan")
    html = client.get("/assets/").get_data(as_text=True)
    assert "区教育发布" in html and "某街道发布" not in html  # another unit's account is not listed
    asset_id = _asset_id(sqlite_rt)
    page = client.get(f"/assets/{asset_id}").get_data(as_text=True)
    assert "已上线" in page and 'data-testid="apply-offline"' in page

    before = _instances(sqlite_rt)
    refused = auth.post(f"/assets/{asset_id}/offline", {"path": "approval", "reason_kind": "rectification", "reason": ""})
    assert "请填写下线原因" in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert _instances(sqlite_rt) == before

    done = auth.post(f"/assets/{asset_id}/offline", {"path": "approval", "reason_kind": "rectification",
                                                     "reason": "栏目内容全面整改"})
    item = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "区教育发布申请临时下线" in item and "整改：栏目内容全面整改" in item
    auth.logout()
    auth.login("zhouba")
    inbox = client.get("/inbox/").get_data(as_text=True)
    assert "区政府办审核" in inbox and "区教育发布申请临时下线" in inbox


def test_people_of_another_unit_cannot_open_the_asset(client, auth, sqlite_rt):
    auth.login("huanglei")
    assert client.get(f"/assets/{_asset_id(sqlite_rt)}").status_code == 403


def test_the_district_office_sees_the_assets_of_the_units_below(client, auth, sqlite_rt):
    auth.login("zhouba")
    html = client.get("/assets/").get_data(as_text=True)
    assert {"区教育发布", "某街道发布", "某区人民政府门户网站"} <= set(re.findall(r">([^<>]+)</a></td>", html))


def test_the_host_unit_applies_for_closure_with_grounds_and_a_plan(client, auth, sqlite_rt):
    auth.login("zhangsan")
    asset_id = _asset_id(sqlite_rt, "某区教育")
    assert 'data-testid="apply-closure"' in client.get(f"/assets/{asset_id}").get_data(as_text=True)
    done = auth.post(f"/assets/{asset_id}/close", {"grounds": "consolidation", "plan": "并入区教育发布"})
    item = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "某区教育关停注销申请" in item and "集约化整合：并入区教育发布" in item
    # One request at a time: the page offers no second one while this runs.
    page = client.get(f"/assets/{asset_id}").get_data(as_text=True)
    assert 'data-testid="apply-closure"' not in page and 'data-testid="apply-offline"' not in page


def test_an_editor_applies_to_open_an_account_and_a_missing_field_keeps_what_was_typed(client, auth, sqlite_rt):
    auth.login("zhangsan")
    form = {"platform": "douyin", "name": "区教育发布", "purpose": "unit", "real_name_verified": "yes",
            "leadership": "分管副局长牵头", "funding": "", "rules": "三审三校", "contact_person": "张三",
            "contact_phone": "010-12345678"}
    refused = auth.post("/assets/new-media", form)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "请填写“经费保障”" in html and "分管副局长牵头" in html
    done = auth.post("/assets/new-media", {**form, "funding": "年度预算"})
    assert "开设抖音账号“区教育发布”" in client.get(done.headers["Location"]).get_data(as_text=True)


def test_every_lifecycle_request_can_be_started_from_the_pages(client, auth, sqlite_rt):
    auth.login("zhangsan")
    wechat = _asset_id(sqlite_rt, "区教育发布")
    page = client.get(f"/assets/{wechat}").get_data(as_text=True)
    for form in ("apply-offline", "apply-closure", "apply-change", "apply-exit", "apply-migration"):
        assert f'data-testid="{form}"' in page
    done = auth.post(f"/assets/{wechat}/change", {"contacts": "010-66668888"})
    assert "区教育发布信息变更" in client.get(done.headers["Location"]).get_data(as_text=True)

    forms = client.get("/assets/apply").get_data(as_text=True)
    assert all(f'data-testid="{f}"' in forms for f in ("apply-website", "apply-app", "apply-column"))
    refused = auth.post("/assets/apply/website", {"name": "某区教育网", "special_need": ""})
    assert "特殊需要" in client.get(refused.headers["Location"]).get_data(as_text=True)
    app = auth.post("/assets/apply/app", {"name": "区教育通", "tester": "某测评中心", "report_number": "AQ-1",
                                          "report_date": "2026-10-20"})
    assert "移动客户端“区教育通”上线申请" in client.get(app.headers["Location"]).get_data(as_text=True)
    column = auth.post("/assets/apply/column", {"kind": "column", "name": "教育惠民政策", "owner": "张三",
                                                "update_frequency": "每周", "review": "三审三校"})
    assert "开设栏目/专题“教育惠民政策”" in client.get(column.headers["Location"]).get_data(as_text=True)
