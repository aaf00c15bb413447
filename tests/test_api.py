"""Issue 11: the JSON API under /api/v1 — every endpoint, and its refusals, through the real app.

Requests carry a personal API token (engine/api_tokens.py); the routes call the same engine
commands the web UI calls, so these tests are about what the API adds: schemas, scope,
problem+json, business keys, and that the engine's answers reach the caller intact.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from db.models import ApiToken, AuditEvent, ContentItem, ProcessInstance, User
from db.session import reading, transaction
from engine.api_tokens import create_token
from tests.helpers import grant

ARTICLE = {"business_key": "CMS-2026-0042", "title": "关于开展校园安全检查的通知", "body": "各学校：请于本周完成自查。",
           "target_kind": "wechat", "target_name": "区教育发布"}


def token_for(rt, username: str, roles: list[str] | None = None, days: int | None = 30) -> str:
    with transaction(rt.session_factory) as session:
        user = session.scalar(select(User).where(User.username == username))
        return create_token(session, user, name="CMS", roles=roles, days=days, now=rt.clock.now())[1]


class Api:
    """A test client that sends one user's token."""

    def __init__(self, client, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, url, **kw):
        return self.client.get(f"/api/v1{url}", headers=self.headers, **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(f"/api/v1{url}", json=json if json is not None else {}, headers=self.headers, **kw)


@pytest.fixture
def as_user(app, sqlite_rt):
    def make(username: str, roles: list[str] | None = None) -> Api:
        return Api(app.test_client(), token_for(sqlite_rt, username, roles))
    return make


def _problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.get_json(force=True)
    assert body["type"] == f"urn:govflow:problem:{kind}" and body["status"] == status and body["detail"]
    return body


def _todo_task(api: Api, instance_id: int) -> dict:
    rows = [r for r in api.get("/tasks").get_json()["items"] if r["instance_id"] == instance_id]
    assert len(rows) == 1, rows
    return rows[0]


# --- authentication -----------------------------------------------------------------------

def test_without_a_token_every_route_answers_401_problem_json(client):
    for url in ("/api/v1/me", "/api/v1/tasks", "/api/v1/definitions", "/api/v1/assets", "/api/v1/audit/events"):
        body = _problem(client.get(url), 401, "unauthenticated")
        assert "令牌" in body["detail"]
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer gf_not-a-real-token"})
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _problem(response, 401, "unauthenticated")


def test_a_session_cookie_is_no_credential_for_the_api(client, auth):
    auth.login("zhangsan")
    _problem(client.get("/api/v1/me"), 401, "unauthenticated")


def test_a_revoked_or_expired_token_is_refused(app, sqlite_rt, clock):
    from engine.api_tokens import revoke_token

    token = token_for(sqlite_rt, "zhangsan", days=1)
    api = Api(app.test_client(), token)
    assert api.get("/me").status_code == 200
    clock.advance(days=1, seconds=1)
    _problem(api.get("/me"), 401, "unauthenticated")
    fresh = token_for(sqlite_rt, "zhangsan")
    with transaction(sqlite_rt.session_factory) as session:
        user = session.scalar(select(User).where(User.username == "zhangsan"))
        newest = session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()).limit(1))
        revoke_token(session, user, newest, now=sqlite_rt.clock.now())
    _problem(Api(app.test_client(), fresh).get("/me"), 401, "unauthenticated")


def test_repeated_bad_tokens_from_one_address_get_429_with_retry_after(app):
    client = app.test_client()
    app.config["GOVFLOW_API_AUTH_FAILURES"] = 3
    for _ in range(3):
        _problem(client.get("/api/v1/me", headers={"Authorization": "Bearer gf_wrong"}), 401, "unauthenticated")
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer gf_wrong"})
    body = _problem(response, 429, "too-many-requests")
    assert int(response.headers["Retry-After"]) > 0 and "秒后再试" in body["detail"]


