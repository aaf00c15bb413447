"""安全管理: security cases (SEC-1…SEC-4, SEC-6, SEC-7) and each site's or account's security
evidence (SEC-5, SEC-6). The engine checks who may do what; a refusal is shown as a sentence."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import ASSET_KINDS, PLATFORMS, SECURITY_RECORD_KINDS, VENDOR_STATES, OrgUnit, User
from db.session import reading
from engine import Actor, GovFlowError
from engine.assets import visible_assets
from engine.security import (
    COUNTERFEIT_SOURCES,
    INCIDENT_KINDS,
    NOTIFIERS,
    RECORD_FIELDS,
    SECURITY_PROCESSES,
    SEVERITIES,
    record_security_measure,
    security_cases,
    security_page,
    start_counterfeit_report,
    start_data_release,
    start_hazard_notice,
    start_security_incident,
    start_vendor_onboarding,
    vendors_of,
)

from .auth import runtime
from .i18n import current_lang, t

bp = Blueprint("security", __name__, url_prefix="/security")
LABELS = {"kinds": ASSET_KINDS, "platforms": PLATFORMS, "records": SECURITY_RECORD_KINDS, "vendors": VENDOR_STATES,
          "incidents": INCIDENT_KINDS, "severities": {k: v[0] for k, v in SEVERITIES.items()}, "notifiers": NOTIFIERS,
          "sources": COUNTERFEIT_SOURCES, "processes": SECURITY_PROCESSES}


def _actor() -> Actor:
    return Actor(current_user.id, client_addr=request.remote_addr)


def _run(command, success: str, target: str, **args):
    """Run an engine command; a refusal goes back where the form was, a new request opens its page."""
    try:
        result = command(runtime(), _actor())
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
        return redirect(url_for(target, **args), 303)
    flash(success if current_lang() != "en" else t("sec.done"), "success")
    if isinstance(result, int) and target == "security.index":
        return redirect(url_for("instances.show", instance_id=result), 303)
    return redirect(url_for(target, **args), 303)


def _asset_id() -> int:
    value = request.form.get("asset_id", "")
    return int(value) if value.isdigit() else 0


@bp.route("/")
@login_required
def index():
    with reading(runtime().session_factory) as session:
        user = session.get(User, current_user.id)
        assets = visible_assets(session, user)
        units = {u.id: u.name for u in session.query(OrgUnit)}
        return render_template("security/index.html", cases=security_cases(session, user), assets=assets,
                               own=[a for a in assets if a.org_unit_id == user.org_unit_id], units=units,
                               vendors=vendors_of(session, user), labels=LABELS, tab="security")


@bp.route("/assets/<int:asset_id>")
@login_required
def asset(asset_id: int):
    with reading(runtime().session_factory) as session:
        page = security_page(runtime(), session, session.get(User, current_user.id), asset_id)
        return render_template("security/asset.html", page=page, fields=RECORD_FIELDS, labels=LABELS, tab="security")


@bp.route("/assets/<int:asset_id>/records", methods=["POST"])
@login_required
def record(asset_id: int):
    kind = request.form.get("kind", "")
    values = {f.name: request.form.get(f.name, "") for f in RECORD_FIELDS.get(kind, [])}
    return _run(lambda rt, actor: record_security_measure(rt, actor, asset_id, kind=kind, values=values,
                                                          occurred_on=request.form.get("occurred_on", "")),
                "已登记。", "security.asset", asset_id=asset_id)


@bp.route("/incidents", methods=["POST"])
@login_required
def report_incident():
    form = request.form
    return _run(lambda rt, actor: start_security_incident(rt, actor, _asset_id(), kind=form.get("kind", ""),
                                                          severity=form.get("severity", ""),
                                                          description=form.get("description", "")),
                "已报告安全事件，应急预案已启动。", "security.index")


@bp.route("/hazards", methods=["POST"])
@login_required
def notify_hazard():
    form = request.form
    return _run(lambda rt, actor: start_hazard_notice(rt, actor, _asset_id(), notifier=form.get("notifier", ""),
                                                      hazard=form.get("hazard", ""),
                                                      notice_document=form.get("notice_document", "")),
                "已通报安全隐患。", "security.index")


@bp.route("/counterfeits", methods=["POST"])
@login_required
def report_counterfeit():
    form = request.form
    return _run(lambda rt, actor: start_counterfeit_report(rt, actor, _asset_id(), counterfeit=form.get("counterfeit", ""),
                                                           source=form.get("source", ""),
                                                           details=form.get("details", "")),
                "已登记疑似假冒网站或账号。", "security.index")


@bp.route("/vendors", methods=["POST"])
@login_required
def propose_vendor():
    form = request.form
    return _run(lambda rt, actor: start_vendor_onboarding(rt, actor, name=form.get("name", ""),
                                                          service=form.get("service", ""),
                                                          assets=form.get("assets", "")),
                "已提出服务外包准入。", "security.index")


@bp.route("/datasets", methods=["POST"])
@login_required
def propose_dataset():
    form = request.form
    return _run(lambda rt, actor: start_data_release(rt, actor, name=form.get("name", ""),
                                                     description=form.get("description", "")),
                "已提交数据集开放审查。", "security.index")
