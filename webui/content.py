"""Creating a content item and submitting it to three-level review (三审三校)."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import TARGET_KINDS
from engine import Actor, InvalidInput, submit_content

from .auth import runtime
from .i18n import t

bp = Blueprint("content", __name__, url_prefix="/content")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    values = {"title": "", "body": "", "target_kind": "portal_column", "target_name": ""}
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in values}
        try:
            instance_id = submit_content(runtime(), Actor(current_user.id, client_addr=request.remote_addr),
                                         **values)
        except InvalidInput as err:
            flash(err.localized(g.lang), "error")
            return render_template("content/new.html", values=values, kinds=TARGET_KINDS), 400
        flash(t("content.submitted"), "success")
        return redirect(url_for("instances.show", instance_id=instance_id), 303)
    return render_template("content/new.html", values=values, kinds=TARGET_KINDS)
