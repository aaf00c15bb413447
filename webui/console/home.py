"""管理控制台 home: what needs an administrator's attention, and where each section lives."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template
from sqlalchemy import func, select

from db.models import ProcessDefinition, ProcessDraft, ProcessInstance, User
from db.session import reading
from engine.account_records import custody_overview
from engine.departures import unheld_tasks
from engine.people import managed_unit_ids

from ..auth import runtime
from .common import admin_only, me

bp = admin_only(Blueprint("console", __name__, url_prefix="/admin"))


@dataclass
class Stats:
    processes: int
    drafts: int
    running: int
    suspended: int
    incidents: int
    active_users: int
    must_change: int
    unheld: int
    media_missing: int


@bp.route("/")
def home():
    with reading(runtime().session_factory) as session:
        admin = me(session)
        units = managed_unit_ids(session, admin) or {-1}
        mine = ProcessInstance.org_unit_id.in_(units)

        def count(*where):
            return session.scalar(select(func.count()).select_from(ProcessInstance).where(mine, *where)) or 0

        stats = Stats(
            processes=session.scalar(select(func.count(func.distinct(ProcessDefinition.key)))) or 0,
            drafts=session.scalar(select(func.count()).select_from(ProcessDraft)) or 0,
            running=count(ProcessInstance.status == "running"),
            suspended=count(ProcessInstance.status == "running", ProcessInstance.suspended.is_(True)),
            incidents=count(ProcessInstance.status == "running", ProcessInstance.has_incident.is_(True)),
            active_users=session.scalar(select(func.count()).select_from(User)
                                        .where(User.org_unit_id.in_(units), User.active.is_(True))) or 0,
            must_change=session.scalar(select(func.count()).select_from(User).where(
                User.org_unit_id.in_(units), User.active.is_(True), User.must_change_password.is_(True))) or 0,
            unheld=len(unheld_tasks(session, admin)),
            media_missing=sum(1 for _, custody, _ in custody_overview(session, admin)
                              if custody is None or not custody.mobile_via_vpn))
    return render_template("console/home.html", stats=stats, tab="console",
                           password_days=runtime().policy.values["password_max_age_days"])
