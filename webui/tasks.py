"""The task page and its actions: claim, complete (通过 / 退回 …), release, 转办, 委派, 加签,
撤回, 抄送, 催办 and attachments.

Every route first works out how the person opens the task (engine/access.py): their own, as a
stand-in (委托), as a delegate, or only as someone who may see the item. Someone who may not
even see the item gets 404 for the page and every action alike.
"""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from db.models import HumanTask, StandIn, User
from db.session import reading
from engine import Actor, InvalidInput, NotFound, claim_task, complete_task, oa_actions, queries
from engine.access import task_access
from engine.attachments import add_attachment, attachments_of
from engine.badges import deadline_badge
from engine.calendar import calendar_for
from engine.progress import instance_progress
from engine.review_integrity import review_context

from .auth import runtime
from .i18n import t

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _actor(task_id: int) -> Actor:
    """The acting user; a stand-in acts for their principal. 404 if the task is not theirs to know."""
    rt = runtime()
    with reading(rt.session_factory) as session:
        task = session.get(HumanTask, task_id)
        access = task_access(session, session.get(User, current_user.id), task, rt.clock.now()) if task else None
    if access is None:
        raise NotFound(f"任务 {task_id} 不存在或您无权查看。", f"Task {task_id} does not exist or is not yours to see.")
    return Actor(current_user.id, client_addr=request.remote_addr,
                 on_behalf_of=access.principal_id if access.mode == "deputy" else None)


def _render(task_id: int, status: int = 200, values: dict | None = None, opinion: str = ""):
    rt = runtime()
    with reading(rt.session_factory) as session:
        user = session.get(User, current_user.id)
        now = rt.clock.now()
        page = queries.task_page(session, task_id, user, now)  # NotFound → 404, Forbidden → 403
        if values is not None:
            page.form_values = {**page.form_values, **values}
        task, access = page.task, page.access
        badge = None
        if task.due_at is not None and task.state == "ready":
            badge = deadline_badge(calendar_for(session, rt.roll_calendar_days), now, task.due_at)
        acting = session.get(User, access.principal_id) if access.mode == "deputy" else user
        oa = {"names": {}}
        for key in ("assignee_id", "delegate_id", "added_by_id", "completed_by_id", "acted_by_id"):
            if getattr(task, key):
                oa["names"][key] = session.get(User, getattr(task, key)).real_name
        if task.state == "ready" and access.mode in ("work", "deputy") and not page.refusal:
            oa["transfer"] = oa_actions.transfer_candidates(session, task, acting)
            oa["colleagues"] = oa_actions.colleague_candidates(session, task, acting)
            oa["copy_to"] = oa_actions.copy_candidates(session, page.instance, acting)
            info = page.instance.definition.task_info[task.bpmn_id]
            oa["may_release"] = (task.assignee_id == acting.id and not task.added_by_id and not info.get("multi")
                                 and info.get("assignee") != "starter")
        if access.mode == "deputy":
            oa["stand_in_until"] = session.scalar(select(StandIn.ends_at).where(
                StandIn.deputy_id == user.id, StandIn.principal_id == acting.id, StandIn.revoked_at.is_(None),
                StandIn.ends_at > now).order_by(StandIn.ends_at.desc()).limit(1))
        oa["may_withdraw"] = (task.state == "completed" and task.completed_by_id == acting.id
                              and page.instance.status == "running")
        siblings = []
        if page.multi:
            siblings = [(session.get(User, s.assignee_id).real_name if s.assignee_id else t("task.group"), s.state,
                         queries.outcome_label(page.instance.definition.task_info, s))
                        for s in session.scalars(select(HumanTask).where(
                            HumanTask.instance_id == task.instance_id, HumanTask.bpmn_id == task.bpmn_id,
                            HumanTask.created_at == task.created_at).order_by(HumanTask.id))]
        review = review_context(session, page.instance) if page.content is not None else None
        files = attachments_of(session, page.instance.id)
        progress = instance_progress(rt, session, page.instance.id, user)
        return render_template("tasks/task.html", page=page, opinion=opinion, badge=badge, files=files,
                               progress=progress, oa=oa, acting=acting, siblings=siblings, review=review), status


def _done(message_key: str, task_id: int | None = None, to_inbox: bool = False):
    flash(t(message_key), "success")
    if to_inbox or task_id is None:
        return redirect(url_for("inbox.todo"), 303)
    return redirect(url_for("tasks.show", task_id=task_id), 303)


def _refused(err: InvalidInput, task_id: int, **typed):
    """Show the task page again with the sentence that says what is wrong, and what was typed."""
    flash(err.localized(g.lang), "error")
    return _render(task_id, status=400, **typed)


def _user_id(name: str = "to_user") -> int | None:
    value = request.form.get(name, "")
    return int(value) if value.isdigit() else None


