"""Creating a content item and submitting it to three-level review (三审三校), by the plain path or a
special one (REV-6 emergency, REV-7 repost, REV-8 policy document, REV-10 out of scope, REV-12
misreading response, REV-15 pushed-in), and opening a public consultation (REV-18)."""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import CONTENT_MODES, TARGET_KINDS, User
from db.session import reading
from engine import Actor, InvalidInput, submit_content
from engine.content import INTERPRETATION_FORMS, REPOST_TRIGGERS, published_items, start_consultation

from .auth import runtime
from .i18n import t

bp = Blueprint("content", __name__, url_prefix="/content")

BASE_FIELDS = ("title", "body", "target_kind", "target_name")
PATH_FIELDS = {
    "emergency": ("reason",), "repost": ("repost_trigger", "source"),
    "pushed": ("source_system", "editor", "reviewer", "signer", "signed_at"),
    "out_of_scope": ("planned_on", "reason"), "clarification": ("related_id", "misreading"),
}
INTERPRETATION_ROWS = 4
FORM_MODES = [m for m in CONTENT_MODES if m != "consultation"]


def _path_values(mode: str, form) -> dict:
    if mode == "policy_document":
        return {"interpretations": [{"form": form.get(f"interp_form_{i}", ""), "title": form.get(f"interp_title_{i}", ""),
                                     "body": form.get(f"interp_body_{i}", "")} for i in range(INTERPRETATION_ROWS)]}
    return {key: form.get(key, "") for key in PATH_FIELDS.get(mode, ())}


def _render(mode: str, values: dict, status: int = 200):
    with reading(runtime().session_factory) as session:
        user = session.get(User, current_user.id)
        published = published_items(session, user.org_unit_id)
        return render_template("content/new.html", values=values, kinds=TARGET_KINDS, mode=mode, modes=FORM_MODES,
                               mode_labels=CONTENT_MODES, forms=INTERPRETATION_FORMS, triggers=REPOST_TRIGGERS,
                               rows=INTERPRETATION_ROWS, published=published), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    mode = request.values.get("mode", "normal")
    if mode not in FORM_MODES:
        abort(404)
    values = {"title": "", "body": "", "target_kind": "portal_column", "target_name": "",
              "related_id": request.args.get("related", "")}
    if request.method == "POST":
        values = request.form.to_dict()
        base = {key: request.form.get(key, "") for key in BASE_FIELDS}
        try:
            instance_id = submit_content(runtime(), Actor(current_user.id, client_addr=request.remote_addr),
                                         mode=mode, **base, **_path_values(mode, request.form))
        except InvalidInput as err:
            flash(err.localized(g.lang), "error")
            return _render(mode, values, 400)
        flash(t("content.submitted"), "success")
        return redirect(url_for("instances.show", instance_id=instance_id), 303)
    return _render(mode, values)


@bp.route("/consultation", methods=["POST"])
@login_required
def consultation():
    """REV-18: open a consultation on a published notice; it must end with results and feedback published."""
    try:
        instance_id = start_consultation(runtime(), Actor(current_user.id, client_addr=request.remote_addr),
                                         notice_item_id=request.form.get("notice_item_id", ""))
    except InvalidInput as err:
        flash(err.localized(g.lang), "error")
        return redirect(url_for("content.new", mode="normal"), 303)
    flash(t("content.consultation_started"), "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)
