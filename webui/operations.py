"""Daily operations pages: 网民留言 (MSG), 值班表 and 值班读网 (REV-16, MSG-3), and the asset page's
舆情 report (REV-13) and interaction functions (MSG-3)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from db.models import MESSAGE_STATUSES, MESSAGE_TYPES, Asset, CitizenMessage, OrgUnit, ProcessInstance, User
from db.session import reading
from engine import Actor, GovFlowError
from engine.assets import URGENCY, may_view_asset, visible_assets
from engine.assignment import holds_role_at_or_above
from engine.clock import to_shanghai
from engine.duty import (
    items_to_read,
    may_keep_roster,
    may_read,
    readings_of,
    record_duty_reading,
    roster_of,
    set_duty,
)
from engine.messages import (
    INTERACTION_FUNCTIONS,
    accept_message,
    instance_of_message,
    record_interaction,
    units_for_operator,
    visible_messages,
)
from engine.opinion import TRIGGERS, start_public_opinion

from .auth import runtime
from .i18n import current_lang, t

bp = Blueprint("operations", __name__)
FINDING_ROWS = 3


def _actor() -> Actor:
    return Actor(current_user.id, client_addr=request.remote_addr)


def _flash_error(err: GovFlowError) -> None:
    flash(err.localized(current_lang()), "error")


def _today() -> date:
    return to_shanghai(runtime().clock.now()).date()


# --- 网民留言 (MSG) ---------------------------------------------------------------------------------

@bp.route("/messages")
@login_required
def messages():
    with reading(runtime().session_factory) as session:
        user = session.get(User, current_user.id)
        rows = visible_messages(session, user)
        units = {u.id: u.name for u in session.scalars(select(OrgUnit))}
        instances = {m.id: instance_of_message(session, m.id) for m in rows}
        handlers = {u.id: u.real_name for u in session.scalars(select(User))}
        may_accept = bool(units_for_operator(session, user))
        return render_template("operations/messages.html", rows=rows, units=units, instances=instances,
                               handlers=handlers, types=MESSAGE_TYPES, statuses=MESSAGE_STATUSES,
                               now=runtime().clock.now(), may_accept=may_accept, tab="messages")


@bp.route("/messages/new", methods=["GET", "POST"])
@login_required
def accept():
    values = request.form.to_dict() if request.method == "POST" else {}
    if request.method == "POST":
        try:
            instance_id = accept_message(
                runtime(), _actor(), message_type=values.get("message_type", ""),
                unit_id=int(values["unit_id"]) if values.get("unit_id", "").isdigit() else None,
                asset_id=int(values["asset_id"]) if values.get("asset_id", "").isdigit() else None,
                subject=values.get("subject", ""), body=values.get("body", ""),
                citizen_name=values.get("citizen_name", ""), citizen_contact=values.get("citizen_contact", ""))
        except GovFlowError as err:
            _flash_error(err)
        else:
            flash(t("msg.accepted"), "success")
            return redirect(url_for("instances.show", instance_id=instance_id), 303)
    with reading(runtime().session_factory) as session:
        user = session.get(User, current_user.id)
        units = units_for_operator(session, user)
        assets = [a for a in visible_assets(session, user) if a.kind in ("website", "new_media")
                  and holds_role_at_or_above(session, user, "egov_center", a.org_unit_id)]
        return render_template("operations/accept.html", values=values, units=units, assets=assets,
                               types=MESSAGE_TYPES, tab="messages"), (400 if request.method == "POST" else 200)


# --- 值班表 and 值班读网 (REV-16, MSG-3) -------------------------------------------------------------

@bp.route("/duty")
@login_required
def duty():
    today = _today()
    with reading(runtime().session_factory) as session:
        user = session.get(User, current_user.id)
        kept = [u for u in session.scalars(select(OrgUnit).order_by(OrgUnit.id)) if may_keep_roster(session, user, u.id)]
        rosters = {u.id: roster_of(session, u.id, today, 7) for u in kept}
        staff = {u.id: list(session.scalars(select(User).where(User.org_unit_id == u.id, User.active.is_(True))))
                 for u in kept}
        readable = [a for a in visible_assets(session, user) if a.kind in ("website", "new_media")
                    and a.state == "online" and may_read(session, user, a)]
        return render_template("operations/duty.html", kept=kept, rosters=rosters, staff=staff, readable=readable,
                               today=today, last_day=today + timedelta(days=30), tab="duty")


@bp.route("/duty/roster", methods=["POST"])
@login_required
def roster():
    form = request.form
    try:
        set_duty(runtime(), _actor(), unit_id=int(form.get("unit_id") or 0),
                 day=date.fromisoformat(form.get("day") or ""), user_id=int(form.get("user_id") or 0))
    except ValueError:
        flash(t("duty.bad_day"), "error")
    except GovFlowError as err:
        _flash_error(err)
    else:
        flash(t("duty.saved"), "success")
    return redirect(url_for("operations.duty"), 303)


@bp.route("/duty/read/<int:asset_id>", methods=["GET", "POST"])
@login_required
def read(asset_id: int):
    if request.method == "POST":
        form = request.form
        findings = [{"finding": form.get(f"finding_{i}", ""), "urgency": form.get(f"urgency_{i}", "general"),
                     "correction": form.get(f"correction_{i}", "")} for i in range(FINDING_ROWS)]
        try:
            record_duty_reading(runtime(), _actor(), asset_id, read_item_ids=form.getlist("read"), findings=findings,
                                note=form.get("note", ""))
        except GovFlowError as err:
            _flash_error(err)
        else:
            flash(t("duty.recorded"), "success")
            return redirect(url_for("operations.read", asset_id=asset_id), 303)
    with reading(runtime().session_factory) as session:
        user = session.get(User, current_user.id)
        asset = session.get(Asset, asset_id)
        if asset is None or not may_view_asset(session, user, asset):
            from engine import Forbidden

            raise Forbidden("您无权查看此网站或账号。", "You may not see this asset.")
        operator = holds_role_at_or_above(session, user, "egov_center", asset.org_unit_id)
        return render_template("operations/read.html", asset=asset, items=items_to_read(session, asset, _today()),
                               readings=readings_of(session, asset.id), may_read=may_read(session, user, asset),
                               operator=operator, urgency=URGENCY, rows=FINDING_ROWS, today=_today(),
                               readers={u.id: u.real_name for u in session.scalars(select(User))}, tab="duty")


# --- the asset page: 舆情 (REV-13) and interaction functions (MSG-3) ----------------------------------

@bp.route("/assets/<int:asset_id>/opinion", methods=["POST"])
@login_required
def report_opinion(asset_id: int):
    form = request.form
    try:
        instance_id = start_public_opinion(runtime(), _actor(), trigger=form.get("trigger", ""), asset_id=asset_id,
                                           summary=form.get("summary", ""), source=form.get("source", ""))
    except GovFlowError as err:
        _flash_error(err)
        return redirect(url_for("assets.show", asset_id=asset_id), 303)
    flash(t("ops.opinion_reported"), "success")
    return redirect(url_for("instances.show", instance_id=instance_id), 303)


@bp.route("/assets/<int:asset_id>/interaction", methods=["POST"])
@login_required
def interaction(asset_id: int):
    try:
        record_interaction(runtime(), _actor(), asset_id, open_functions=request.form.getlist("open"),
                           reason=request.form.get("reason", ""))
    except GovFlowError as err:
        _flash_error(err)
    else:
        flash(t("ops.interaction_saved"), "success")
    return redirect(url_for("assets.show", asset_id=asset_id), 303)


@bp.app_context_processor
def operations_helpers():
    def citizen_message_of(instance: ProcessInstance | None):
        """The message behind a `message:<id>` instance, for the task and item pages."""
        kind, _, ident = ((instance.business_key if instance else "") or "").partition(":")
        if kind != "message" or not ident.isdigit():
            return None
        with reading(runtime().session_factory) as session:
            message = session.get(CitizenMessage, int(ident))
            if message is not None:
                session.expunge(message)
            return message

    def asset_operations(asset: Asset) -> dict:
        """What the asset page offers around daily operations, for the current user."""
        with reading(runtime().session_factory) as session:
            user = session.get(User, current_user.id)
            return {"own": user.org_unit_id == asset.org_unit_id, "may_read": may_read(session, user, asset),
                    "interaction": (asset.attributes or {}).get("interaction"),
                    "readings": readings_of(session, asset.id, 5)}

    def my_unit_id() -> int | None:
        if not current_user.is_authenticated:
            return None
        with reading(runtime().session_factory) as session:
            return session.get(User, current_user.id).org_unit_id

    return {"citizen_message_of": citizen_message_of, "asset_operations": asset_operations, "my_unit_id": my_unit_id,
            "message_types": MESSAGE_TYPES, "opinion_triggers": TRIGGERS,
            "interaction_functions": INTERACTION_FUNCTIONS}
