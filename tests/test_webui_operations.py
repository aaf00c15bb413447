"""The daily-operations pages: special content paths, 网民留言, 值班表 and 值班读网, 舆情, interaction functions."""

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from db.models import Asset, CitizenMessage, ContentItem, DutyReading, OrgUnit, ProcessInstance, User
from db.session import reading
from engine import complete_task
from tests.helpers import item_of, task_id


def _id(rt, model, **where) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(model.id).where(*(getattr(model, k) == v for k, v in where.items())))


def _count(rt, model) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("mode", ["normal", "policy_document", "emergency", "repost", "pushed", "out_of_scope",
                                  "clarification"])
def test_each_content_path_has_its_form(client, auth, mode):
    auth.login("zhangsan")
    html = client.get(f"/content/new?mode={mode}").get_data(as_text=True)
    assert 'data-testid="new-content"' in html and 'data-testid="start-consultation"' in html
    assert client.get("/content/new?mode=nonsense").status_code == 404


def test_an_emergency_item_is_submitted_from_its_form_and_the_office_sees_it(client, auth, sqlite_rt):
    auth.login("zhangsan")
    done = auth.post("/content/new?mode=emergency", {"title": "暴雨停课通知", "body": "明日停课。", "target_kind": "wechat",
                                                     "target_name": "区教育发布", "reason": "暴雨红色预警"})
    assert done.status_code == 303
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "紧急信息（先发布后补手续）" in page and "暴雨红色预警" in page
    auth.logout()
    auth.login("sunqi")
    assert "紧急信息代为发布" in client.get("/inbox/").get_data(as_text=True)


