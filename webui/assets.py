"""网站与账号: the asset registry, each asset's history, and applying for temporary offline."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import ASSET_KINDS, ASSET_STATES, PLATFORMS, VIOLATION_TYPES, OrgUnit, User
from db.session import reading
from engine import Actor, GovFlowError
from engine.assets import (
    CHANGEABLE,
    CLEANUP_GROUNDS,
    CLOSURE_GROUNDS,
    COLUMN_FIELDS,
    OFFLINE_REASONS,
    OPENING_PLAN_FIELDS,
    asset_page,
    start_account_cleanup,
    start_app_launch,
    start_change_info,
    start_column_adjustment,
    start_column_request,
    start_decommission,
    start_exit_supervision,
    start_migration,
    start_open_new_media,
    start_open_website,
    start_temporary_offline,
    start_unit_contacts,
    visible_assets,
)

from .auth import runtime
from .i18n import current_lang

bp = Blueprint("assets", __name__, url_prefix="/assets")
LABELS = {"kinds": ASSET_KINDS, "states": ASSET_STATES, "platforms": PLATFORMS, "violations": VIOLATION_TYPES,
          "reasons": OFFLINE_REASONS, "grounds": CLOSURE_GROUNDS, "changeable": CHANGEABLE,
          "cleanup": CLEANUP_GROUNDS}


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


def _start(starter, success: str, failure_target: str, **failure_args):
    """Run a start command; on refusal show the sentence where the form was, on success the new item."""
    try:
        instance_id = starter(runtime(), Actor(current_user.id, client_addr=request.remote_addr))
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
        return redirect(url_for(failure_target, **failure_args), 303)
    flash(success if current_lang() != "en" else "Submitted.", "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)


@bp.route("/<int:asset_id>/offline", methods=["POST"])
@login_required
def apply_offline(asset_id: int):
    form = request.form
    return _start(lambda rt, actor: start_temporary_offline(
        rt, actor, asset_id, path=form.get("path", ""), reason_kind=form.get("reason_kind", ""),
        reason=form.get("reason", "")), "已提交，进入临时下线流程。", "assets.show", asset_id=asset_id)


@bp.route("/<int:asset_id>/close", methods=["POST"])
@login_required
def apply_closure(asset_id: int):
    form = request.form
    return _start(lambda rt, actor: start_decommission(rt, actor, asset_id, grounds=form.get("grounds", ""),
                                                       plan=form.get("plan", "")),
                  "已提交，进入关停注销流程。", "assets.show", asset_id=asset_id)


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


@bp.route("/<int:asset_id>/change", methods=["POST"])
@login_required
def apply_change(asset_id: int):
    changes = {key: request.form.get(key, "") for key in CHANGEABLE}
    return _start(lambda rt, actor: start_change_info(rt, actor, asset_id, changes), "已报告信息变更。",
                  "assets.show", asset_id=asset_id)


@bp.route("/<int:asset_id>/migrate", methods=["POST"])
@login_required
def apply_migration(asset_id: int):
    return _start(lambda rt, actor: start_migration(rt, actor, asset_id, reason=request.form.get("reason", "")),
                  "已提出整合迁移归档。", "assets.show", asset_id=asset_id)


@bp.route("/<int:asset_id>/exit", methods=["POST"])
@login_required
def apply_exit(asset_id: int):
    return _start(lambda rt, actor: start_exit_supervision(
        rt, actor, asset_id, establishment_document=request.form.get("establishment_document", ""),
        reason=request.form.get("reason", "")), "已提交退出监管申请。", "assets.show", asset_id=asset_id)


@bp.route("/<int:asset_id>/close-column", methods=["POST"])
@login_required
def close_column(asset_id: int):
    return _start(lambda rt, actor: start_column_request(rt, actor, action="close", asset_id=asset_id,
                                                         reason=request.form.get("reason", "")),
                  "已提交关闭申请。", "assets.show", asset_id=asset_id)


@bp.route("/<int:asset_id>/adjust", methods=["POST"])
@login_required
def adjust_column(asset_id: int):
    return _start(lambda rt, actor: start_column_adjustment(rt, actor, asset_id, proposal=request.form.get("proposal", "")),
                  "已提出栏目调整方案。", "assets.show", asset_id=asset_id)


@bp.route("/apply", methods=["GET"])
@login_required
def apply_forms():
    return render_template("assets/apply.html", labels=LABELS, column_fields=COLUMN_FIELDS, tab="assets")


@bp.route("/apply/website", methods=["POST"])
@login_required
def apply_website():
    return _start(lambda rt, actor: start_open_website(rt, actor, name=request.form.get("name", ""),
                                                       special_need=request.form.get("special_need", "")),
                  "已提交网站开设申请。", "assets.apply_forms")


@bp.route("/apply/app", methods=["POST"])
@login_required
def apply_app():
    form = request.form
    return _start(lambda rt, actor: start_app_launch(rt, actor, name=form.get("name", ""), tester=form.get("tester", ""),
                                                     report_number=form.get("report_number", ""),
                                                     report_date=form.get("report_date", "")),
                  "已提交移动客户端上线申请。", "assets.apply_forms")


@bp.route("/apply/column", methods=["POST"])
@login_required
def apply_column():
    form = request.form
    return _start(lambda rt, actor: start_column_request(
        rt, actor, action="open", kind=form.get("kind", "column"), name=form.get("name", ""),
        details={f.name: form.get(f.name, "") for f in COLUMN_FIELDS}), "已提交栏目开设申请。", "assets.apply_forms")


@bp.route("/apply/contacts", methods=["POST"])
@login_required
def apply_contacts():
    form = request.form
    return _start(lambda rt, actor: start_unit_contacts(
        rt, actor, leader=form.get("leader", ""), liaisons=form.get("liaisons", ""),
        website_department=form.get("website_department", ""), website_person=form.get("website_person", "")),
        "已报送负责人和联络员。", "assets.apply_forms")


@bp.route("/<int:asset_id>/cleanup", methods=["POST"])
@login_required
def order_cleanup(asset_id: int):
    return _start(lambda rt, actor: start_account_cleanup(rt, actor, asset_id, grounds=request.form.get("grounds", ""),
                                                          notice=request.form.get("notice", "")),
                  "已下达清理整合通知。", "assets.show", asset_id=asset_id)