def test_me_names_the_owner_and_the_token_scope(as_user):
    body = as_user("lisi", ["reviewer"]).get("/me").get_json()
    assert body["username"] == "lisi" and body["real_name"] == "李四" and body["token_roles"] == ["reviewer"]
    assert as_user("lisi").get("/me").get_json()["token_roles"] == ["reviewer", "signer"]


def test_errors_speak_english_when_asked(client):
    body = client.get("/api/v1/me", headers={"Accept-Language": "en"}).get_json(force=True)
    assert body["title"] == "No valid API token" and "Bearer" in body["detail"]


# --- three-level review through the API (the CMS's path) ----------------------------------

def test_a_cms_submits_an_article_and_follows_it_to_publication(as_user, sqlite_rt):
    cms, lisi, wangwu = as_user("zhangsan"), as_user("lisi", ["reviewer"]), as_user("wangwu")
    created = cms.post("/content", ARTICLE)
    assert created.status_code == 201, created.get_data(as_text=True)
    instance = created.get_json()
    assert instance["business_key"] == "CMS-2026-0042" and instance["status"] == "running"
    assert instance["content"]["status"] != "published" and [t["name"] for t in instance["open_tasks"]]

    row = _todo_task(lisi, instance["id"])
    task = lisi.get(f"/tasks/{row['id']}").get_json()
    assert {o["key"] for o in task["outcomes"]} == {"pass", "return"}
    assert task["instance"]["history"][0]["actor"] == "张三"
    done = lisi.post(f"/tasks/{row['id']}/complete", {"outcome": "pass", "opinion": "内容准确，同意。"})
    assert done.status_code == 200 and done.get_json()["state"] == "completed"
    assert done.get_json()["completed_by"]["username"] == "lisi"

    sign = _todo_task(wangwu, instance["id"])
    assert wangwu.post(f"/tasks/{sign['id']}/complete", {"outcome": "pass", "opinion": "同意签发。"}).status_code == 200

    final = cms.get(f"/instances/{instance['id']}").get_json()
    assert final["status"] == "completed" and final["content"]["status"] == "published"
    opinions = [(h["actor"], h["opinion"]) for h in final["history"] if h["action"] == "complete"]
    assert opinions == [("李四", "内容准确，同意。"), ("王五", "同意签发。")]
    found = cms.get("/instances", query_string={"business_key": "CMS-2026-0042"}).get_json()["items"]
    assert [i["id"] for i in found] == [instance["id"]]
    assert lisi.get("/tasks", query_string={"list": "done"}).get_json()["items"][0]["instance_id"] == instance["id"]


def test_the_same_business_key_twice_while_running_is_409_naming_the_instance(as_user, sqlite_rt):
    cms = as_user("zhangsan")
    first = cms.post("/content", ARTICLE).get_json()
    body = _problem(cms.post("/content", ARTICLE), 409, "conflict")
    assert body["instance_id"] == first["id"] and "CMS-2026-0042" in body["detail"]
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(ContentItem)) == 1
        assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 1


def test_REV_3_one_person_cannot_review_and_sign_the_same_item_through_the_api(as_user):
    """REV-3 via the API: 李四 holds reviewer and signer; the signing step refuses him with why."""
    cms, lisi = as_user("zhangsan"), as_user("lisi")
    instance = cms.post("/content", ARTICLE).get_json()
    review = _todo_task(lisi, instance["id"])
    assert lisi.post(f"/tasks/{review['id']}/complete", {"outcome": "pass"}).status_code == 200
    sign_id = cms.get(f"/instances/{instance['id']}").get_json()["open_tasks"][0]["id"]
    body = _problem(lisi.post(f"/tasks/{sign_id}/complete", {"outcome": "pass"}), 403, "forbidden")
    assert "李四" in body["detail"] or "已" in body["detail"]
    assert cms.get(f"/instances/{instance['id']}").get_json()["open_tasks"][0]["id"] == sign_id


