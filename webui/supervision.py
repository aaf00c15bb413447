"""监督考核: update monitoring (SUP-3, SUP-5), the content responsibility table, the yearly duties
(SUP-4, SUP-6, SUP-7), inspection circulars (SUP-6) and the annual evaluation (SUP-8)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import ASSET_KINDS, EVALUATION_GRADES, PLATFORMS, User
from db.session import reading
from engine import Actor, GovFlowError
from engine.annual import YEARLY, evaluations, start_evaluations, start_inspection_circular, start_yearly_duty
from engine.clock import to_shanghai
from engine.monitoring import (
    PERIODS,
    WECHAT_TYPES,
    monitoring_page,
    record_update,
    set_account_type,
    set_responsibility,
)
from engine.periodic import latest_runs

from .auth import runtime
from .i18n import current_lang, t

bp = Blueprint("supervision", __name__, url_prefix="/supervision")
LABELS = {"kinds": ASSET_KINDS, "platforms": PLATFORMS, "periods": PERIODS, "wechat_types": WECHAT_TYPES,
          "grades": EVALUATION_GRADES, "yearly": list(YEARLY)}


def _run(command, success: str, *, opens_instance: bool = False):
    try:
        result = command(runtime(), Actor(current_user.id, client_addr=request.remote_addr))
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
        return redirect(url_for("supervision.index"), 303)
    flash(success if current_lang() != "en" else t("sec.done"), "success")
    if opens_instance and isinstance(result, int):
        return redirect(url_for("instances.show", instance_id=result), 303)
    return redirect(url_for("supervision.index"), 303)


def _int(name: str) -> int:
    value = request.form.get(name, "").strip()
    return int(value) if value.isdigit() else 0


@bp.route("/")
@login_required
def index():
    rt = runtime()
    with reading(rt.session_factory) as session:
        user = session.get(User, current_user.id)
        page = monitoring_page(rt, session, user)
        return render_template("supervision/index.html", page=page, runs=latest_runs(session),
                               evaluations=evaluations(session, user), labels=LABELS,
                               this_year=to_shanghai(rt.clock.now()).year, tab="supervision")


@bp.route("/assets/<int:asset_id>/updates", methods=["POST"])
@login_required
def add_update(asset_id: int):
    form = request.form
    return _run(lambda rt, actor: record_update(rt, actor, asset_id, title=form.get("title", ""),
                                                published_at=form.get("published_at", ""), url=form.get("url", "")),
                "已登记更新。")


@bp.route("/assets/<int:asset_id>/type", methods=["POST"])
@login_required
def account_type(asset_id: int):
    return _run(lambda rt, actor: set_account_type(rt, actor, asset_id, wechat_type=request.form.get("wechat_type", "")),
                "已设置账号类型。")


@bp.route("/columns/<int:asset_id>/responsibility", methods=["POST"])
@login_required
def responsibility(asset_id: int):
    form = request.form
    return _run(lambda rt, actor: set_responsibility(rt, actor, asset_id, owner_unit_id=_int("owner_unit_id"),
                                                     updates=_int("updates"), period=form.get("period", ""),
                                                     content=form.get("content", ""), quality=form.get("quality", "")),
                "已更新内容保障责任表。")


@bp.route("/yearly/<key>", methods=["POST"])
@login_required
def yearly(key: str):
    return _run(lambda rt, actor: start_yearly_duty(rt, actor, key), "已发起。", opens_instance=True)


@bp.route("/evaluations", methods=["POST"])
@login_required
def evaluate():
    return _run(lambda rt, actor: start_evaluations(rt, actor, year=_int("year")), "已对下属各单位发起年度考评。")


@bp.route("/inspections", methods=["POST"])
@login_required
def inspection():
    form = request.form
    return _run(lambda rt, actor: start_inspection_circular(rt, actor, period=form.get("period", ""),
                                                            findings=form.get("findings", "")),
                "已发起督查结果通报。", opens_instance=True)
