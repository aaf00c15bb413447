"""站内消息 and 故障处理 in the web UI."""

import re
from datetime import UTC, datetime
from pathlib import Path

from engine import deploy, start_process
from engine.sweep import sweep
from tests.helpers import instance, item_of
from tests.test_jobs import publish_until_incident


def _incident(rt, users, clock, monkeypatch) -> int:
    iid = publish_until_incident(rt, users, clock, monkeypatch, OSError("微信接口超时"))
    monkeypatch.undo()
    return iid


def test_an_administrator_sees_the_incident_and_retries_it_with_a_reason(client, auth, sqlite_rt, sqlite_users,
                                                                         clock, monkeypatch):
    iid = _incident(sqlite_rt, sqlite_users, clock, monkeypatch)
    auth.login("liuyang")
    assert 'data-testid="unread-count">1<' in client.get("/inbox/").get_data(as_text=True)
    html = client.get("/admin/incidents/").get_data(as_text=True)
    assert "微信接口超时" in html and "已自动重试 3 次" in html
    assert "此事项因故障暂停" in client.get(f"/instances/{iid}").get_data(as_text=True)
    incident_id = int(re.search(r"/admin/incidents/(\d+)/retry", html).group(1))

    refused = auth.post(f"/admin/incidents/{incident_id}/retry", {"reason": ""})
    assert "请填写重试的理由" in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert instance(sqlite_rt, iid).has_incident

    done = auth.post(f"/admin/incidents/{incident_id}/retry", {"reason": "接口已恢复"})
    assert "没有待处理的故障" in client.get(done.headers["Location"]).get_data(as_text=True)
    assert item_of(sqlite_rt, iid).status == "published"


def test_only_administrators_open_the_incident_list(client, auth, sqlite_rt, sqlite_users, clock, monkeypatch):
    _incident(sqlite_rt, sqlite_users, clock, monkeypatch)
    auth.login("chenjing")
    assert client.get("/admin/incidents/").status_code == 403
    assert 'data-testid="nav-incidents"' not in client.get("/inbox/").get_data(as_text=True)


def test_reminders_appear_as_messages_and_can_be_marked_read(client, auth, sqlite_rt, sqlite_users, clock):
    fixture = Path(__file__).parent / "fixtures" / "working_day_deadline.bpmn"
    clock.set(datetime(2026, 4, 28, 2, 0, tzinfo=UTC))
    deploy(sqlite_rt, fixture.read_bytes(), deployed_by="tests")
    start_process(sqlite_rt, "working_day_deadline", sqlite_users["zhangsan"], title="期限提醒",
                  business_key="test:web-remind")
    clock.set(datetime.fromisoformat("2026-04-30T08:00:00+08:00"))
    sweep(sqlite_rt)
    auth.login("lisi")
    html = client.get("/notifications/").get_data(as_text=True)
    assert "即将到期：期限提醒" in html and "2026-05-06 23:59" in html
    assert "即将到期 · 剩余 1 个工作日" in client.get("/inbox/").get_data(as_text=True)
    auth.post("/notifications/read")
    assert 'data-testid="unread-count"' not in client.get("/inbox/").get_data(as_text=True)
