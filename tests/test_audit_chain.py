"""The audit trail is append-only and hash-chained: the database refuses changes, and an edit,
a deletion or an insertion made behind its back (triggers bypassed) is found and named."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from db.audit_hash import GENESIS, event_hash
from db.models import AuditEvent
from db.session import reading, transaction
from engine import audit, complete_task
from engine.audit_verify import parse_anchor, verify_chain
from tests.helpers import submit, task_id


def _events(rt) -> list[AuditEvent]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def _work(rt, users) -> int:
    """A few commands' worth of events: a submission, a review and a sign-off."""
    iid = submit(rt, users["zhangsan"], kind="wechat")
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass", opinion="内容准确")
    complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass", opinion="同意发布")
    return iid


def _behind_the_triggers(rt, sql: str, params: dict | None = None) -> None:
    """What someone with direct database access could do: switch the guard off, then write."""
    engine = rt.session_factory.kw["bind"]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_no_delete")
        conn.execute(text(sql), params or {})


def test_every_event_is_chained_to_the_one_before_it(rt, users):
    _work(rt, users)
    events = _events(rt)
    assert len(events) >= 4 and [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS
    for before, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == before.hash
    report = verify_chain(rt.session_factory)
    assert report.ok and report.checked == len(events)
    assert (report.head_id, report.head_hash) == (events[-1].id, events[-1].hash)


def test_the_hash_covers_every_field_of_the_event(sqlite_rt, sqlite_users):
    _work(sqlite_rt, sqlite_users)
    event = _events(sqlite_rt)[1]
    fields = {c: getattr(event, c) for c in ("id", "occurred_at", "actor_id", "actor_name", "role", "org_unit_id",
                                             "action", "instance_id", "task_id", "task_name", "opinion", "data",
                                             "client_addr")}
    assert event_hash(fields, event.prev_hash) == event.hash
    for name, other in (("opinion", "改过的意见"), ("actor_name", "王二"), ("data", {"outcome": "return"}),
                        ("client_addr", "10.0.0.9"), ("role", "signer")):
        assert event_hash({**fields, name: other}, event.prev_hash) != event.hash, name
    assert event_hash(fields, GENESIS) != event.hash


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET opinion = '同意' WHERE id = 2",
                                       "DELETE FROM audit_event WHERE id = 2"])
def test_the_database_refuses_to_change_or_remove_an_event(rt, users, statement):
    _work(rt, users)
    before = [(e.id, e.opinion, e.hash) for e in _events(rt)]
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction(rt.session_factory) as session:
            session.execute(text(statement))
    assert [(e.id, e.opinion, e.hash) for e in _events(rt)] == before


def test_an_edited_event_is_caught_and_named(rt, users):
    _work(rt, users)
    target = _events(rt)[2]
    _behind_the_triggers(rt, "UPDATE audit_event SET opinion = :o WHERE id = :i", {"o": "不同意", "i": target.id})
    report = verify_chain(rt.session_factory)
    assert not report.ok and report.broken_id == target.id
    assert "被修改" in report.problem and report.checked == target.id - 1


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(rt, users):
    _work(rt, users)
    events = _events(rt)
    target = events[1]
    fields = {c.name: getattr(target, c.name) for c in AuditEvent.__table__.columns}
    forged = event_hash({**fields, "opinion": "（已删除）"}, target.prev_hash)
    _behind_the_triggers(rt, "UPDATE audit_event SET opinion = '（已删除）', hash = :h WHERE id = :i",
                         {"h": forged, "i": target.id})
    report = verify_chain(rt.session_factory)
    assert not report.ok and report.broken_id == events[2].id
    assert f"事件 {target.id}" in report.problem


def test_a_deleted_event_is_caught_at_the_event_after_it(rt, users):
    _work(rt, users)
    events = _events(rt)
    _behind_the_triggers(rt, "DELETE FROM audit_event WHERE id = :i", {"i": events[1].id})
    report = verify_chain(rt.session_factory)
    assert not report.ok and report.broken_id == events[2].id
    assert "删除或插入" in report.problem


