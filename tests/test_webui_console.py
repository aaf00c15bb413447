"""The administrators' console over HTTP: every route refuses anonymous users (login redirect) and
non-administrators (403); administrators edit, validate, upload, deploy, compare and download
versions, administer instances and people, each action through the engine with its reason."""

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import AuditEvent, ProcessDefinition, ProcessDraft, User
from db.session import reading
from tests.helpers import instance, submit

BASE = (Path(__file__).resolve().parent.parent / "processes" / "content_review.bpmn").read_text(encoding="utf-8")
CONSOLE_BLUEPRINTS = ("console", "console_processes", "console_instances", "console_people", "console_webhooks")
SAMPLE_VALUES = {"key": "content_review", "number": 1, "instance_id": 1, "user_id": 1, "grant_id": 1,
                 "reset_id": 1, "leak_id": 1, "asset_id": 1, "webhook_id": 1, "delivery_id": 1}
MALICIOUS = BASE.replace("<bpmn:conditionExpression>target_kind == 'wechat'</bpmn:conditionExpression>",
                         "<bpmn:conditionExpression>__import__('os').system('id')</bpmn:conditionExpression>")
XXE = BASE.replace('<?xml version="1.0" encoding="UTF-8"?>',
                   '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', 1
                   ).replace("Lane ids name the roles of RULES.md.", "&xxe;")