def test_REV_4_return_needs_a_reason_and_sends_the_item_back_to_the_editor(as_user):
    cms, lisi = as_user("zhangsan"), as_user("lisi", ["reviewer"])
    instance = cms.post("/content", ARTICLE).get_json()
    review = _todo_task(lisi, instance["id"])
    body = _problem(lisi.post(f"/tasks/{review['id']}/return", {}), 422, "validation-failed")
    assert "reason" in str(body["errors"])
    back = lisi.post(f"/tasks/{review['id']}/return", {"reason": "标题有错别字"})
    assert back.status_code == 200 and back.get_json()["outcome"] == "return"
    revise = _todo_task(cms, instance["id"])
    assert cms.get(f"/tasks/{revise['id']}").get_json()["instance"]["history"][-1]["opinion"] == "标题有错别字"


def test_a_fellow_reviewer_completing_a_task_someone_else_already_completed_gets_409_not_404(as_user, sqlite_rt):
    """The race's loser, when it arrives after the winner committed: it could have worked the task,
    so it is told who completed it and when (not that the task does not exist)."""
    grant(sqlite_rt, "huanglei", "reviewer")  # a second reviewer of 区教育局
    cms, lisi, huanglei = as_user("zhangsan"), as_user("lisi", ["reviewer"]), as_user("huanglei", ["reviewer"])
    review_id = cms.post("/content", ARTICLE).get_json()["open_tasks"][0]["id"]
    assert lisi.post(f"/tasks/{review_id}/complete", {"outcome": "pass", "opinion": "同意"}).status_code == 200
    late = _problem(huanglei.post(f"/tasks/{review_id}/complete", {"outcome": "pass", "opinion": "同意"}), 409,
                    "conflict")
    assert late["completed_by"]["username"] == "lisi" and late["completed_at"]
    shown = huanglei.get(f"/tasks/{review_id}").get_json()
    assert shown["state"] == "completed" and shown["outcomes"] == []
    # Someone who never could have worked it still learns nothing.
    assert _problem(as_user("linfang").get(f"/tasks/{review_id}"), 404, "not-found")


def test_rev_3_the_todo_list_names_the_lanes_that_bar_a_step(as_user):
    cms, lisi = as_user("zhangsan"), as_user("lisi", ["reviewer", "signer"])
    instance = cms.post("/content", ARTICLE).get_json()
    review = _todo_task(lisi, instance["id"])
    assert review["barred_roles"] == []
    assert lisi.post(f"/tasks/{review['id']}/complete", {"outcome": "pass", "opinion": "同意"}).status_code == 200
    sign = _todo_task(lisi, instance["id"])
    assert sign["step"] != review["step"] and sign["barred_roles"] == ["reviewer"]
    assert as_user("wangwu", ["signer"]).get("/tasks").get_json()["items"][0]["barred_roles"] == []


def test_two_clients_completing_the_same_task_one_wins_the_other_gets_409_naming_who_and_when(rt):
    """On SQLite and PostgreSQL: two systems post the same completion at the same moment."""
    from webui import create_app

    app = create_app({"SECRET_KEY": "test-secret", "TESTING": True, "GOVFLOW_RUNTIME": rt})
    grant(rt, "huanglei", "reviewer")  # a second reviewer of 区教育局
    cms = Api(app.test_client(), token_for(rt, "zhangsan"))
    instance = cms.post("/content", ARTICLE).get_json()
    review_id = instance["open_tasks"][0]["id"]
    clients = [Api(app.test_client(), token_for(rt, name, ["reviewer"])) for name in ("lisi", "huanglei")]
    barrier, answers = threading.Barrier(2), [None, None]

    def race(i):
        barrier.wait()
        answers[i] = clients[i].post(f"/tasks/{review_id}/complete", {"outcome": "pass", "opinion": f"第{i}人"})

    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409], [a.get_data(as_text=True) for a in answers]
    winner = next(a for a in answers if a.status_code == 200).get_json()["completed_by"]
    loser = _problem(next(a for a in answers if a.status_code == 409), 409, "conflict")
    assert loser["completed_by"]["username"] == winner["username"]
    assert loser["completed_at"] and winner["real_name"] in loser["detail"]
    with reading(rt.session_factory) as session:
        completes = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance["id"],
                                                             AuditEvent.action == "complete")).all()
    assert len(completes) == 1


