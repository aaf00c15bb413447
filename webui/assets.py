"""网站与账号: the asset registry, each asset's history, and applying for temporary offline."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import ASSET_KINDS, ASSET_STATES, PLATFORMS, VIOLATION_TYPES, OrgUnit, User
from db.session import reading
from engine import Actor, GovFlowError
from engine.assets import (
    CLOSURE_GROUNDS,
    OFFLINE_REASONS,
    OPENING_PLAN_FIELDS,
    asset_page,
    start_decommission,
    start_open_new_media,
    start_temporary_offline,
    visible_assets,
)

from .auth import runtime
from .i18n import current_lang

bp = Blueprint("assets", __name__, url_prefix="/assets")
LABELS = {"kinds": ASSET_KINDS, "states": ASSET_STATES, "platforms": PLATFORMS, "violations": VIOLATION_TYPES,
          "reasons": OFFLINE_REASONS, "grounds": CLOSURE_GROUNDS}


@bp.route("/")
@login_required
def index():
    with reading(runtime().session_factory) as session:
        assets = visible_assets(session, session.get(User, current_user.id))
        units = {u.id: u.name for u in session.query(OrgUnit)}
    return render_template("assets/index.html", assets=assets, units=units, labels=LABELS, tab="assets")


@bp.route("/<int:asset_id>")
@login_required
def show(asset_id: int):
    with reading(runtime().session_factory) as session:
        page = asset_page(session, asset_id, session.get(User, current_user.id))
        unit = session.get(OrgUnit, page["asset"].org_unit_id).name
        return render_template("assets/show.html", page=page, unit=unit, labels=LABELS, tab="assets")


@bp.route("/<int:asset_id>/offline", methods=["POST"])
@login_required
def apply_offline(asset_id: int):
    try:
        instance_id = start_temporary_offline(
            runtime(), Actor(current_user.id, client_addr=request.remote_addr), asset_id,
            path=request.form.get("path", ""), reason_kind=request.form.get("reason_kind", ""),
            reason=request.form.get("reason", ""))
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
        return redirect(url_for("assets.show", asset_id=asset_id), 303)
    flash("已提交，进入临时下线流程。" if current_lang() != "en" else "Submitted.", "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)


@bp.route("/<int:asset_id>/close", methods=["POST"])
@login_required
def apply_closure(asset_id: int):
    try:
        instance_id = start_decommission(runtime(), Actor(current_user.id, client_addr=request.remote_addr), asset_id,
                                         grounds=request.form.get("grounds", ""), plan=request.form.get("plan", ""))
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
        return redirect(url_for("assets.show", asset_id=asset_id), 303)
    flash("已提交，进入关停注销流程。" if current_lang() != "en" else "Submitted.", "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)


@bp.route("/new-media", methods=["GET", "POST"])
@login_required
def open_new_media():
    values = request.form.to_dict() if request.method == "POST" else {}
    if request.method == "POST":
        try:
            instance_id = start_open_new_media(
                runtime(), Actor(current_user.id, client_addr=request.remote_addr),
                platform=values.get("platform", ""), name=values.get("name", ""),
                purpose=values.get("purpose", "unit"), real_name_verified=values.get("real_name_verified") == "yes",
                plan={f.name: values.get(f.name, "") for f in OPENING_PLAN_FIELDS})
        except GovFlowError as err:
            flash(err.localized(current_lang()), "error")
            return render_template("assets/open_new_media.html", values=values, fields=OPENING_PLAN_FIELDS,
                                   labels=LABELS, tab="assets"), 400
        flash("已提交，进入政务新媒体开设流程。" if current_lang() != "en" else "Submitted.", "success")
        return redirect(url_for("instances.show", instance_id=instance_id), 303)
    return render_template("assets/open_new_media.html", values=values, fields=OPENING_PLAN_FIELDS, labels=LABELS,
                           tab="assets")
