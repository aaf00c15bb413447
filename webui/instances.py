"""An item's page (its content, current step and history), and withdrawing it."""

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from db.models import User
from db.session import reading
from engine import Actor, cancel_instance, queries
from engine.attachments import attachments_of, open_attachment
from engine.progress import instance_progress

from .auth import runtime
from .i18n import t

bp = Blueprint("instances", __name__, url_prefix="/instances")


@bp.route("/<int:instance_id>")
@login_required
def show(instance_id: int):
    with reading(runtime().session_factory) as session:
        user = session.get(User, current_user.id)
        page = queries.instance_page(session, instance_id, user)
        progress = instance_progress(runtime(), session, instance_id, user)
        return render_template("instances/show.html", page=page, files=attachments_of(session, instance_id),
                               progress=progress)


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


@bp.route("/<int:instance_id>/cancel", methods=["POST"])
@login_required
def cancel(instance_id: int):
    cancel_instance(runtime(), instance_id, Actor(current_user.id, client_addr=request.remote_addr),
                    reason=request.form.get("reason", ""))
    flash(t("cancel.flash"), "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)
