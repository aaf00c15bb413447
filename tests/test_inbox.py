"""The inbox lists (engine/inbox.py): who sees what, the filters, deadline order and keyset pages
that neither skip nor repeat a row; on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select, update

from db.models import Base, HumanTask, OrgUnit
from db.session import reading, transaction
from engine import InvalidInput, claim_task, complete_task
from engine.assets import start_column_adjustment
from engine.inbox import (
    InboxFilter,
    copied_page,
    copied_unread_count,
    done_page,
    mark_copies_read,
    started_page,
    todo_count,
    todo_page,
)
from engine.oa_actions import copy_item, delegate_task
from tests.helpers import register_asset, submit, task_id


def _todo(rt, username_id, **kwargs):
    with reading(rt.session_factory) as session:
        return todo_page(session, username_id, rt.clock.now(), **kwargs)


def _ids(page):
    return [row.id for row in page.rows]


def _set_due(rt, task_ids_to_due: dict[int, datetime | None]):
    with transaction(rt.session_factory) as session:
        for ident, due in task_ids_to_due.items():
            session.execute(update(HumanTask).where(HumanTask.id == ident).values(due_at=due))


def _reviews(rt, users, n):
    iids = [submit(rt, users["zhangsan"], title=f"通知{i:02d}") for i in range(n)]
    return iids, [task_id(rt, iid, "review") for iid in iids]


def test_todo_holds_my_tasks_my_groups_unclaimed_tasks_and_what_was_handed_to_me(rt, users):
    iids, reviews = _reviews(rt, users, 3)
    lisi, wangwu = users["lisi"].user_id, users["wangwu"].user_id
    assert set(_ids(_todo(rt, lisi))) == set(reviews)
    claim_task(rt, reviews[0], users["lisi"])
    delegate_task(rt, reviews[1], users["lisi"], to_user_id=wangwu, reason="请王五核对")
    assert set(_ids(_todo(rt, lisi))) == set(reviews)  # claimed and delegated-out stay in my list
    delegated = {r.id: r for r in _todo(rt, wangwu).rows}
    assert list(delegated) == [reviews[1]] and delegated[reviews[1]].delegated_by == "李四"
    assert {r.id: r.delegated_to for r in _todo(rt, lisi).rows}[reviews[1]] == "王五"
    for outsider in ("huanglei", "zhouba", "zhaoliu"):  # another unit, the office above, the unit head
        assert _ids(_todo(rt, users[outsider].user_id)) == []
    assert str(todo_count_of(rt, lisi)) == "3"


def todo_count_of(rt, user_id, cap=999):
    with reading(rt.session_factory) as session:
        return todo_count(session, user_id, rt.clock.now(), cap=cap)


def test_soonest_deadline_first_then_those_without_oldest_first(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    _, reviews = _reviews(rt, users, 5)
    base = datetime(2026, 3, 10, 15, 59, 59, tzinfo=UTC)
    _set_due(rt, {reviews[0]: None, reviews[1]: base + timedelta(days=2), reviews[2]: base,
                  reviews[3]: None, reviews[4]: base})
    assert _ids(_todo(rt, users["lisi"].user_id)) == [reviews[2], reviews[4], reviews[1], reviews[0], reviews[3]]


def test_keyset_pages_neither_skip_nor_repeat_with_ties_and_tasks_without_deadline(rt, users):
    _, reviews = _reviews(rt, users, 11)
    base = datetime(2026, 3, 10, 15, 59, 59, tzinfo=UTC)
    dues = [base, base, None, base + timedelta(hours=1), base, None, base + timedelta(days=1), base, None,
            base + timedelta(hours=1), None]
    _set_due(rt, dict(zip(reviews, dues, strict=True)))
    everything = _ids(_todo(rt, users["lisi"].user_id))
    assert len(everything) == 11
    seen, cursor, pages = [], None, 0
    while True:
        page = _todo(rt, users["lisi"].user_id, cursor=cursor, limit=3)
        seen += _ids(page)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == everything and pages == 4
    # a task completed between two page views does not shift the next page
    first = _todo(rt, users["lisi"].user_id, limit=3)
    complete_task(rt, first.rows[0].id, users["lisi"], outcome="pass", opinion="同意")
    assert _ids(_todo(rt, users["lisi"].user_id, cursor=first.next_cursor, limit=3)) == everything[3:6]


def test_filters_by_process_unit_asset_and_search(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    content = submit(rt, users["zhangsan"], title="关于100%完成_自查的通知")
    other = submit(rt, users["zhangsan"], title="区教育局工作简报")
    column = register_asset(rt, "column", "教育动态")
    adjustment = start_column_adjustment(rt, users["sunqi"], column, proposal="拆分")
    lisi, zhouba = users["lisi"].user_id, users["zhouba"].user_id
    review = task_id(rt, content, "review")
    assert _ids(_todo(rt, lisi, filters=InboxFilter(process="content_review"))) == [review, task_id(rt, other, "review")]
    assert _ids(_todo(rt, lisi, filters=InboxFilter(process="column_adjustment"))) == []
    assert _ids(_todo(rt, zhouba, filters=InboxFilter(asset_id=column))) == [task_id(rt, adjustment, "office_approval")]
    assert _ids(_todo(rt, zhouba, filters=InboxFilter(asset_id=column + 1))) == []
    with reading(rt.session_factory) as session:
        bureau = session.scalar(select(OrgUnit.id).where(OrgUnit.name == "区教育局"))
        district = session.scalar(select(OrgUnit.id).where(OrgUnit.name == "某区"))
    assert len(_ids(_todo(rt, lisi, filters=InboxFilter(unit_id=bureau)))) == 2
    assert _ids(_todo(rt, lisi, filters=InboxFilter(unit_id=district))) == []
    assert _ids(_todo(rt, lisi, filters=InboxFilter(q="100%完成_"))) == [review]  # % and _ are letters here
    assert _ids(_todo(rt, lisi, filters=InboxFilter(q="100_"))) == []
    assert len(_ids(_todo(rt, lisi, filters=InboxFilter(q="content:")))) == 2  # the start of the business key
    assert _ids(_todo(rt, zhouba, filters=InboxFilter(q=f"asset:{column}"))) == [task_id(rt, adjustment, "office_approval")]
    with pytest.raises(InvalidInput):
        InboxFilter(deadline="tomorrow")


def test_deadline_state_filters_follow_the_clock_and_the_working_calendar(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    clock.set(datetime.fromisoformat("2026-03-05T10:00:00+08:00"))  # a Thursday
    _, reviews = _reviews(rt, users, 5)
    late, today, friday, next_week, none = reviews
    _set_due(rt, {late: datetime.fromisoformat("2026-03-04T23:59:59+08:00"),
                  today: datetime.fromisoformat("2026-03-05T23:59:59+08:00"),
                  friday: datetime.fromisoformat("2026-03-06T23:59:59+08:00"),
                  next_week: datetime.fromisoformat("2026-03-10T23:59:59+08:00"), none: None})
    from engine.calendar import calendar_for

    with reading(rt.session_factory) as session:
        calendar = calendar_for(session, False)

    def picked(state):
        return _ids(_todo(rt, users["lisi"].user_id, filters=InboxFilter(deadline=state), calendar=calendar))

    assert picked("overdue") == [late]
    assert picked("today") == [today]
    assert picked("soon") == [today, friday]  # by the end of the next working day
    assert picked("has") == [late, today, friday, next_week]
    assert picked("none") == [none]


def test_the_count_badge_stops_counting_at_the_cap(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    _reviews(rt, users, 5)
    assert (todo_count_of(rt, users["lisi"].user_id, cap=3).capped, str(todo_count_of(rt, users["lisi"].user_id, cap=3))) == (
        True, "3+")
    assert str(todo_count_of(rt, users["lisi"].user_id, cap=5)) == "5"


def test_done_lists_my_completed_steps_newest_first_in_pages(rt, users, clock):
    _, reviews = _reviews(rt, users, 5)
    for review in reviews:
        clock.advance(minutes=5)
        complete_task(rt, review, users["lisi"], outcome="pass" if review % 2 else "return", opinion="意见")
    with reading(rt.session_factory) as session:
        first = done_page(session, users["lisi"].user_id, limit=2)
        second = done_page(session, users["lisi"].user_id, limit=2, cursor=first.next_cursor)
        third = done_page(session, users["lisi"].user_id, limit=2, cursor=second.next_cursor)
    assert _ids(first) + _ids(second) + _ids(third) == list(reversed(reviews))
    assert third.next_cursor is None
    assert {r.outcome_label for r in first.rows + second.rows + third.rows} == {"通过", "退回修改"}


def test_started_lists_my_items_with_their_open_steps_and_filters(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iids, reviews = _reviews(rt, users, 3)
    complete_task(rt, reviews[0], users["lisi"], outcome="pass", opinion="同意")
    with reading(rt.session_factory) as session:
        page = started_page(session, users["zhangsan"].user_id, limit=2)
        rest = started_page(session, users["zhangsan"].user_id, limit=2, cursor=page.next_cursor)
        assert _ids(page) + _ids(rest) == list(reversed(iids))
        assert {r.id: r.step for r in page.rows + rest.rows}[iids[0]] == "签发（三审）"
        assert _ids(started_page(session, users["zhangsan"].user_id, filters=InboxFilter(q="通知01"))) == [iids[1]]
        assert _ids(started_page(session, users["zhangsan"].user_id, filters=InboxFilter(status="completed"))) == []
        assert _ids(started_page(session, users["lisi"].user_id)) == []


def test_copied_lists_copies_to_me_and_opening_the_item_reads_them(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iids, _ = _reviews(rt, users, 2)
    for iid in iids:
        copy_item(rt, iid, users["zhangsan"], to_user_ids=[users["zhaoliu"].user_id], note="请阅")
    zhaoliu = users["zhaoliu"].user_id
    with reading(rt.session_factory) as session:
        page = copied_page(session, zhaoliu)
        assert [r.instance_id for r in page.rows] == list(reversed(iids)) and all(r.unread for r in page.rows)
        assert str(copied_unread_count(session, zhaoliu)) == "2"
    with transaction(rt.session_factory) as session:
        mark_copies_read(session, zhaoliu, iids[0], rt.clock.now())
    with reading(rt.session_factory) as session:
        assert str(copied_unread_count(session, zhaoliu)) == "1"


@pytest.mark.parametrize("cursor", ["x", "0.1", "0.abc.1", "2.1", "1.x", "0.999999999999999999999.1"])
def test_a_malformed_cursor_is_a_clear_error(sqlite_rt, sqlite_users, cursor):
    with pytest.raises(InvalidInput, match="翻页参数无效"):
        _todo(sqlite_rt, sqlite_users["lisi"].user_id, cursor=cursor)


def test_the_models_and_the_migrations_describe_the_same_schema(sqlite_url):
    """A column or index added to one and not the other is caught here (migration 0020 included)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_rev_3_a_group_task_the_person_may_not_work_is_marked_in_their_todo_list(rt, users):
    """李四 holds reviewer and signer: after reviewing an item, its signing step still reaches his
    group's 待办 (any signer may take it), marked as one he may not work, with the rule."""
    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="同意")
    sign = task_id(rt, iid, "sign")
    lisi_row = next(r for r in _todo(rt, users["lisi"].user_id).rows if r.id == sign)
    wangwu_row = next(r for r in _todo(rt, users["wangwu"].user_id).rows if r.id == sign)
    assert lisi_row.barred_roles == ["reviewer"] and wangwu_row.barred_roles == []


def test_rev_3_the_todo_list_shows_the_mark_and_the_reason(app, client, auth, sqlite_rt, sqlite_users):
    iid = submit(sqlite_rt, sqlite_users["zhangsan"], kind="wechat")
    complete_task(sqlite_rt, task_id(sqlite_rt, iid, "review"), sqlite_users["lisi"], outcome="pass", opinion="同意")
    auth.login("lisi")
    html = client.get("/inbox/").get_data(as_text=True)
    assert 'data-testid="rev-3-barred"' in html and "不能办理" in html and "内容审核" in html
    auth.logout()
    auth.login("wangwu")
    assert 'data-testid="rev-3-barred"' not in client.get("/inbox/").get_data(as_text=True)
