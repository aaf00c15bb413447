"""The browser-facing flow through Flask: login, submit, review, sign, history, refusals."""

import re

from sqlalchemy import select

from db.models import ContentItem, HumanTask
from db.session import reading


def _ready_task(rt, bpmn_id: str) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(HumanTask.id).where(HumanTask.state == "ready", HumanTask.bpmn_id == bpmn_id)
                              .order_by(HumanTask.id.desc()))


def _submit(auth, title="关于秋季开学的通知", kind="portal_column"):
    auth.login("zhangsan")
    response = auth.post("/content/new", {"title": title, "body": "各学校：9月1日开学。", "target_kind": kind,
                                          "target_name": "通知公告"})
    auth.logout()
    return response


def _error(response) -> str:
    found = re.search(r'data-testid="(?:error-message|refusal)">([^<]+)<', response.get_data(as_text=True))
    return found.group(1) if found else ""


def test_pages_need_a_login(client):
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/login" in response.location


def test_wrong_password_is_refused_with_a_sentence(auth):
    response = auth.login("zhangsan", "wrong")
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.get_data(as_text=True)


def test_login_does_not_redirect_to_another_site(client, auth):
    token = auth._token(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "zhangsan", "password": "Demo@2026", "csrf_token": token})
    assert response.status_code == 302 and response.location == "/inbox/"


def test_forms_without_a_csrf_token_are_refused_and_change_nothing(client, auth, sqlite_rt):
    auth.login("zhangsan")
    response = client.post("/content/new", data={"title": "无令牌", "body": "x", "target_kind": "wechat",
                                                 "target_name": "公众号"})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(ContentItem.id)) is None