def test_deleting_the_first_event_is_caught(rt, users):
    _work(rt, users)
    events = _events(rt)
    _behind_the_triggers(rt, "DELETE FROM audit_event WHERE id = :i", {"i": events[0].id})
    report = verify_chain(rt.session_factory)
    assert not report.ok and report.broken_id == events[1].id


def test_an_inserted_event_is_caught(rt, users):
    """A forged row claiming to follow an old event does not fit where it lands in the chain."""
    _work(rt, users)
    events = _events(rt)
    fields = {c.name: getattr(events[1], c.name) for c in AuditEvent.__table__.columns}
    forged = {**fields, "id": events[-1].id + 1, "opinion": "补录：同意", "prev_hash": events[1].hash}
    forged["hash"] = event_hash(forged, forged["prev_hash"])
    with transaction(rt.session_factory) as session:  # inserting needs no bypass: the chain is the guard
        session.execute(AuditEvent.__table__.insert().values(**forged))
    report = verify_chain(rt.session_factory)
    assert not report.ok and report.broken_id == forged["id"]


def test_an_appended_forgery_with_valid_hashes_is_caught_by_the_anchor(rt, users):
    """Someone who recomputes hashes can extend the chain; the head filed earlier exposes it."""
    _work(rt, users)
    filed = verify_chain(rt.session_factory)
    events = _events(rt)
    fields = {c.name: getattr(events[-1], c.name) for c in AuditEvent.__table__.columns}
    _behind_the_triggers(rt, "DELETE FROM audit_event WHERE id = :i", {"i": events[-1].id})
    forged = {**fields, "opinion": "不同意发布", "prev_hash": events[-2].hash}
    forged["hash"] = event_hash(forged, forged["prev_hash"])
    with transaction(rt.session_factory) as session:
        session.execute(AuditEvent.__table__.insert().values(**forged))
    assert verify_chain(rt.session_factory).ok  # a consistent chain on its own…
    report = verify_chain(rt.session_factory, anchor=parse_anchor(filed.anchor))
    assert not report.ok and report.broken_id == events[-1].id and "锚点" in report.problem


def test_cutting_off_the_newest_events_is_caught_by_the_anchor(rt, users):
    _work(rt, users)
    filed = verify_chain(rt.session_factory)
    _behind_the_triggers(rt, "DELETE FROM audit_event WHERE id = :i", {"i": filed.head_id})
    assert verify_chain(rt.session_factory).ok
    report = verify_chain(rt.session_factory, anchor=parse_anchor(filed.anchor))
    assert not report.ok and "已不存在" in report.problem


def test_a_bad_anchor_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match="锚点"):
        parse_anchor("12:xyz")


def test_an_empty_trail_verifies(sqlite_url):
    from engine import make_runtime

    rt = make_runtime(sqlite_url)
    report = verify_chain(rt.session_factory)
    assert report.ok and report.checked == 0 and report.anchor == ""


def test_a_failed_command_writes_no_events_and_the_chain_carries_on(rt, users, monkeypatch):
    """The events of a command that fails after recording them (and even after they were inserted,
    when something later in the commit fails) are rolled back with it; the next command chains on."""
    import engine.instances
    from db.session import before_commit

    iid = submit(rt, users["zhangsan"], kind="wechat")
    review = task_id(rt, iid, "review")
    count = len(_events(rt))

    real_save = engine.instances.save

    def failing_save(rt_, session, loaded):
        real_save(rt_, session, loaded)
        before_commit(session, lambda: (_ for _ in ()).throw(RuntimeError("提交前失败")))

    monkeypatch.setattr(engine.instances, "save", failing_save)
    with pytest.raises(RuntimeError, match="提交前失败"):
        complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    monkeypatch.undo()
    assert len(_events(rt)) == count
    complete_task(rt, review, users["lisi"], outcome="pass", opinion="同意")
    assert verify_chain(rt.session_factory).ok
    with reading(rt.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "complete")) == 1


