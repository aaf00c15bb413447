"""流程实例: list and filter instances, look inside one, suspend/resume, cancel, migrate, retry."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from db.models import OrgUnit
from db.session import reading
from engine import Actor, cancel_instance, queries
from engine.instance_admin import (
    STATUSES,
    InstanceFilter,
    instance_detail,
    list_instances,
    resume_instance,
    suspend_instance,
)
from engine.migration import migrate_instance
from engine.people import managed_unit_ids
from engine.progress import instance_progress
from engine.versions import process_library

from ..auth import runtime
from ..i18n import t
from .common import admin_only, attempt, client, me

bp = admin_only(Blueprint("console_instances", __name__, url_prefix="/admin/instances"))


def _filter() -> InstanceFilter:
    return InstanceFilter(key=request.args.get("key", ""), version=request.args.get("version", type=int),
                          status=request.args.get("status", ""), unit_id=request.args.get("unit", type=int),
                          text=request.args.get("q", ""), before_id=request.args.get("before", type=int))


@bp.route("/")
def index():
    flt = _filter()
    with reading(runtime().session_factory) as session:
        admin = me(session)
        rows = list_instances(session, admin, flt)
        units = [session.get(OrgUnit, unit_id) for unit_id in sorted(managed_unit_ids(session, admin))]
        processes = process_library(session)
    more = len(rows) > 50
    rows = rows[:50]
    args = {k: v for k, v in request.args.items() if k != "before"}
    next_url = url_for(".index", **args, before=rows[-1].id) if more and rows else None
    return render_template("console/instances.html", rows=rows, flt=flt, units=units, processes=processes,
                           statuses=STATUSES, next_url=next_url, tab="console")


@bp.route("/<int:instance_id>")
def show(instance_id: int):
    with reading(runtime().session_factory) as session:
        admin = me(session)
        detail = instance_detail(runtime(), session, admin, instance_id)
        progress = instance_progress(runtime(), session, instance_id, admin)
        history = queries.history(session, instance_id)
        open_tasks = queries.instance_page(session, instance_id, admin)["open_tasks"]
    return render_template("console/instance.html", d=detail, progress=progress, history=history,
                           open_tasks=open_tasks, tab="console")


def _back(instance_id: int):
    return redirect(url_for(".show", instance_id=instance_id), 303)


@bp.route("/<int:instance_id>/suspend", methods=["POST"])
def suspend(instance_id: int):
    attempt(lambda: suspend_instance(runtime(), instance_id, current_user.id, reason=request.form.get("reason", ""),
                                     client_addr=client()), t("console.suspended_flash"))
    return _back(instance_id)


@bp.route("/<int:instance_id>/resume", methods=["POST"])
def resume(instance_id: int):
    attempt(lambda: resume_instance(runtime(), instance_id, current_user.id, reason=request.form.get("reason", ""),
                                    client_addr=client()), t("console.resumed_flash"))
    return _back(instance_id)


@bp.route("/<int:instance_id>/cancel", methods=["POST"])
def cancel(instance_id: int):
    attempt(lambda: cancel_instance(runtime(), instance_id, Actor(current_user.id, client_addr=client()),
                                    reason=request.form.get("reason", "")), t("cancel.flash"))
    return _back(instance_id)


@bp.route("/<int:instance_id>/migrate", methods=["POST"])
def migrate(instance_id: int):
    attempt(lambda: migrate_instance(runtime(), instance_id, current_user.id,
                                     definition_id=request.form.get("definition_id", type=int) or 0,
                                     reason=request.form.get("reason", ""), client_addr=client()),
            t("console.migrated_flash"))
    return _back(instance_id)
