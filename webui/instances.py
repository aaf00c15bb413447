"""An item's page (its content, current steps, history, sign-offs), withdrawing it, changing the
item under review, copying it to a reader, and the printable approval record (打印审批单)."""

from flask import Blueprint, Response, flash, g, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from db.models import TaskCopy, User
from db.session import reading, transaction
from engine import Actor, InvalidInput, cancel_instance, inbox, oa_actions, queries
from engine.attachments import attachments_of, open_attachment
from engine.oa_actions import SUPERVISOR_ROLES
from engine.progress import instance_progress
from engine.review_integrity import edit_content, review_context, sign_offs

from .auth import runtime
from .i18n import t

bp = Blueprint("instances", __name__, url_prefix="/instances")
# What the printed approval record lists: acts that decided something, with their opinions.
PRINTED_ACTIONS = ("start", "complete", "countersign", "delegate_resolve", "transfer", "withdraw", "content_edit",
                   "approvals_voided", "cancel", "end", "publish")


def _page(session, instance_id: int, user: User):
    rt = runtime()
    page = queries.instance_page(session, instance_id, user, rt.clock.now())  # NotFound → 404
    row = page["instance"]
    page["sign_offs"] = sign_offs(session, instance_id)
    page["signers"] = {s.user_id: session.get(User, s.user_id).real_name for s in page["sign_offs"]}
    page["signers"].update({s.acted_by_id: session.get(User, s.acted_by_id).real_name
                            for s in page["sign_offs"] if s.acted_by_id})
    page["review"] = review_context(session, row) if page["content"] is not None else None
    is_starter = row.started_by_id == user.id
    page["may_urge"] = row.status == "running" and (is_starter or any(
        oa_actions.holds_role_at_or_above(session, user, role, row.org_unit_id) for role in SUPERVISOR_ROLES))
    page["may_edit"] = (is_starter and page["content"] is not None and row.status == "running"
                        and page["content"].status == "in_review"
                        and not any(task.role == "editor" for task in page["open_tasks"]))
    page["copy_to"] = oa_actions.copy_candidates(session, row, user) if is_starter and row.status == "running" else []
    return page


def render_instance(instance_id: int, status: int = 200):
    rt = runtime()
    with reading(rt.session_factory) as session:
        user = session.get(User, current_user.id)
        page = _page(session, instance_id, user)
        progress = instance_progress(rt, session, instance_id, user)
        html = render_template("instances/show.html", page=page, files=attachments_of(session, instance_id),
                               progress=progress)
        unread = session.scalar(select(TaskCopy.id).where(TaskCopy.to_user_id == current_user.id,
                                                          TaskCopy.instance_id == instance_id,
                                                          TaskCopy.read_at.is_(None)).limit(1))
    if status == 200 and unread is not None:
        with transaction(rt.session_factory) as session:  # 抄送我的: opening the item reads the copy
            inbox.mark_copies_read(session, current_user.id, instance_id, rt.clock.now())
    return html, status


@bp.route("/<int:instance_id>")
@login_required
def show(instance_id: int):
    return render_instance(instance_id)


@bp.route("/<int:instance_id>/print")
@login_required
def print_record(instance_id: int):
    """打印审批单: the approval record on one A4 sheet (or more), for filing."""
    rt = runtime()
    with reading(rt.session_factory) as session:
        user = session.get(User, current_user.id)
        page = _page(session, instance_id, user)
        rows = [h for h in page["history"] if h.action in PRINTED_ACTIONS]
        return render_template("instances/print.html", page=page, rows=rows, printed_at=rt.clock.now(),
                               printed_by=user.real_name, files=attachments_of(session, instance_id))


@bp.route("/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    """The BPMN of the version this instance runs on, for the diagram viewer."""
    with reading(runtime().session_factory) as session:
        progress = instance_progress(runtime(), session, instance_id, session.get(User, current_user.id))
    return Response(progress.bpmn_xml, mimetype="application/xml")


@bp.route("/attachments/<int:attachment_id>", endpoint="attachment")
@login_required
def download(attachment_id: int):
    row, path = open_attachment(runtime(), current_user.id, attachment_id)
    return send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.filename)


def _guard(instance_id: int) -> None:
    """404 before any action for someone who may not see the item (no 403 leak)."""
    with reading(runtime().session_factory) as session:
        queries.instance_page(session, instance_id, session.get(User, current_user.id), runtime().clock.now())


@bp.route("/<int:instance_id>/cancel", methods=["POST"])
@login_required
def cancel(instance_id: int):
    _guard(instance_id)
    cancel_instance(runtime(), instance_id, Actor(current_user.id, client_addr=request.remote_addr),
                    reason=request.form.get("reason", ""))
    flash(t("cancel.flash"), "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)


@bp.route("/<int:instance_id>/edit", methods=["POST"])
@login_required
def edit(instance_id: int):
    """The submitting editor changes the item under review: approvals so far are voided."""
    _guard(instance_id)
    try:
        voided = edit_content(runtime(), Actor(current_user.id, client_addr=request.remote_addr), instance_id,
                              title=request.form.get("title", ""), body=request.form.get("body", ""),
                              reason=request.form.get("reason", ""))
    except InvalidInput as err:
        flash(err.localized(g.lang), "error")
        return render_instance(instance_id, status=400)
    flash(t("review.edited").format(n=voided), "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)


@bp.route("/<int:instance_id>/cc", methods=["POST"])
@login_required
def copy(instance_id: int):
    _guard(instance_id)
    recipients = [int(v) for v in request.form.getlist("to_user") if v.isdigit()]
    try:
        oa_actions.copy_item(runtime(), instance_id, Actor(current_user.id, client_addr=request.remote_addr),
                             to_user_ids=recipients, note=request.form.get("note", ""))
    except InvalidInput as err:
        flash(err.localized(g.lang), "error")
        return render_instance(instance_id, status=400)
    flash(t("oa.copied"), "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)

