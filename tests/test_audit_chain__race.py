"""Concurrent writers on PostgreSQL append to one chain: the chain lock in write_staged makes a
second writer wait for the first to commit, so ids and chain order agree and nothing forks.
And PostgreSQL refuses TRUNCATE of the trail (SQLite has no TRUNCATE; its DELETE trigger covers it)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from db.models import AuditEvent
from db.session import before_commit, reading, transaction
from engine import audit
from engine.audit_verify import verify_chain
from tests.conftest import _reset_pg, actors_of, build_runtime
from tests.helpers import submit

pytestmark = pytest.mark.postgres
JOIN_TIMEOUT = 60


@pytest.fixture
def pg_rt(pg_schema_url, clock):
    _reset_pg(pg_schema_url)
    runtime = build_runtime(pg_schema_url, clock)
    yield runtime
    runtime.session_factory.kw["bind"].dispose()


def _events(rt) -> list[AuditEvent]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_a_second_writer_waits_for_the_first_and_chains_onto_its_event(pg_rt):
    written, go, second_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with transaction(pg_rt.session_factory) as session:
                audit.record(session, now=pg_rt.clock.now(), action="probe", data={"writer": 1})
                before_commit(session, lambda: (written.set(), go.wait(JOIN_TIMEOUT)))
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    def second():
        try:
            written.wait(JOIN_TIMEOUT)
            with transaction(pg_rt.session_factory) as session:
                audit.record(session, now=pg_rt.clock.now(), action="probe", data={"writer": 2})
            second_done.set()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert written.wait(JOIN_TIMEOUT)
    # The first writer has inserted its event and holds the chain lock until it commits.
    assert not second_done.wait(1.0), "the second writer must wait for the chain lock"
    go.set()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not errors, errors
    probes = [e for e in _events(pg_rt) if e.action == "probe"]
    assert [p.data["writer"] for p in probes] == [1, 2]
    assert probes[1].id == probes[0].id + 1 and probes[1].prev_hash == probes[0].hash
    assert verify_chain(pg_rt.session_factory).ok


def test_many_concurrent_commands_leave_one_unbroken_chain(pg_rt):
    users = actors_of(pg_rt)
    writers, per_writer = 6, 4
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def work():
        try:
            barrier.wait(JOIN_TIMEOUT)
            for n in range(per_writer):
                submit(pg_rt, users["zhangsan"], kind="wechat", title=f"并发稿件 {threading.get_ident()} {n}")
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not errors, errors
    events = _events(pg_rt)
    assert sum(1 for e in events if e.action == "start") == writers * per_writer
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    report = verify_chain(pg_rt.session_factory)
    assert report.ok and report.checked == len(events)


def test_postgresql_refuses_to_truncate_the_trail(pg_rt):
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    with transaction(pg_rt.session_factory) as session:
        audit.record(session, now=pg_rt.clock.now(), action="probe")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction(pg_rt.session_factory) as session:
            session.execute(text("TRUNCATE audit_event CASCADE"))
    assert verify_chain(pg_rt.session_factory).checked == 1