def test_a_new_item_with_a_missing_field_is_refused_and_keeps_what_was_typed(auth, sqlite_rt):
    auth.login("zhangsan")
    response = auth.post("/content/new", {"title": "只有标题", "body": "", "target_kind": "wechat", "target_name": "号"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "请填写“正文”" in html and "只有标题" in html
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(ContentItem.id)) is None


def test_rev_1_to_rev_5_walk_through_in_the_web_ui(client, auth, sqlite_rt):
    """Editor submits, reviewer returns then passes, signer signs, e-gov centre approves: published."""
    assert _submit(auth).status_code == 303

    auth.login("lisi")
    todo = client.get("/inbox/").get_data(as_text=True)
    assert "关于秋季开学的通知" in todo and "内容审核（二审）" in todo
    review = _ready_task(sqlite_rt, "review")
    page = client.get(f"/tasks/{review}").get_data(as_text=True)
    assert "各学校：9月1日开学。" in page and "张三" in page  # the item and its history
    refused = auth.post(f"/tasks/{review}/complete", {"outcome": "return", "opinion": ""})
    assert refused.status_code == 400 and "必须填写理由" in refused.get_data(as_text=True)
    assert auth.post(f"/tasks/{review}/complete", {"outcome": "return", "opinion": "日期写错了"}).status_code == 303
    auth.logout()

    auth.login("zhangsan")
    revise = _ready_task(sqlite_rt, "revise")
    page = client.get(f"/tasks/{revise}").get_data(as_text=True)
    assert "日期写错了" in page
    assert auth.post(f"/tasks/{revise}/complete", {"outcome": "resubmit", "field_title": "关于秋季开学的通知（更正）",
                                                    "field_body": "各学校：9月2日开学。"}).status_code == 303
    auth.logout()

    auth.login("lisi")
    assert auth.post(f"/tasks/{_ready_task(sqlite_rt, 'review')}/complete",
                     {"outcome": "pass", "opinion": "内容无误"}).status_code == 303
    sign = _ready_task(sqlite_rt, "sign")
    page = client.get(f"/tasks/{sign}")
    assert "同一人对同一事项只能办理一个环节" in _error(page)  # REV-3 said before he tries
    refused = auth.post(f"/tasks/{sign}/complete", {"outcome": "pass", "opinion": "签发"})
    assert refused.status_code == 403 and "同一人对同一事项只能办理一个环节" in _error(refused)
    auth.logout()

    auth.login("wangwu")
    assert auth.post(f"/tasks/{sign}/complete", {"outcome": "pass", "opinion": "同意签发"}).status_code == 303
    auth.logout()

    auth.login("sunqi")
    egov = _ready_task(sqlite_rt, "egov_review")
    assert auth.post(f"/tasks/{egov}/complete", {"outcome": "pass", "opinion": "同意上线"}).status_code == 303
    auth.logout()

    auth.login("zhangsan")
    with reading(sqlite_rt.session_factory) as session:
        item = session.scalar(select(ContentItem))
        assert item.status == "published" and item.body == "各学校：9月2日开学。"
        instance_id = session.scalar(select(HumanTask.instance_id).where(HumanTask.id == egov))
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "已发布" in page
    for who, opinion in [("李四", "日期写错了"), ("王五", "同意签发"), ("孙七", "同意上线")]:
        assert who in page and opinion in page


def test_a_user_outside_the_lane_gets_403_on_the_task_page_and_on_the_post(client, auth, sqlite_rt):
    _submit(auth)
    review = _ready_task(sqlite_rt, "review")
    auth.login("zhouba")  # district office: no reviewer role in 区教育局
    page = client.get(f"/tasks/{review}")
    assert page.status_code == 403 and "无权查看或办理" in _error(page)
    post = auth.post(f"/tasks/{review}/complete", {"outcome": "pass", "opinion": "越权"})
    assert post.status_code == 403
    claim = auth.post(f"/tasks/{review}/claim")
    assert claim.status_code == 403
    with reading(sqlite_rt.session_factory) as session:
        task = session.get(HumanTask, review)
        assert task.state == "ready" and task.assignee_id is None


def test_an_editor_of_another_unit_cannot_see_the_item_and_is_not_told_it_exists(client, auth, sqlite_rt):
    _submit(auth)
    auth.login("huanglei")  # editor and reviewer, but of 某街道办事处
    assert "关于秋季开学的通知" not in client.get("/inbox/").get_data(as_text=True)
    with reading(sqlite_rt.session_factory) as session:
        instance_id, review = session.execute(select(HumanTask.instance_id, HumanTask.id)).one()
    for url in (f"/instances/{instance_id}", f"/tasks/{review}", f"/instances/{instance_id}/diagram.bpmn"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "关于秋季开学的通知" not in response.get_data(as_text=True)
    assert client.get("/instances/999999").status_code == 404  # the same answer as for an item that does not exist


def test_a_task_already_completed_by_someone_else_answers_409_naming_them(client, auth, sqlite_rt):
    from db.models import OrgUnit, RoleGrant, User
    from db.session import transaction

    with transaction(sqlite_rt.session_factory) as session:
        wangwu = session.scalar(select(User).where(User.username == "wangwu"))
        unit = session.scalar(select(OrgUnit).where(OrgUnit.name == "区教育局"))
        session.add(RoleGrant(user_id=wangwu.id, role="reviewer", org_unit_id=unit.id))
    _submit(auth)
    review = _ready_task(sqlite_rt, "review")
    auth.login("lisi")
    page = client.get(f"/tasks/{review}")
    assert page.status_code == 200
    auth.logout()
    auth.login("wangwu")
    assert auth.post(f"/tasks/{review}/complete", {"outcome": "pass", "opinion": "同意"}).status_code == 303
    auth.logout()
    auth.login("lisi")
    late = auth.post(f"/tasks/{review}/complete", {"outcome": "pass", "opinion": "同意"})
    assert late.status_code == 409
    assert "王五" in _error(late)


def test_the_ui_speaks_english_when_asked(client, auth):
    auth.login("zhangsan")
    assert "To do" in client.get("/inbox/?lang=en").get_data(as_text=True)
    assert "To do" in client.get("/inbox/").get_data(as_text=True)  # remembered
    assert "待办" in client.get("/inbox/?lang=zh").get_data(as_text=True)


def test_the_starter_can_withdraw_with_a_reason(client, auth, sqlite_rt):
    _submit(auth)
    with reading(sqlite_rt.session_factory) as session:
        instance_id = session.scalar(select(HumanTask.instance_id))
    auth.login("zhangsan")
    no_reason = auth.post(f"/instances/{instance_id}/cancel", {"reason": ""})
    assert no_reason.status_code == 400 and "必须填写理由" in _error(no_reason)
    assert auth.post(f"/instances/{instance_id}/cancel", {"reason": "稿件重复"}).status_code == 303
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert re.search(r'data-testid="instance-status">已撤销<', page) and "稿件重复" in page
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(ContentItem.status)) == "cancelled"


def test_no_page_loads_anything_from_the_internet(client, auth):
    auth.login("zhangsan")
    for url in ["/inbox/", "/content/new", "/inbox/done", "/inbox/started", "/login"]:
        html = client.get(url).get_data(as_text=True)
        assert not re.search(r'(src|href)="(https?:)?//', html), url
