"""The diagram view of an instance: completed and current steps, and who may see them."""

import pytest
from sqlalchemy import select

from db.models import User
from db.session import reading
from engine import NotFound, complete_task
from engine.progress import instance_progress
from tests.helpers import submit, task_id


def _progress(rt, instance_id, username):
    with reading(rt.session_factory) as session:
        user = session.scalar(select(User).where(User.username == username))
        return instance_progress(rt, session, instance_id, user)


def test_a_reviewed_item_shows_the_review_done_and_the_sign_off_current(sqlite_rt, sqlite_users):
    instance_id = submit(sqlite_rt, sqlite_users["zhangsan"])
    before = _progress(sqlite_rt, instance_id, "zhangsan")
    assert before.current == ["review"] and "review" not in before.completed
    complete_task(sqlite_rt, task_id(sqlite_rt, instance_id, "review"), sqlite_users["lisi"], outcome="pass")
    after = _progress(sqlite_rt, instance_id, "lisi")
    assert after.current == ["sign"]
    assert "review" in after.completed and "start" in after.completed
    assert "<bpmn:definitions" in after.bpmn_xml or "<definitions" in after.bpmn_xml


def test_a_user_with_no_part_in_the_item_cannot_see_its_diagram(sqlite_rt, sqlite_users):
    instance_id = submit(sqlite_rt, sqlite_users["zhangsan"])
    with pytest.raises(NotFound):
        _progress(sqlite_rt, instance_id, "linfang")  # the street office's signer


def test_the_diagram_route_serves_the_instance_version_to_participants_only(auth, client, sqlite_rt, sqlite_users):
    instance_id = submit(sqlite_rt, sqlite_users["zhangsan"])
    auth.login("lisi")
    page = client.get(f"/tasks/{task_id(sqlite_rt, instance_id, 'review')}").get_data(as_text=True)
    assert f'/instances/{instance_id}/diagram.bpmn' in page and 'data-current=\'["review"]\'' in page
    response = client.get(f"/instances/{instance_id}/diagram.bpmn")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert 'id="review"' in response.get_data(as_text=True)
    auth.logout()
    auth.login("linfang")
    assert client.get(f"/instances/{instance_id}/diagram.bpmn").status_code == 404