def test_a_token_acts_only_in_its_roles(as_user):
    cms = as_user("zhangsan")
    instance = cms.post("/content", ARTICLE).get_json()
    review_id = instance["open_tasks"][0]["id"]
    signer_only = as_user("lisi", ["signer"])
    body = _problem(signer_only.post(f"/tasks/{review_id}/complete", {"outcome": "pass"}), 403, "forbidden")
    assert "审核" in body["detail"] or "reviewer" in body["detail"] or "权限范围" in body["detail"]
    _problem(as_user("lisi").post("/content", ARTICLE), 403, "forbidden")  # lisi is no editor


def test_claim_takes_a_group_task_and_keeps_others_out(app, sqlite_rt, as_user):
    grant(sqlite_rt, "huanglei", "reviewer")
    instance = as_user("zhangsan").post("/content", ARTICLE).get_json()
    review_id = instance["open_tasks"][0]["id"]
    claimed = as_user("lisi", ["reviewer"]).post(f"/tasks/{review_id}/claim")
    assert claimed.status_code == 200 and claimed.get_json()["assignee"]["username"] == "lisi"
    other = as_user("huanglei", ["reviewer"])
    # Claimed by 李四, the task has left the other reviewers' sight, as in the web inbox.
    assert all(r["id"] != review_id for r in other.get("/tasks").get_json()["items"])
    _problem(other.post(f"/tasks/{review_id}/complete", {"outcome": "pass"}), 404, "not-found")
    assert as_user("lisi").get(f"/tasks/{review_id}").get_json()["state"] == "ready"


def test_a_task_or_instance_of_another_unit_is_404_not_403(as_user):
    instance = as_user("zhangsan").post("/content", ARTICLE).get_json()
    outsider = as_user("huanglei")  # 某街道办事处
    review_id = instance["open_tasks"][0]["id"]
    _problem(outsider.get(f"/instances/{instance['id']}"), 404, "not-found")
    _problem(outsider.get(f"/tasks/{review_id}"), 404, "not-found")
    _problem(outsider.post(f"/tasks/{review_id}/complete", {"outcome": "pass"}), 404, "not-found")
    _problem(outsider.post(f"/instances/{instance['id']}/cancel", {"reason": "x"}), 404, "not-found")
    _problem(outsider.get("/tasks/999999"), 404, "not-found")


def test_bad_bodies_are_refused_and_change_nothing(as_user, sqlite_rt):
    cms = as_user("zhangsan")
    body = _problem(cms.post("/content", {**ARTICLE, "priority": "high"}), 422, "validation-failed")
    assert "priority" in str(body["errors"])
    _problem(cms.post("/content", {k: v for k, v in ARTICLE.items() if k != "title"}), 422, "validation-failed")
    _problem(cms.post("/content", {**ARTICLE, "target_kind": "weibo"}), 422, "validation-failed")
    _problem(cms.get("/tasks", query_string={"sort": "title"}), 422, "validation-failed")
    _problem(cms.get("/tasks", query_string={"cursor": "garbage"}), 400, "invalid-input")
    response = cms.client.post("/api/v1/content", data="not json", headers={**cms.headers, "Content-Type": "text/plain"})
    assert response.status_code in (415, 422) and response.headers["Content-Type"].startswith("application/problem+json")
    instance = cms.post("/content", ARTICLE).get_json()
    review_id = instance["open_tasks"][0]["id"]
    lisi = as_user("lisi", ["reviewer"])
    body = _problem(lisi.post(f"/tasks/{review_id}/complete", {"outcome": "publish-now"}), 400, "invalid-input")
    _problem(lisi.post(f"/tasks/{review_id}/complete", {"outcome": "pass", "form": {"typename": "x"}}), 400,
             "invalid-input")
    assert lisi.get(f"/tasks/{review_id}").get_json()["state"] == "ready"
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(ContentItem)) == 1


