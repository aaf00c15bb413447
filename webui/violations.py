"""违规登记: the PEN-1 register per unit and type; 通报, office records, 约谈 and accountability."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import VIOLATION_TYPES, User
from db.session import reading
from engine import Actor, GovFlowError
from engine.assets import visible_assets
from engine.violations import (
    ACTIONS,
    TRIGGERS,
    circulate_violations,
    office_units,
    record_violation_by_office,
    register,
    start_accountability,
)

from .auth import runtime
from .i18n import current_lang, t

bp = Blueprint("violations", __name__, url_prefix="/violations")
STATUSES = ("awaiting", "circulated")


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def _run(command, success: str, *, opens_instance: bool = False):
    try:
        result = command(runtime(), Actor(current_user.id, client_addr=request.remote_addr))
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
        return redirect(url_for("violations.index"), 303)
    flash(success if current_lang() != "en" else t("sec.done"), "success")
    if opens_instance:
        return redirect(url_for("instances.show", instance_id=result), 303)
    return redirect(url_for("violations.index"), 303)


@bp.route("/")
@login_required
def index():
    args = request.args
    status = args.get("status") if args.get("status") in STATUSES else None
    category = args.get("category") if args.get("category") in VIOLATION_TYPES else None
    with reading(runtime().session_factory) as session:
        user = session.get(User, current_user.id)
        page = register(session, user, unit_id=_int(args.get("unit")), category=category, status=status)
        everything = register(session, user)  # the filter's choices: every unit the user may see
        offices = office_units(session, user)
        assets = [a for a in visible_assets(session, user) if a.org_unit_id in {u.id for u in offices}]
        return render_template("violations/index.html", page=page, units=everything["units"], assets=assets,
                               office_units=offices,
                               types=VIOLATION_TYPES, triggers=TRIGGERS, actions=ACTIONS,
                               chosen={"unit": _int(args.get("unit")), "category": category, "status": status},
                               tab="violations")


@bp.route("/circulate", methods=["POST"])
@login_required
def circulate():
    ids = [int(i) for i in request.form.getlist("violation_id") if i.isdigit()]
    return _run(lambda rt, actor: circulate_violations(rt, actor, ids, document_number=request.form.get("document_number", ""),
                                                       text=request.form.get("text", "")), "已通报。")


@bp.route("/record", methods=["POST"])
@login_required
def record():
    form = request.form
    return _run(lambda rt, actor: record_violation_by_office(
        rt, actor, unit_id=_int(form.get("unit_id")) or 0, category=form.get("category", ""),
        description=form.get("description", ""), asset_id=_int(form.get("asset_id"))), "已登记违规事项。")


@bp.route("/accountability", methods=["POST"])
@login_required
def accountability():
    form = request.form
    return _run(lambda rt, actor: start_accountability(
        rt, actor, unit_id=_int(form.get("unit_id")) or 0, trigger=form.get("trigger", ""),
        action=form.get("action", ""), summary=form.get("summary", ""), violation_id=_int(form.get("violation_id"))),
        "已启动约谈问责。", opens_instance=True)