def test_a_policy_document_without_enough_interpretations_is_shown_again_with_the_reason(client, auth, sqlite_rt):
    auth.login("zhangsan")
    before = _count(sqlite_rt, ContentItem)
    refused = auth.post("/content/new?mode=policy_document", {
        "title": "入学政策", "body": "正文", "target_kind": "portal_column", "target_name": "政策文件",
        "interp_form_0": "text", "interp_title_0": "解读", "interp_body_0": "内容"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "不少于 2 种形式" in html and 'value="入学政策"' in html
    assert _count(sqlite_rt, ContentItem) == before
    done = auth.post("/content/new?mode=policy_document", {
        "title": "入学政策", "body": "正文", "target_kind": "portal_column", "target_name": "政策文件",
        "interp_form_0": "text", "interp_title_0": "文字解读", "interp_body_0": "内容",
        "interp_form_1": "graphic", "interp_title_1": "一图读懂", "interp_body_1": "图解"})
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="interpretation-list"' in page and "图表图解" in page


def test_a_published_item_offers_its_editor_a_misreading_response(client, auth, sqlite_rt, sqlite_users):
    from tests.helpers import submit

    iid = submit(sqlite_rt, sqlite_users["zhangsan"], kind="wechat")
    complete_task(sqlite_rt, task_id(sqlite_rt, iid, "review"), sqlite_users["lisi"], outcome="pass")
    complete_task(sqlite_rt, task_id(sqlite_rt, iid, "sign"), sqlite_users["wangwu"], outcome="pass")
    auth.login("zhangsan")
    page = client.get(f"/instances/{iid}").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" data-testid="clarify-link"', page).group(1).replace("&amp;", "&")
    form = client.get(link).get_data(as_text=True)
    assert f'<option value="{item_of(sqlite_rt, iid).id}" selected>' in form


def test_the_operator_accepts_a_message_and_the_unit_finds_it(client, auth, sqlite_rt):
    auth.login("sunqi")
    assert 'data-testid="accept-message"' in client.get("/messages").get_data(as_text=True)
    unit = _id(sqlite_rt, OrgUnit, name="区教育局")
    form = client.get("/messages/new").get_data(as_text=True)
    assert f'<option value="{unit}"' in form
    refused = auth.post("/messages/new", {"message_type": "consultation", "unit_id": str(unit), "subject": "",
                                          "body": "b", "citizen_name": "王女士", "citizen_contact": "138"})
    assert refused.status_code == 400 and "请填写“留言标题”" in refused.get_data(as_text=True)
    done = auth.post("/messages/new", {"message_type": "consultation", "unit_id": str(unit), "subject": "开学时间咨询",
                                       "body": "什么时候开学？", "citizen_name": "王女士", "citizen_contact": "138"})
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="citizen-message"' in page and "什么时候开学？" in page
    auth.logout()
    auth.login("zhangsan")
    assert "开学时间咨询" in client.get("/messages").get_data(as_text=True)
    assert "办理答复（咨询）" in client.get("/inbox/").get_data(as_text=True)
    task = task_id(sqlite_rt, _id(sqlite_rt, ProcessInstance, business_key=f"message:{_id(sqlite_rt, CitizenMessage)}"),
                   "reply_consultation")
    html = client.get(f"/tasks/{task}").get_data(as_text=True)
    assert "什么时候开学？" in html and 'name="field_reply"' in html


def test_an_editor_may_not_accept_messages(client, auth, sqlite_rt):
    auth.login("zhangsan")
    assert 'data-testid="accept-message"' not in client.get("/messages").get_data(as_text=True)
    response = auth.post("/messages/new", {"message_type": "simple", "unit_id": str(_id(sqlite_rt, OrgUnit, name="区教育局")),
                                           "subject": "s", "body": "b", "citizen_name": "n", "citizen_contact": "c"})
    assert response.status_code == 400 and "MSG-2" in response.get_data(as_text=True)
    assert _count(sqlite_rt, CitizenMessage) == 0


def test_the_unit_head_keeps_the_roster_and_the_operator_logs_a_duty_reading(client, auth, sqlite_rt):
    unit = _id(sqlite_rt, OrgUnit, name="区教育局")
    auth.login("zhaoliu")
    assert 'data-testid="set-duty"' in client.get("/duty").get_data(as_text=True)
    lisi = _id(sqlite_rt, User, username="lisi")
    auth.post("/duty/roster", {"unit_id": str(unit), "day": date(2026, 3, 2).isoformat(), "user_id": str(lisi)})
    assert "李四" in client.get("/duty").get_data(as_text=True)
    auth.logout()
    auth.login("sunqi")
    account = _id(sqlite_rt, Asset, name="区教育发布")
    page = client.get(f"/duty/read/{account}").get_data(as_text=True)
    assert 'data-testid="duty-reading"' in page and "今日暂无新发布信息" in page
    done = auth.post(f"/duty/read/{account}", {"finding_0": "头像图片失效", "urgency_0": "urgent", "note": "已巡检"})
    assert done.status_code == 303
    log = client.get(f"/duty/read/{account}").get_data(as_text=True)
    assert "头像图片失效" in log and "已交办整改" in log and 'data-testid="duty-reading"' not in log
    assert _count(sqlite_rt, DutyReading) == 1


def test_the_asset_page_reports_a_public_opinion_and_records_interaction_functions(client, auth, sqlite_rt):
    account = _id(sqlite_rt, Asset, name="区教育发布")
    auth.login("zhangsan")
    page = client.get(f"/assets/{account}").get_data(as_text=True)
    assert 'data-testid="report-opinion"' in page and 'data-testid="record-interaction"' in page
    refused = auth.post(f"/assets/{account}/interaction", {"open": ["comments"]})
    assert "原则上不得关闭" in client.get(refused.headers["Location"]).get_data(as_text=True)
    auth.post(f"/assets/{account}/interaction", {"open": ["comments", "messages", "private_messages"]})
    assert 'data-testid="interaction-state"' in client.get(f"/assets/{account}").get_data(as_text=True)
    done = auth.post(f"/assets/{account}/opinion", {"trigger": "public_attention", "summary": "网传停课消息",
                                                   "source": "微信群"})
    assert "区教育发布舆情应对" in client.get(done.headers["Location"]).get_data(as_text=True)
    auth.logout()
    auth.login("zhaoliu")
    assert "向主要负责人汇报并启动应急预案" in client.get("/inbox/").get_data(as_text=True)


def test_the_new_policy_values_are_on_the_policy_page(client, auth):
    auth.login("liuyang")
    html = client.get("/admin/calendar/policy").get_data(as_text=True)
    for label in ("REV-6", "REV-7", "REV-12", "REV-13", "REV-18", "MSG-1", "0.5个工作日"):
        assert label in html


def test_the_new_forms_refuse_a_post_without_the_csrf_token(client, auth, sqlite_rt):
    auth.login("sunqi")
    response = client.post("/messages/new", data={"message_type": "simple"})
    assert response.status_code == 400 and _count(sqlite_rt, CitizenMessage) == 0