def test_cancel_by_the_starter_with_a_reason(as_user):
    cms = as_user("zhangsan")
    instance = cms.post("/content", ARTICLE).get_json()
    _problem(cms.post(f"/instances/{instance['id']}/cancel", {"reason": ""}), 422, "validation-failed")
    _problem(as_user("lisi").post(f"/instances/{instance['id']}/cancel", {"reason": "不需要了"}), 403, "forbidden")
    cancelled = cms.post(f"/instances/{instance['id']}/cancel", {"reason": "稿件已撤回"})
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["end_reason"] == "稿件已撤回"
    _problem(cms.post(f"/instances/{instance['id']}/cancel", {"reason": "再撤一次"}), 409, "conflict")
    # Once it has ended, the same business key may start a new item.
    assert cms.post("/content", ARTICLE).status_code == 201


# --- starting other processes --------------------------------------------------------------

def test_start_an_asset_process_with_its_own_fields(as_user):
    head = as_user("zhangsan")
    started = head.post("/instances", {"process_key": "open_website", "business_key": "OA-88",
                                       "data": {"name": "区教育局招生专题网站",
                                                "special_need": "全区招生政策集中发布，需独立专题网站"}})
    if started.status_code == 403:  # whoever the diagram lets start it
        pytest.fail(started.get_data(as_text=True))
    assert started.status_code == 201, started.get_data(as_text=True)
    assert started.get_json()["process_key"] == "open_website" and started.get_json()["business_key"] == "OA-88"


def test_start_refuses_unknown_processes_fields_and_types(as_user):
    api = as_user("zhangsan")
    body = _problem(api.post("/instances", {"process_key": "quarterly_inspection", "business_key": "X",
                                            "data": {}}), 400, "invalid-input")
    assert "不能通过接口发起" in body["detail"]
    _problem(api.post("/instances", {"process_key": "nope", "business_key": "X", "data": {}}), 400, "invalid-input")
    body = _problem(api.post("/instances", {"process_key": "open_website", "business_key": "X",
                                            "data": {"name": "站", "colour": "red"}}), 400, "invalid-input")
    assert "colour" in body["detail"]
    body = _problem(api.post("/instances", {"process_key": "open_website", "business_key": "X",
                                            "data": {"name": 42}}), 400, "invalid-input")
    assert "name" in body["detail"]
    body = _problem(api.post("/instances", {"process_key": "open_website", "business_key": "X", "data": {}}),
                    400, "invalid-input")
    assert "name" in body["detail"]


# --- definitions ---------------------------------------------------------------------------

def test_definitions_are_listed_with_their_newest_version(as_user):
    rows = {d["key"]: d for d in as_user("zhangsan").get("/definitions").get_json()}
    assert rows["content_review"]["version"] >= 1 and rows["content_review"]["api_start"] is True
    assert rows["quarterly_inspection"]["api_start"] is False
    assert as_user("zhangsan").get("/definitions/content_review").get_json()[0]["key"] == "content_review"
    _problem(as_user("zhangsan").get("/definitions/no_such_process"), 404, "not-found")


def test_deploy_is_for_top_administrators_and_refuses_bad_diagrams(as_user):
    from pathlib import Path

    xml = (Path(__file__).resolve().parent.parent / "processes" / "content_review.bpmn").read_text()
    _problem(as_user("zhangsan").post("/definitions", {"bpmn_xml": xml}), 403, "forbidden")
    _problem(as_user("liuyang").post("/definitions", {"bpmn_xml": xml}), 403, "forbidden")  # district admin
    admin = as_user("gaoyuan")
    same = admin.post("/definitions", {"bpmn_xml": xml, "note": "接口部署"})
    assert same.status_code == 201 and same.get_json()["created"] is False
    changed = admin.post("/definitions", {"bpmn_xml": xml.replace("三审三校", "三审三校（新版）", 1)})
    assert changed.status_code == 201 and changed.get_json()["created"] is True
    body = _problem(admin.post("/definitions", {"bpmn_xml": "<bpmn:definitions"}), 400, "invalid-input")
    assert body["detail"]
    evil = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    _problem(admin.post("/definitions", {"bpmn_xml": evil}), 400, "invalid-input")