def console_routes(app) -> list[tuple[str, str]]:
    """(method, URL) of every console route, with sample values for its parameters."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in CONSOLE_BLUEPRINTS:
            continue
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{name}>", str(SAMPLE_VALUES[name]), url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, url))
    return routes


def test_the_console_has_routes_in_every_section(app):
    urls = {url for _, url in console_routes(app)}
    for expected in ("/admin/", "/admin/processes/", "/admin/processes/content_review/edit", "/admin/instances/",
                     "/admin/org/", "/admin/users/", "/admin/media/", "/admin/tasks/unheld"):
        assert expected in urls
    assert len(urls) >= 30


def test_every_console_route_sends_anonymous_users_to_the_login_page(app, client, auth):
    token = auth._token(client.get("/login").get_data(as_text=True))
    for method, url in console_routes(app):
        response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code == 302, (method, url, response.status_code)
        assert "/login" in response.headers["Location"], (method, url)


@pytest.mark.parametrize("username", ["zhangsan", "chenjing", "zhouba"])
def test_every_console_route_refuses_a_non_administrator_with_403(app, client, auth, username):
    """An editor, the auditor and the district office: logged in, but not administrators."""
    auth.login(username)
    for method, url in console_routes(app):
        response = auth.post(url) if method == "POST" else client.get(url)
        assert response.status_code == 403, (username, method, url, response.status_code)


def test_the_console_link_is_shown_to_administrators_only(client, auth):
    auth.login("zhangsan")
    assert 'data-testid="nav-console"' not in client.get("/inbox/").get_data(as_text=True)
    auth.logout()
    auth.login("liuyang")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-testid="nav-console"' in page
    for link in ("/admin/calendar/", "/admin/calendar/policy", "/admin/incidents/"):
        assert f'href="{link}"' in page


def test_an_administrator_opens_every_console_page(client, auth, sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"])
    auth.login("gaoyuan")
    for url in ("/admin/", "/admin/processes/", "/admin/processes/content_review/edit",
                "/admin/processes/content_review/source.bpmn", "/admin/processes/content_review/versions",
                "/admin/processes/content_review/versions/1", "/admin/instances/?key=content_review",
                f"/admin/instances/{iid}", "/admin/org/", "/admin/users/", "/admin/users/new",
                f"/admin/users/{sqlite_users['lisi'].user_id}", "/admin/tasks/unheld", "/admin/media/"):
        assert client.get(url).status_code == 200, url


# --- processes ---------------------------------------------------------------------------------

def post_xml(client, auth, url: str, xml: str):
    return client.post(url, data=xml.encode(), headers={"Content-Type": "application/xml", "X-CSRFToken": auth.csrf})


def test_validate_answers_each_problem_with_its_element(client, auth):
    auth.login("liuyang")
    ok = post_xml(client, auth, "/admin/processes/content_review/validate", BASE).get_json()
    assert ok == {"ok": True, "problems": []}
    bad = post_xml(client, auth, "/admin/processes/content_review/validate", MALICIOUS).get_json()
    assert bad["ok"] is False
    assert [p["element_id"] for p in bad["problems"]] == ["f_target_wechat"]
    assert "不被允许" in bad["problems"][0]["message"]


def test_a_json_request_without_the_csrf_token_is_refused(client, auth):
    auth.login("liuyang")
    response = client.post("/admin/processes/content_review/validate", data=BASE.encode(),
                           headers={"Content-Type": "application/xml"})
    assert response.status_code == 400


def test_a_draft_is_saved_and_the_editor_opens_it_instead_of_the_deployed_version(client, auth, sqlite_rt):
    auth.login("liuyang")
    draft = BASE.replace('name="签发（三审）"', 'name="签发（三审，草稿）"')
    assert post_xml(client, auth, "/admin/processes/content_review/draft", draft).get_json()["ok"]
    assert "签发（三审，草稿）" in client.get("/admin/processes/content_review/source.bpmn").get_data(as_text=True)
    assert "草稿" in client.get("/admin/processes/content_review/edit").get_data(as_text=True)
    other = BASE.replace('id="content_review" name="三审三校"', 'id="something_else" name="别的流程"')
    refused = post_xml(client, auth, "/admin/processes/content_review/draft", other)
    assert refused.status_code == 400 and "不一致" in refused.get_json()["message"]
    auth.post("/admin/processes/content_review/draft/discard")
    assert "签发（三审）\"" in client.get("/admin/processes/content_review/source.bpmn").get_data(as_text=True)


def deploy_json(client, auth, xml: str, note: str):
    return client.post("/admin/processes/content_review/deploy", data=json.dumps({"xml": xml, "note": note}),
                       headers={"Content-Type": "application/json", "X-CSRFToken": auth.csrf})


def definitions(rt) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(func.count()).select_from(ProcessDefinition)
                              .where(ProcessDefinition.key == "content_review"))


def test_deploying_needs_a_note_a_top_level_administrator_and_a_valid_diagram(client, auth, sqlite_rt):
    v2 = BASE.replace('name="签发（三审）"', 'name="签发（终审）"')
    auth.login("liuyang")  # district administrator: may edit, not deploy
    response = deploy_json(client, auth, v2, "改名")
    assert response.status_code == 403 and "最上级单位" in response.get_json()["message"]
    auth.logout()
    auth.login("gaoyuan")
    assert deploy_json(client, auth, v2, " ").status_code == 400
    refused = deploy_json(client, auth, MALICIOUS, "恶意")
    assert refused.status_code == 422 and refused.get_json()["problems"][0]["element_id"] == "f_target_wechat"
    assert definitions(sqlite_rt) == 1
    done = deploy_json(client, auth, v2, "依据某办〔2026〕5号文调整签发环节名称").get_json()
    assert done["ok"] and done["version"] == 2 and "版本 2" in done["message"]
    assert deploy_json(client, auth, v2, "再次").get_json()["created"] is False
    with reading(sqlite_rt.session_factory) as session:
        row = session.scalar(select(ProcessDefinition).where(ProcessDefinition.version == 2))
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "deploy"))
    assert row.deployed_by == "高远" and row.note.startswith("依据某办")
    assert event.opinion == row.note and event.data["version"] == 2


def test_versions_are_listed_compared_and_downloaded(client, auth, sqlite_rt):
    auth.login("gaoyuan")
    v2 = BASE.replace('name="签发（三审）"', 'name="签发（终审）"').replace(
        '<bpmn:flowNodeRef>sign</bpmn:flowNodeRef>', '<bpmn:flowNodeRef>sign</bpmn:flowNodeRef><bpmn:flowNodeRef>sign_overdue</bpmn:flowNodeRef><bpmn:flowNodeRef>sign_reminded</bpmn:flowNodeRef>'
    ).replace('<bpmn:sequenceFlow id="f_start_review"',
              '<bpmn:boundaryEvent id="sign_overdue" name="签发超时" attachedToRef="sign" cancelActivity="false">'
              '<bpmn:outgoing>f_so</bpmn:outgoing><bpmn:timerEventDefinition id="so_def"><bpmn:timeDate>'
              'add_working_days(start, 3)</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
              '<bpmn:endEvent id="sign_reminded" name="已提醒"><bpmn:incoming>f_so</bpmn:incoming></bpmn:endEvent>'
              '<bpmn:sequenceFlow id="f_so" sourceRef="sign_overdue" targetRef="sign_reminded" />'
              '<bpmn:sequenceFlow id="f_start_review"', 1)
    assert deploy_json(client, auth, v2, "签发限时").get_json()["version"] == 2
    listing = client.get("/admin/processes/content_review/versions").get_data(as_text=True)
    assert "签发限时" in listing and 'data-version="2"' in listing
    diff = client.get("/admin/processes/content_review/diff?a=1&b=2").get_data(as_text=True)
    added = re.search(r'data-testid="diff-added">(.*?)</ul>', diff, re.S).group(1)
    assert "sign_overdue" in added and "sign_reminded" in added and "f_so" in added
    changed = re.search(r'data-testid="diff-changed">(.*?)</ul>\s*</li>\s*</ul>', diff, re.S).group(0)
    assert "签发（三审） → 签发（终审）" in changed
    download = client.get("/admin/processes/content_review/versions/1.bpmn")
    assert download.headers["Content-Disposition"] == 'attachment; filename="content_review-v1.bpmn"'
    assert download.get_data(as_text=True) == BASE
    assert client.get("/admin/processes/content_review/versions/9").status_code == 404


def upload(client, auth, content: str, name: str = "diagram.bpmn"):
    return auth.post("/admin/processes/upload", {"file": (io.BytesIO(content.encode()), name)},
                     content_type="multipart/form-data")


def test_an_xxe_upload_is_refused_with_a_sentence_and_stores_nothing(client, auth, sqlite_rt):
    auth.login("liuyang")
    response = upload(client, auth, XXE)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/processes/")
    page = client.get("/admin/processes/").get_data(as_text=True)
    assert "上传被拒绝：流程图中不允许包含 DOCTYPE 或实体声明" in page
    assert "root:" not in page
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(ProcessDraft)) == 0


def test_an_upload_becomes_a_draft_whose_problems_the_editor_shows_and_nothing_is_deployed(client, auth, sqlite_rt):
    auth.login("liuyang")
    response = upload(client, auth, MALICIOUS)
    assert response.headers["Location"].endswith("/admin/processes/content_review/edit")
    assert "__import__" in client.get("/admin/processes/content_review/source.bpmn").get_data(as_text=True)
    assert definitions(sqlite_rt) == 1
    problems = post_xml(client, auth, "/admin/processes/content_review/validate", MALICIOUS).get_json()["problems"]
    assert problems[0]["element_id"] == "f_target_wechat"


def test_a_new_process_starts_as_a_draft_that_passes_the_checks(client, auth, sqlite_rt):
    auth.login("liuyang")
    response = auth.post("/admin/processes/new", {"key": "duty_reading", "name": "值班读网"})
    assert response.headers["Location"].endswith("/admin/processes/duty_reading/edit")
    xml = client.get("/admin/processes/duty_reading/source.bpmn").get_data(as_text=True)
    assert post_xml(client, auth, "/admin/processes/duty_reading/validate", xml).get_json()["ok"]
    assert auth.post("/admin/processes/new", {"key": "content_review", "name": "重名"}).status_code == 303
    assert "已存在" in client.get("/admin/processes/").get_data(as_text=True)


# --- instances --------------------------------------------------------------------------------

def test_an_administrator_suspends_resumes_and_cancels_an_instance_with_reasons(client, auth, sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"])
    auth.login("liuyang")
    page = client.get(f"/admin/instances/{iid}").get_data(as_text=True)
    assert 'data-testid="variables"' in page and "portal_column" in page and "<code>review</code>" in page
    auth.post(f"/admin/instances/{iid}/suspend", {"reason": ""})
    assert "请填写挂起的理由" in client.get(f"/admin/instances/{iid}").get_data(as_text=True)
    auth.post(f"/admin/instances/{iid}/suspend", {"reason": "核查稿件来源"})
    assert instance(sqlite_rt, iid).suspended
    assert 'data-testid="instance-suspended"' in client.get(f"/admin/instances/{iid}").get_data(as_text=True)
    auth.post(f"/admin/instances/{iid}/resume", {"reason": "核查完毕"})
    assert not instance(sqlite_rt, iid).suspended
    auth.post(f"/admin/instances/{iid}/cancel", {"reason": "重复稿件"})
    assert instance(sqlite_rt, iid).status == "cancelled"
    listing = client.get("/admin/instances/?status=cancelled").get_data(as_text=True)
    assert f'data-instance="{iid}"' in listing


# --- people -----------------------------------------------------------------------------------

def test_a_new_account_shows_its_initial_password_once_and_never_in_the_session(client, auth, sqlite_rt):
    auth.login("liuyang")
    with reading(sqlite_rt.session_factory) as session:
        unit = session.scalar(select(User.org_unit_id).where(User.username == "zhangsan"))
    refused = auth.post("/admin/users/new", {"username": "office", "real_name": "办公室", "unit_id": unit,
                                             "phone": "13800000001"})
    assert refused.status_code == 400 and "ACC-1" in refused.get_data(as_text=True)
    created = auth.post("/admin/users/new", {"username": "zhangwei", "real_name": "张伟", "unit_id": unit,
                                             "phone": "13800000001"})
    password = re.search(r'data-testid="issued-password">([^<]+)<', created.get_data(as_text=True)).group(1)
    with client.session_transaction() as session:
        assert password not in json.dumps(dict(session), default=str)
    auth.logout()
    auth.login("zhangwei", password)
    assert client.get("/inbox/").headers["Location"].endswith("/account/password")


def test_a_reset_through_the_console_keeps_the_letter_for_download(client, auth, sqlite_rt, sqlite_users):
    auth.login("liuyang")
    lisi = sqlite_users["lisi"].user_id
    response = auth.post(f"/admin/users/{lisi}/reset", {"letter_number": "区教育局函〔2026〕9号",
                                                         "letter": (io.BytesIO(b"%PDF-1.4 letter"), "函.pdf")},
                         content_type="multipart/form-data")
    assert response.status_code == 200 and 'data-testid="issued-password"' in response.get_data(as_text=True)
    page = client.get(f"/admin/users/{lisi}").get_data(as_text=True)
    link = re.search(r'href="(/admin/users/\d+/resets/\d+/letter)"', page).group(1)
    assert client.get(link).get_data() == b"%PDF-1.4 letter"


def test_deactivating_through_the_console_reports_what_happened_to_the_tasks(client, auth, sqlite_rt, sqlite_users):
    submit(sqlite_rt, sqlite_users["zhangsan"])
    auth.login("liuyang")
    lisi = sqlite_users["lisi"].user_id
    auth.post(f"/admin/users/{lisi}/deactivate", {"reason": "调离"})
    page = client.get(f"/admin/users/{lisi}").get_data(as_text=True)
    assert "账号已停用" in page and "1 个无人可办已提醒管理员" in page
    assert "内容审核（二审）" in client.get("/admin/tasks/unheld").get_data(as_text=True)


def test_an_instance_is_migrated_from_its_page_or_refused_with_the_missing_step(client, auth, sqlite_rt, sqlite_users):
    from engine import deploy

    iid = submit(sqlite_rt, sqlite_users["zhangsan"])
    renamed = BASE.replace('"review"', '"content_check"').replace(">review<", ">content_check<")
    bad = deploy(sqlite_rt, renamed.encode(), deployed_by="tests", note="审核环节改名")
    auth.login("liuyang")
    page = client.get(f"/admin/instances/{iid}").get_data(as_text=True)
    assert 'data-testid="migrate-version"' in page and "审核环节改名" in page
    auth.post(f"/admin/instances/{iid}/migrate", {"definition_id": bad.definition_id, "reason": "试迁移"})
    assert "当前环节 review（内容审核（二审））在版本 2 中不存在" in client.get(f"/admin/instances/{iid}").get_data(as_text=True)
    good = deploy(sqlite_rt, BASE.replace('name="签发（三审）"', 'name="签发"').encode(), deployed_by="tests", note="改名")
    auth.post(f"/admin/instances/{iid}/migrate", {"definition_id": good.definition_id, "reason": "采用新版本"})
    page = client.get(f"/admin/instances/{iid}").get_data(as_text=True)
    assert "事项已迁移到新版本" in page and "版本 3" in page
