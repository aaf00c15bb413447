"""The inbox lists: 待办, 已办, 我发起的."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from db.session import reading
from engine import queries

from .auth import runtime

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


@bp.route("/")
@login_required
def todo():
    with reading(runtime().session_factory) as session:
        rows = queries.todo(session, current_user.id)
    return render_template("inbox/tasks.html", rows=rows, tab="todo")


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