@bp.route("/<int:task_id>")
@login_required
def show(task_id: int):
    return _render(task_id)


@bp.route("/<int:task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: int):
    claim_task(runtime(), task_id, _actor(task_id))
    return _done("claim.flash", task_id)


@bp.route("/<int:task_id>/complete", methods=["POST"])
@login_required
def complete(task_id: int):
    actor = _actor(task_id)
    outcome = request.form.get("outcome", "")
    opinion = request.form.get("opinion", "")
    form = {key: value for key, value in request.form.items() if key.startswith("field_")}
    form = {key.removeprefix("field_"): value for key, value in form.items()}
    try:
        complete_task(runtime(), task_id, actor, outcome=outcome, opinion=opinion, form=form)
    except InvalidInput as err:
        return _refused(err, task_id, values=form, opinion=opinion)
    return _done("done.flash", to_inbox=True)


@bp.route("/<int:task_id>/release", methods=["POST"])
@login_required
def release(task_id: int):
    try:
        oa_actions.release_task(runtime(), task_id, _actor(task_id), reason=request.form.get("reason", ""))
    except InvalidInput as err:
        return _refused(err, task_id)
    return _done("oa.released", to_inbox=True)


@bp.route("/<int:task_id>/transfer", methods=["POST"])
@login_required
def transfer(task_id: int):
    try:
        oa_actions.transfer_task(runtime(), task_id, _actor(task_id), to_user_id=_user_id(),
                                 reason=request.form.get("reason", ""))
    except InvalidInput as err:
        return _refused(err, task_id)
    return _done("oa.transferred", to_inbox=True)


@bp.route("/<int:task_id>/delegate", methods=["POST"])
@login_required
def delegate(task_id: int):
    kind = request.form.get("kind", "delegate")
    try:
        if kind == "sign_after":
            oa_actions.add_signer_after(runtime(), task_id, _actor(task_id), to_user_id=_user_id(),
                                        opinion=request.form.get("reason", ""))
        else:
            oa_actions.delegate_task(runtime(), task_id, _actor(task_id), to_user_id=_user_id(),
                                     reason=request.form.get("reason", ""), kind=kind)
    except InvalidInput as err:
        return _refused(err, task_id)
    return _done("oa.delegated" if kind == "delegate" else "oa.signer_added", task_id)


@bp.route("/<int:task_id>/resolve", methods=["POST"])
@login_required
def resolve(task_id: int):
    opinion = request.form.get("opinion", "")
    try:
        oa_actions.resolve_delegation(runtime(), task_id, _actor(task_id), opinion=opinion,
                                      outcome=request.form.get("outcome") or None)
    except InvalidInput as err:
        return _refused(err, task_id, opinion=opinion)
    return _done("oa.resolved", to_inbox=True)


@bp.route("/<int:task_id>/withdraw", methods=["POST"])
@login_required
def withdraw(task_id: int):
    try:
        reopened = oa_actions.withdraw_task(runtime(), task_id, _actor(task_id), reason=request.form.get("reason", ""))
    except InvalidInput as err:
        return _refused(err, task_id)
    return _done("oa.withdrawn", reopened)


@bp.route("/<int:task_id>/cc", methods=["POST"])
@login_required
def copy(task_id: int):
    actor = _actor(task_id)
    with reading(runtime().session_factory) as session:
        instance_id = session.get(HumanTask, task_id).instance_id
    recipients = [int(v) for v in request.form.getlist("to_user") if v.isdigit()]
    try:
        oa_actions.copy_item(runtime(), instance_id, actor, to_user_ids=recipients, note=request.form.get("note", ""),
                             task_id=task_id)
    except InvalidInput as err:
        return _refused(err, task_id)
    return _done("oa.copied", task_id)


@bp.route("/<int:task_id>/urge", methods=["POST"])
@login_required
def urge(task_id: int):
    """催办 comes from the item page (the urger does not work the task): back there, either way."""
    actor = _actor(task_id)
    with reading(runtime().session_factory) as session:
        instance_id = session.get(HumanTask, task_id).instance_id
    try:
        oa_actions.urge_task(runtime(), task_id, actor, message=request.form.get("message", ""))
    except InvalidInput as err:
        flash(err.localized(g.lang), "error")
        from .instances import render_instance

        return render_instance(instance_id, status=400)
    flash(t("oa.urged"), "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)


@bp.route("/<int:task_id>/attachments", methods=["POST"])
@login_required
def upload(task_id: int):
    actor = _actor(task_id)
    upload = request.files.get("file")
    try:
        add_attachment(runtime(), actor, task_id, upload.filename if upload else "", upload.read() if upload else b"")
    except InvalidInput as err:
        flash(err.localized(g.lang), "error")
    else:
        flash(t("attachment.uploaded"), "success")
    return redirect(url_for("tasks.show", task_id=task_id), 303)
