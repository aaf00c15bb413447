"""站内消息 (the user's notifications) and 故障处理 (administrators' open incidents)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import User
from db.session import reading
from engine import GovFlowError, notifications, queries
from engine.jobs import retry_incident

from .auth import runtime
from .i18n import current_lang, t

bp = Blueprint("notices", __name__)


@bp.route("/notifications/")
@login_required
def inbox():
    with reading(runtime().session_factory) as session:
        rows = notifications.recent(session, current_user.id)
    return render_template("notices/notifications.html", rows=rows, tab="notifications")


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read():
    ids = [int(value) for value in request.form.getlist("id") if value.isdigit()] or None
    notifications.mark_read(runtime(), current_user.id, ids)
    return redirect(url_for("notices.inbox"), 303)


@bp.route("/admin/incidents/")
@login_required
def incidents():
    if "admin" not in current_user.roles:
        abort(403)
    with reading(runtime().session_factory) as session:
        rows = queries.open_incidents(session, session.get(User, current_user.id))
    return render_template("notices/incidents.html", rows=rows, tab="incidents")


@bp.route("/admin/incidents/<int:incident_id>/retry", methods=["POST"])
@login_required
def retry(incident_id: int):
    try:
        retry_incident(runtime(), incident_id, current_user.id, reason=request.form.get("reason", ""),
                       client_addr=request.remote_addr)
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
    else:
        flash(t("incident.retried"), "success")
    return redirect(url_for("notices.incidents"), 303)