def test_govflow_audit_verify_prints_the_head_then_names_the_first_broken_event(sqlite_rt, sqlite_users, sqlite_url,
                                                                                 monkeypatch, capsys):
    from webui.cli import main

    monkeypatch.setenv("GOVFLOW_DATABASE_URL", sqlite_url)
    _work(sqlite_rt, sqlite_users)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    head = _events(sqlite_rt)[-1]
    assert "审计链完整" in out and f"{head.id}:{head.hash}" in out
    assert main(["audit", "verify", "--anchor", f"{head.id}:{head.hash}"]) == 0
    capsys.readouterr()
    _behind_the_triggers(sqlite_rt, "UPDATE audit_event SET actor_name = '某人' WHERE id = 3")
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "审计链校验未通过" in err and "第一个异常事件：3" in err
    assert main(["audit", "verify", "--anchor", "3:zz"]) == 2


def test_the_migration_chains_the_events_written_before_it(tmp_path):
    """Rows from before revision 0011 get hashes in id order, and the trail then verifies."""
    from alembic import command

    from db.migrate import alembic_config
    from engine import make_runtime

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0006")
    engine = make_runtime(url).session_factory.kw["bind"]
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO org_unit (id, name, level) VALUES (1, '某区', 'district')")
        for ident, opinion in ((1, "同意"), (2, None), (5, "退回：请补充")):  # ids with a gap, as a sequence leaves
            conn.execute(text("INSERT INTO audit_event (id, occurred_at, actor_name, action, org_unit_id, opinion, data) "
                              "VALUES (:i, '2026-03-02 01:00:00.000000', '张三', 'complete', 1, :o, :d)"),
                         {"i": ident, "o": opinion, "d": '{"outcome": "pass"}'})
    engine.dispose()
    command.upgrade(alembic_config(url), "head")
    rt = make_runtime(url)
    report = verify_chain(rt.session_factory)
    assert report.ok and report.checked == 3 and report.head_id == 5
    with reading(rt.session_factory) as session:
        first = session.get(AuditEvent, 1)
        assert first.prev_hash == GENESIS and first.hash == event_hash(
            {c.name: getattr(first, c.name) for c in AuditEvent.__table__.columns}, GENESIS)
    with transaction(rt.session_factory) as session:  # and the engine appends after them
        from datetime import UTC, datetime

        audit.record(session, now=datetime(2026, 3, 3, tzinfo=UTC), action="probe")
    assert verify_chain(rt.session_factory).checked == 4


@pytest.mark.parametrize("target", ["edit_second_half", "delete_at_the_cut"])
def test_a_chain_checked_in_parallel_slices_finds_the_same_break(sqlite_rt, sqlite_users, target):
    for _ in range(3):
        _work(sqlite_rt, sqlite_users)
    events = _events(sqlite_rt)
    whole = verify_chain(sqlite_rt.session_factory, workers=2)
    assert whole.ok and whole.checked == len(events) and whole.head_id == events[-1].id
    middle = events[-1].id // 2
    if target == "edit_second_half":
        victim, expected = events[-3].id, events[-3].id
        _behind_the_triggers(sqlite_rt, "UPDATE audit_event SET opinion = 'x' WHERE id = :i", {"i": victim})
    else:  # the last event of the first slice: the break shows at the first event of the second
        victim, expected = middle, middle + 1
        _behind_the_triggers(sqlite_rt, "DELETE FROM audit_event WHERE id = :i", {"i": victim})
    single = verify_chain(sqlite_rt.session_factory, workers=1)
    parallel = verify_chain(sqlite_rt.session_factory, workers=2)
    assert not parallel.ok and parallel.broken_id == single.broken_id == expected
    assert parallel.problem == single.problem
