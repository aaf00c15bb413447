"""Attachments: uploaded at a step by someone who may work it, kept outside the web root, served
only to people who may see the item, each upload audited."""

from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AuditEvent
from db.session import reading
from engine import Forbidden, InvalidInput, NotFound
from engine.attachments import MAX_BYTES, add_attachment, open_attachment
from tests.helpers import submit, task_id


def test_an_upload_is_stored_outside_the_web_root_and_audited(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    attachment_id = add_attachment(rt, users["lisi"], task_id(rt, iid, "review"), "审核意见.pdf", b"%PDF-1.4 x")
    row, path = open_attachment(rt, users["zhangsan"].user_id, attachment_id)
    assert (row.filename, row.content_type, row.size) == ("审核意见.pdf", "application/pdf", 10)
    assert path.read_bytes() == b"%PDF-1.4 x" and Path(rt.files_dir) in path.parents
    assert "webui" not in str(path)
    with reading(rt.session_factory) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "attachment"))
        assert event.actor_name == "李四" and event.data["filename"] == "审核意见.pdf"


@pytest.mark.parametrize(("name", "data", "message"), [
    ("run.exe", b"MZ", "只能上传"), ("../../etc/passwd", b"x", "只能上传"), ("空.pdf", b"", "空的"),
    ("大.pdf", b"x" * (MAX_BYTES + 1), "不能超过"),
])
def test_a_bad_file_is_refused_and_nothing_is_recorded(sqlite_rt, sqlite_users, name, data, message):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    with pytest.raises(InvalidInput, match=message):
        add_attachment(rt, users["lisi"], task_id(rt, iid, "review"), name, data)
    with reading(rt.session_factory) as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "attachment")) is None


def test_only_who_may_work_the_step_uploads_and_only_who_may_see_the_item_downloads(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    with pytest.raises(Forbidden):
        add_attachment(rt, users["huanglei"], task_id(rt, iid, "review"), "x.pdf", b"%PDF")
    attachment_id = add_attachment(rt, users["lisi"], task_id(rt, iid, "review"), "x.pdf", b"%PDF")
    with pytest.raises(NotFound):  # another unit's item: not even confirmed to exist
        open_attachment(rt, users["huanglei"].user_id, attachment_id)


def test_the_web_upload_and_download(client, auth, sqlite_rt, sqlite_users):
    import io

    iid = submit(sqlite_rt, sqlite_users["zhangsan"])
    auth.login("lisi")
    review = task_id(sqlite_rt, iid, "review")
    response = auth.post(f"/tasks/{review}/attachments", {"file": (io.BytesIO(b"%PDF-1.4 web"), "证明.pdf")},
                         content_type="multipart/form-data")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "证明.pdf" in page
    link = page.split('href="/instances/attachments/')[1].split('"')[0]
    download = client.get(f"/instances/attachments/{link}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 web"
    assert download.headers["Content-Disposition"].startswith("attachment")
    auth.logout()
    auth.login("huanglei")
    assert client.get(f"/instances/attachments/{link}").status_code == 404
