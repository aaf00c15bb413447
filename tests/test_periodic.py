"""Periodic duties (engine/periodic.py): run by beat once a minute, each subject acted on once per
period however many runners race, a failing subject kept on the run and retried, the rest going on."""

import threading
from datetime import datetime

from sqlalchemy import func, select

from db.models import PeriodicItem, PeriodicRun, ProcessInstance, RoleGrant, User
from db.session import reading
from engine import authenticate
from engine.calendar_store import declare_year
from engine.periodic import SYSTEM_USERNAME, run_periodic


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _rectifications(rt) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.business_key.like("asset:%:rectification:%")))


def test_beat_runs_the_periodic_duties_every_minute_beside_the_sweep():
    from engine.celery_app import app

    entry = app.conf.beat_schedule["govflow-periodic"]
    assert entry["task"] == "govflow.periodic" and entry["schedule"] == 60
    assert "govflow.periodic" in app.tasks and "govflow.sweep" in app.tasks


def test_racing_runners_open_one_rectification_per_account_and_week(rt, clock):
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(rt)  # baseline
    clock.set(at("2026-03-16T10:00:00+08:00"))  # the first full week (no updates at all) has closed
    errors = []

    def runner():
        try:
            run_periodic(rt)
        except Exception as err:  # a runner must never fail on a race
            errors.append(err)

    threads = [threading.Thread(target=runner) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and _rectifications(rt) == 3  # the three demo accounts, once each
    with reading(rt.session_factory) as session:
        run = session.scalar(select(PeriodicRun).where(PeriodicRun.kind == "update_frequency:week",
                                                       PeriodicRun.state == "done"))
        assert run is not None and run.error is None


def test_a_subject_that_fails_is_kept_on_the_run_and_retried_while_the_others_go_on(sqlite_rt, sqlite_users, clock):
    rt = sqlite_rt
    clock.set(at("2026-12-23T10:00:00+08:00"))
    run_periodic(rt)  # baseline: the week of 12/14
    # The week of 12/21 closes on 12/28; 5 working days from then reach into 2027, not yet entered.
    clock.set(at("2026-12-28T10:00:00+08:00"))
    run_periodic(rt)
    with reading(rt.session_factory) as session:
        run = session.scalar(select(PeriodicRun).where(PeriodicRun.kind == "update_frequency:week")
                             .order_by(PeriodicRun.period_start.desc()))
        assert run.state == "running" and "2027 年节假日安排尚未录入" in run.error
        assert session.scalar(select(func.count()).select_from(PeriodicItem).where(
            PeriodicItem.kind == "update_frequency:week")) == 0  # nothing half-done
    declare_year(rt, sqlite_users["gaoyuan"].user_id, 2027, reason="国办发明电〔2026〕X号（测试）")
    run_periodic(rt)  # the next minute's run picks them up
    assert _rectifications(rt) == 3
    with reading(rt.session_factory) as session:
        assert session.scalar(select(PeriodicRun.state).where(PeriodicRun.id == run.id)) == "done"


def test_what_duties_open_is_started_by_a_system_account_nobody_can_log_in_as(sqlite_rt, clock):
    clock.set(at("2026-03-02T10:00:00+08:00"))
    run_periodic(sqlite_rt)  # opens the year's satisfaction survey
    with reading(sqlite_rt.session_factory) as session:
        system = session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
        survey = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key.like("%satisfaction%")))
        assert survey.started_by_id == system.id and not system.active
        assert session.scalar(select(RoleGrant.id).where(RoleGrant.user_id == system.id)) is None
        assert authenticate(session, SYSTEM_USERNAME, "") is None
