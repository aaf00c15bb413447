"""The inbox lists: 待办, 已办, 我发起的."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from db.session import reading
from engine import queries
from engine.badges import deadline_badge
from engine.calendar import calendar_for

from .auth import runtime

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


@bp.route("/")
@login_required
def todo():
    rt = runtime()
    with reading(rt.session_factory) as session:
        rows = queries.todo(session, current_user.id)
        badges = {}
        if any(row.due_at for row in rows):
            calendar, now = calendar_for(session, rt.roll_calendar_days), rt.clock.now()
            badges = {row.id: deadline_badge(calendar, now, row.due_at) for row in rows if row.due_at}
    return render_template("inbox/tasks.html", rows=rows, tab="todo", badges=badges)


@bp.route("/done")
@login_required
def done():
    with reading(runtime().session_factory) as session:
        rows = queries.done(session, current_user.id)
    return render_template("inbox/tasks.html", rows=rows, tab="done")


@bp.route("/started")
@login_required
def started():
    with reading(runtime().session_factory) as session:
        rows = queries.started(session, current_user.id)
        return render_template("inbox/started.html", rows=rows, tab="started")
