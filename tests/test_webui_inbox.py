"""The web inbox through the Flask client: every list, filter and action, and their refusals —
wrong user (403 when they may see the item, 404 when they may not), wrong unit (404), completed
task (409), missing reason (400), oversized attachment — plus CSRF, session timeout and the print view."""

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import Attachment, TaskCopy
from db.session import reading
from engine import complete_task
from tests.helpers import events, grant, ready, register_asset, submit, task_id, task_row


def _error(response) -> str:
    found = re.search(r'data-testid="(?:error-message|refusal)">([^<]+)<', response.get_data(as_text=True))
    flashed = re.findall(r'class="flash error" role="alert">([^<]+)<', response.get_data(as_text=True))
    return found.group(1) if found else " ".join(flashed)


def _html(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


# --- lists ---------------------------------------------------------------------------------

def test_todo_filters_search_and_pages_through_the_web(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    for i in range(5):
        submit(rt, users["zhangsan"], title=f"教育通知第{i}号")
    submit(rt, users["zhangsan"], title="安全检查简报")
    auth.login("lisi")
    assert re.search(r'data-testid="todo-count">6<', _html(client, "/inbox/"))
    html = _html(client, "/inbox/?q=简报")
    assert "安全检查简报" in html and "教育通知" not in html
    assert "教育通知" not in _html(client, "/inbox/?process=column_adjustment")
    assert "教育通知第0号" in _html(client, "/inbox/?process=content_review&deadline=none")
    assert "list.empty" not in html
    first = _html(client, "/inbox/?limit=4")
    assert len(re.findall('data-testid="task-row"', first)) == 4
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = _html(client, next_url)
    assert len(re.findall('data-testid="task-row"', second)) == 2 and 'rel="next"' not in second
    assert 'data-testid="first-page"' in second
    bad = client.get("/inbox/?after=not-a-cursor")
    assert bad.status_code == 400 and "翻页参数无效" in _error(bad)


def test_todo_filters_by_asset_and_unit(client, auth, sqlite_rt, sqlite_users):
    from engine.assets import start_column_adjustment

    rt, users = sqlite_rt, sqlite_users
    column = register_asset(rt, "column", "教育动态")
    start_column_adjustment(rt, users["sunqi"], column, proposal="拆分")
    auth.login("zhouba")
    assert "教育动态栏目调整" in _html(client, f"/inbox/?asset={column}")
    assert "教育动态栏目调整" not in _html(client, f"/inbox/?asset={column + 100}")
    with reading(rt.session_factory) as session:
        from db.models import OrgUnit

        street = session.scalar(select(OrgUnit.id).where(OrgUnit.name == "某街道办事处"))
    assert "教育动态栏目调整" not in _html(client, f"/inbox/?unit={street}")


def test_done_started_and_copied_lists(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"], title="已办测试")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="return", opinion="请修改")
    auth.login("lisi")
    done = _html(client, "/inbox/done")
    assert "已办测试" in done and "退回修改" in done
    auth.logout()
    auth.login("zhangsan")
    started = _html(client, "/inbox/started")
    assert "已办测试" in started and "修改稿件" in started
    assert "已办测试" not in _html(client, "/inbox/started?status=completed")
    assert "已办测试" in _html(client, "/inbox/started?status=running&q=已办")
    revise = task_id(rt, iid, "revise")
    assert auth.post(f"/tasks/{revise}/cc", {"to_user": str(users["zhaoliu"].user_id), "note": "供参阅"}).status_code == 303
    auth.logout()
    auth.login("zhaoliu")
    assert re.search(r'data-testid="copied-count">1<', _html(client, "/inbox/"))
    copied = _html(client, "/inbox/copied")
    assert "已办测试" in copied and "供参阅" in copied and "张三" in copied
    _html(client, f"/instances/{iid}")  # opening the item reads the copy
    assert 'data-testid="copied-count"' not in _html(client, "/inbox/")


# --- completing, and 退回 without a reason ---------------------------------------------------

def test_return_without_a_reason_is_400_and_keeps_the_task(client, auth, sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"])
    review = task_id(sqlite_rt, iid, "review")
    auth.login("lisi")
    response = auth.post(f"/tasks/{review}/complete", {"outcome": "return", "opinion": "  "})
    assert response.status_code == 400 and "必须填写理由" in _error(response)
    assert task_row(sqlite_rt, review).state == "ready"


def test_a_completed_task_answers_409_to_every_action(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    grant(rt, "wangwu", "reviewer")
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    complete_task(rt, review, users["wangwu"], outcome="pass", opinion="同意")
    auth.login("lisi")
    for url, data in [(f"/tasks/{review}/complete", {"outcome": "pass", "opinion": "同意"}),
                      (f"/tasks/{review}/transfer", {"to_user": users["wangwu"].user_id, "reason": "r"}),
                      (f"/tasks/{review}/delegate", {"to_user": users["zhaoliu"].user_id, "reason": "r"}),
                      (f"/tasks/{review}/claim", {})]:
        response = auth.post(url, data)
        assert response.status_code == 409 and "此任务已由王五于" in _error(response), url


# --- who may see and act: 403 for those who may see the item, 404 for everyone else ----------

def test_another_units_user_gets_404_on_every_task_and_item_route(client, auth, sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"], title="区教育局内部稿件")
    review = task_id(sqlite_rt, iid, "review")
    auth.login("huanglei")
    for url in (f"/tasks/{review}", f"/instances/{iid}", f"/instances/{iid}/print", f"/instances/{iid}/diagram.bpmn"):
        response = client.get(url)
        assert response.status_code == 404 and "区教育局内部稿件" not in response.get_data(as_text=True), url
    for url, data in [(f"/tasks/{review}/complete", {"outcome": "pass"}), (f"/tasks/{review}/claim", {}),
                      (f"/tasks/{review}/transfer", {"reason": "x"}), (f"/tasks/{review}/delegate", {"reason": "x"}),
                      (f"/tasks/{review}/release", {}), (f"/tasks/{review}/withdraw", {"reason": "x"}),
                      (f"/tasks/{review}/cc", {"note": "x"}), (f"/tasks/{review}/urge", {"message": "x"}),
                      (f"/tasks/{review}/resolve", {"opinion": "x"}), (f"/instances/{iid}/edit", {"reason": "x"}),
                      (f"/instances/{iid}/cc", {"note": "x"}), (f"/instances/{iid}/cancel", {"reason": "x"})]:
        assert auth.post(url, data).status_code == 404, url
    assert task_row(sqlite_rt, review).state == "ready" and task_row(sqlite_rt, review).urge_count == 0


def test_a_supervisor_sees_the_item_and_urges_but_may_not_open_the_step(client, auth, sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"], title="督办测试")
    review = task_id(sqlite_rt, iid, "review")
    auth.login("zhouba")  # the district office above 区教育局
    assert client.get(f"/tasks/{review}").status_code == 403
    page = _html(client, f"/instances/{iid}")
    assert "督办测试" in page and 'data-testid="urge"' in page
    no_message = auth.post(f"/tasks/{review}/urge", {"message": ""})
    assert no_message.status_code == 400 and "必须填写理由" in _error(no_message)
    assert auth.post(f"/tasks/{review}/urge", {"message": "请今日办结"}).status_code == 303
    assert re.search(r'data-testid="urge-count">已催办 1 次<', _html(client, f"/instances/{iid}"))
    auth.logout()
    auth.login("lisi")
    assert "已催办 1 次" in _html(client, "/inbox/") and "已催办 1 次" in _html(client, f"/tasks/{review}")


# --- the OA actions through the web ----------------------------------------------------------

def test_transfer_through_the_web_and_its_refusals(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    grant(rt, "wangwu", "reviewer")
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    auth.login("lisi")
    page = _html(client, f"/tasks/{review}")
    assert 'data-testid="transfer"' in page and "王五（区教育局）" in page
    no_reason = auth.post(f"/tasks/{review}/transfer", {"to_user": users["wangwu"].user_id, "reason": ""})
    assert no_reason.status_code == 400 and "必须填写理由" in _error(no_reason)
    wrong = auth.post(f"/tasks/{review}/transfer", {"to_user": users["zhaoliu"].user_id, "reason": "请赵六审"})
    assert wrong.status_code == 400 and "没有“内容审核”角色" in _error(wrong)
    no_token = client.post(f"/tasks/{review}/transfer", data={"to_user": users["wangwu"].user_id, "reason": "r"})
    assert no_token.status_code == 400 and "页面已过期" in _error(no_token)  # CSRF
    assert auth.post(f"/tasks/{review}/transfer", {"to_user": users["wangwu"].user_id, "reason": "出差"}).status_code == 303
    assert task_row(rt, review).assignee_id == users["wangwu"].user_id
    auth.logout()
    auth.login("zhouba")
    assert auth.post(f"/tasks/{review}/transfer", {"to_user": users["lisi"].user_id, "reason": "x"}).status_code == 403


def test_delegate_and_give_back_through_the_web(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"], title="委派测试")
    review = task_id(rt, iid, "review")
    auth.login("lisi")
    assert auth.post(f"/tasks/{review}/delegate", {"kind": "delegate", "to_user": users["zhaoliu"].user_id,
                                                   "reason": "请核对数据"}).status_code == 303
    assert 'data-testid="delegated-banner"' in _html(client, f"/tasks/{review}")
    auth.logout()
    auth.login("zhaoliu")
    assert "委派测试" in _html(client, "/inbox/")
    page = _html(client, f"/tasks/{review}")
    assert 'data-testid="delegate-banner"' in page and 'data-testid="resolve"' in page
    empty = auth.post(f"/tasks/{review}/resolve", {"opinion": ""})
    assert empty.status_code == 400 and "办理意见" in _error(empty)
    assert auth.post(f"/tasks/{review}/complete", {"outcome": "pass", "opinion": "越权"}).status_code == 403
    assert auth.post(f"/tasks/{review}/resolve", {"opinion": "数据无误"}).status_code == 303
    auth.logout()
    auth.login("lisi")
    history = _html(client, f"/tasks/{review}")
    assert "委派办理并交回" in history and "数据无误" in history


@pytest.mark.parametrize("kind", ["sign_before", "sign_after"])
def test_add_a_signer_before_or_after_me_through_the_web(client, auth, sqlite_rt, sqlite_users, kind):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    auth.login("lisi")
    assert auth.post(f"/tasks/{review}/delegate", {"kind": kind, "to_user": users["zhaoliu"].user_id,
                                                   "reason": "请赵局长把关"}).status_code == 303
    auth.logout()
    auth.login("zhaoliu")
    if kind == "sign_before":
        assert auth.post(f"/tasks/{review}/resolve", {"outcome": "pass", "opinion": "同意"}).status_code == 303
        auth.logout()
        auth.login("lisi")
    assert auth.post(f"/tasks/{review}/complete", {"outcome": "pass", "opinion": "同意"}).status_code == 303
    assert set(ready(rt, iid)) == {"sign"}
    assert [e.actor_name for e in events(rt, iid, "countersign")] == (["赵六"] if kind == "sign_before" else ["李四"])


def test_release_and_withdraw_through_the_web(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    auth.login("lisi")
    auth.post(f"/tasks/{review}/claim")
    assert 'data-testid="release"' in _html(client, f"/tasks/{review}")
    assert auth.post(f"/tasks/{review}/release", {"reason": ""}).status_code == 303
    assert task_row(rt, review).assignee_id is None
    assert auth.post(f"/tasks/{review}/complete", {"outcome": "pass", "opinion": "同意"}).status_code == 303
    page = _html(client, f"/tasks/{review}")  # in 已办; the completed step offers 撤回
    assert 'data-testid="withdraw"' in page
    no_reason = auth.post(f"/tasks/{review}/withdraw", {"reason": ""})
    assert no_reason.status_code == 400 and "必须填写理由" in _error(no_reason)
    response = auth.post(f"/tasks/{review}/withdraw", {"reason": "意见写错了"})
    assert response.status_code == 303
    reopened = int(response.location.rsplit("/", 1)[1])
    assert task_row(rt, reopened).assignee_id == users["lisi"].user_id and set(ready(rt, iid)) == {"review"}


def test_withdraw_after_the_next_step_acted_is_409(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass", opinion="签发")
    auth.login("lisi")
    response = auth.post(f"/tasks/{review}/withdraw", {"reason": "想改"})
    assert response.status_code == 409 and "下一环节已经办理" in _error(response)


def test_copy_from_the_task_page_refuses_another_units_reader(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    review = task_id(rt, iid, "review")
    auth.login("lisi")
    response = auth.post(f"/tasks/{review}/cc", {"to_user": str(users["huanglei"].user_id), "note": "请阅"})
    assert response.status_code == 400 and "不是本事项所属单位" in _error(response)
    with reading(rt.session_factory) as session:
        assert session.scalar(select(TaskCopy.id)) is None


# --- review integrity, print -------------------------------------------------------------------

def test_edit_voids_approvals_and_the_next_reviewer_sees_the_difference(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"], title="版本测试")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    auth.login("zhangsan")
    assert 'data-testid="edit-content"' in _html(client, f"/instances/{iid}")
    no_reason = auth.post(f"/instances/{iid}/edit", {"title": "版本测试", "body": "改过的正文", "reason": ""})
    assert no_reason.status_code == 400 and "修改理由" in _error(no_reason)
    assert auth.post(f"/instances/{iid}/edit", {"title": "版本测试", "body": "各学校：请于本周五完成自查。",
                                                "reason": "补充日期"}).status_code == 303
    auth.logout()
    auth.login("lisi")
    page = _html(client, f"/tasks/{task_id(rt, iid, 'review')}")
    assert 'data-testid="review-changed"' in page and "<ins>五</ins>" in page and "已作废" in page


def test_the_print_view_is_an_a4_approval_record_with_opinions_and_versions(client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"], title="打印测试")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="内容准确")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass", opinion="同意签发")
    auth.login("zhangsan")
    html = _html(client, f"/instances/{iid}/print")
    record = html.split('data-testid="print-record"')[1]
    for expected in ("李四", "内容准确", "王五", "同意签发", "签发（三审）", "2026-03-02 09:00"):
        assert expected in record
    assert "print.css" in html and 'data-testid="print-sign-offs"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    css = client.get("/static/print.css").get_data(as_text=True)
    assert "size: A4" in css


# --- attachments, stand-ins, session -----------------------------------------------------------

def test_an_oversized_attachment_is_refused_and_nothing_is_stored(client, auth, sqlite_rt, sqlite_users):
    from engine.attachments import MAX_BYTES

    iid = submit(sqlite_rt, sqlite_users["zhangsan"])
    review = task_id(sqlite_rt, iid, "review")
    auth.login("lisi")
    response = auth.post(f"/tasks/{review}/attachments", {"file": (io.BytesIO(b"x" * (MAX_BYTES + 1)), "大.pdf")},
                         content_type="multipart/form-data", follow_redirects=True)
    assert "文件不能超过 10 MB" in response.get_data(as_text=True)
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(Attachment.id)) is None


def test_a_request_over_the_servers_limit_is_413_with_a_sentence(sqlite_rt, sqlite_users):
    from tests.conftest import AuthActions
    from webui import create_app

    app = create_app({"SECRET_KEY": "t", "TESTING": True, "GOVFLOW_RUNTIME": sqlite_rt, "MAX_CONTENT_LENGTH": 1024})
    client = app.test_client()
    auth = AuthActions(client)
    auth.login("lisi")
    review = task_id(sqlite_rt, submit(sqlite_rt, sqlite_users["zhangsan"]), "review")
    response = auth.post(f"/tasks/{review}/attachments", {"file": (io.BytesIO(b"x" * 4096), "大.pdf")},
                         content_type="multipart/form-data")
    assert response.status_code == 413 and "上传的文件太大" in response.get_data(as_text=True)


def test_a_stand_in_set_on_the_web_works_the_principals_task_recorded_as_deputy_for_principal(
        client, auth, sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"], title="代理测试")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    auth.login("wangwu")
    bad = auth.post("/stand-ins/", {"deputy": users["zhaoliu"].user_id, "starts_at": "2026-03-02T09:00",
                                    "ends_at": "2026-03-02T08:00", "reason": "出差"})
    assert bad.status_code == 400 and "结束时间必须晚于开始时间" in _error(bad)
    assert auth.post("/stand-ins/", {"deputy": users["zhaoliu"].user_id, "starts_at": "2026-03-02T08:00",
                                     "ends_at": "2026-03-06T18:00", "reason": "出差"}).status_code == 303
    assert "生效中" in _html(client, "/stand-ins/")
    auth.logout()
    auth.login("zhaoliu")
    assert "代 王五" in _html(client, "/inbox/")
    sign = task_id(rt, iid, "sign")
    assert 'data-testid="deputy-banner"' in _html(client, f"/tasks/{sign}")
    assert auth.post(f"/tasks/{sign}/complete", {"outcome": "pass", "opinion": "代为签发"}).status_code == 303
    assert "赵六 代 王五" in _html(client, f"/instances/{iid}")
    assert "代 王五" in _html(client, "/inbox/done")


def test_an_idle_session_ends_after_30_minutes(client, auth, clock):
    auth.login("lisi")
    clock.advance(minutes=29)
    assert client.get("/inbox/").status_code == 200  # each request restarts the idle time
    clock.advance(minutes=29)
    assert client.get("/inbox/").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/login" in response.location
    assert "超过 30 分钟未操作" in client.get(response.location).get_data(as_text=True)
    assert client.get("/inbox/").status_code == 302  # the old cookie does not come back to life


def test_the_session_timeout_is_configurable(sqlite_rt):
    from tests.conftest import AuthActions
    from webui import create_app

    app = create_app({"SECRET_KEY": "t", "TESTING": True, "GOVFLOW_RUNTIME": sqlite_rt, "GOVFLOW_SESSION_MINUTES": 5})
    client = app.test_client()
    AuthActions(client).login("lisi")
    sqlite_rt.clock.advance(minutes=6)
    assert client.get("/inbox/").status_code == 302
    assert app.permanent_session_lifetime == timedelta(minutes=5)


def test_new_pages_load_nothing_from_the_internet_and_label_every_field(client, auth, sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"])
    auth.login("lisi")
    for url in ("/inbox/", "/inbox/done", "/inbox/started", "/inbox/copied", "/stand-ins/",
                f"/tasks/{task_id(sqlite_rt, iid, 'review')}", f"/instances/{iid}", f"/instances/{iid}/print"):
        html = _html(client, url)
        assert not re.search(r'(src|href)="(https?:)?//', html), url
        assert _unlabelled_controls(html) == [], url
        assert 'href="#main"' in html or "print" in url


def _unlabelled_controls(html: str) -> list[str]:
    """Form controls (not hidden) that are neither inside a <label> nor carry an aria-label."""
    from html.parser import HTMLParser

    class Controls(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.bad = 0, []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "label":
                self.depth += 1
            elif tag in ("input", "select", "textarea") and attrs.get("type") != "hidden":
                if not self.depth and "aria-label" not in attrs:
                    self.bad.append(attrs.get("name", tag))

        def handle_endtag(self, tag):
            if tag == "label":
                self.depth -= 1

    parser = Controls()
    parser.feed(html)
    return parser.bad
