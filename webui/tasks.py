"""The task page and its actions: claim, complete (通过 / 退回 …)."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import User
from db.session import reading
from engine import Actor, InvalidInput, claim_task, complete_task, queries
from engine.attachments import add_attachment, attachments_of
from engine.badges import deadline_badge
from engine.calendar import calendar_for
from engine.progress import instance_progress

from .auth import runtime
from .i18n import t

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _actor() -> Actor:
    return Actor(current_user.id, client_addr=request.remote_addr)


def _render(task_id: int, status: int = 200, values: dict | None = None, opinion: str = ""):
    with reading(runtime().session_factory) as session:
        user = session.get(User, current_user.id)
        page = queries.task_page(session, task_id, user)  # Forbidden → 403 via errors blueprint
        if values is not None:
            page.form_values = {**page.form_values, **values}
        badge = None
        if page.task.due_at is not None and page.task.state == "ready":
            rt = runtime()
            badge = deadline_badge(calendar_for(session, rt.roll_calendar_days), rt.clock.now(), page.task.due_at)
        files = attachments_of(session, page.instance.id)
        progress = instance_progress(runtime(), session, page.instance.id, user)
        return render_template("tasks/task.html", page=page, opinion=opinion, badge=badge, files=files,
                               progress=progress), status


@bp.route("/<int:task_id>")
@login_required
def show(task_id: int):
    return _render(task_id)


@bp.route("/<int:task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: int):
    claim_task(runtime(), task_id, _actor())
    flash(t("claim.flash"), "success")
    return redirect(url_for("tasks.show", task_id=task_id), 303)


@bp.route("/<int:task_id>/complete", methods=["POST"])
@login_required
def complete(task_id: int):
    outcome = request.form.get("outcome", "")
    opinion = request.form.get("opinion", "")
    form = {key: value for key, value in request.form.items() if key.startswith("field_")}
    form = {key.removeprefix("field_"): value for key, value in form.items()}
    try:
        complete_task(runtime(), task_id, _actor(), outcome=outcome, opinion=opinion, form=form)
    except InvalidInput as err:
        # Show the page again with what the user typed, and the sentence that says what is wrong.
        flash(err.localized(g.lang), "error")
        return _render(task_id, status=400, values=form, opinion=opinion)
    flash(t("done.flash"), "success")
    return redirect(url_for("inbox.todo"), 303)


@bp.route("/<int:task_id>/attachments", methods=["POST"])
@login_required
def upload(task_id: int):
    upload = request.files.get("file")
    try:
        add_attachment(runtime(), _actor(), task_id, upload.filename if upload else "", upload.read() if upload else b"")
    except InvalidInput as err:
        flash(err.localized(g.lang), "error")
    else:
        flash(t("attachment.uploaded"), "success")
    return redirect(url_for("tasks.show", task_id=task_id), 303)