# --- assets, audit, calendar ---------------------------------------------------------------

def test_assets_and_their_lifecycle(as_user):
    api = as_user("zhangsan")
    items = api.get("/assets").get_json()["items"]
    mine = next(a for a in items if a["name"] == "区教育发布" and a["platform"] == "wechat")
    closing = api.post("/instances", {"process_key": "decommission", "business_key": "OA-7", "data": {
        "asset_id": mine["id"], "grounds": "consolidation", "plan": "并入区政府账号"}})
    assert closing.status_code == 201, closing.get_data(as_text=True)
    detail = api.get(f"/assets/{mine['id']}").get_json()
    assert detail["unit"] == "区教育局" and detail["kind"] == "new_media"
    assert [i["process_key"] for i in detail["instances"]] == ["decommission"]
    street = as_user("huanglei")
    assert all(a["unit"] != "区教育局" for a in street.get("/assets").get_json()["items"])
    _problem(street.get(f"/assets/{mine['id']}"), 404, "not-found")


def test_audit_search_is_for_auditors(as_user):
    as_user("zhangsan").post("/content", ARTICLE)
    events = as_user("chenjing").get("/audit/events", query_string={"action": "start", "limit": 5}).get_json()
    assert events["items"] and events["items"][0]["action"] == "start"
    _problem(as_user("zhangsan").get("/audit/events"), 403, "forbidden")
    _problem(as_user("chenjing").get("/audit/events", query_string={"cursor": "x"}), 400, "invalid-input")


def test_a_working_day_deadline_across_the_national_day_holiday(as_user):
    api = as_user("zhangsan")
    answer = api.get("/calendar/deadline", query_string={"start": "2026-09-30T10:00:00+08:00", "rule": "working_days",
                                                         "amount": 1})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["due_local"].startswith("2026-10-") and body["due_local"] > "2026-10-08"
    assert body["description"] == "1 个工作日"
    _problem(api.get("/calendar/deadline", query_string={"start": "2026-09-30T10:00:00", "rule": "working_days",
                                                         "amount": 1}), 422, "validation-failed")
    _problem(api.get("/calendar/deadline", query_string={"start": "2026-09-30T10:00:00+08:00", "rule": "fortnights",
                                                         "amount": 1}), 422, "validation-failed")
    _problem(api.get("/calendar/deadline", query_string={"start": "2026-09-30T10:00:00+08:00", "rule": "working_days",
                                                         "amount": 3000}), 400, "invalid-input")


# --- the document and its page ---------------------------------------------------------------

def test_the_openapi_document_and_the_docs_page_are_served_locally(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/v1/tasks/{task_id}/complete" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/tasks/{task_id}/complete" in page and "CompleteBody" in page
    assert "http://" not in page.replace("http://localhost", "") and "https://" not in page


def test_the_user_menu_leads_to_the_tokens_and_the_docs(client, auth):
    auth.login("zhangsan")
    page = client.get("/inbox/todo").get_data(as_text=True)
    assert 'data-testid="nav-api-tokens"' in page and 'href="/api/v1/docs"' in page
    docs = client.get("/api/v1/docs").get_data(as_text=True)
    assert 'href="/account/tokens/"' in docs


def test_an_auditor_token_reads_but_changes_nothing_even_with_other_roles(as_user, sqlite_rt):
    grant(sqlite_rt, "chenjing", "editor", "区教育局")
    auditor = as_user("chenjing")
    assert auditor.get("/audit/events").status_code == 200
    body = _problem(auditor.post("/content", ARTICLE), 403, "forbidden")
    assert "审计员" in body["detail"]
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(ContentItem)) == 0
