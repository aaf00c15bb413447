"""Webhook: the outside systems told when an instance of a process ends, and their deliveries.

Every administrator may look; only an administrator of the top-level unit (who may deploy
processes) may add, deactivate or send again (engine/webhooks.py refuses the others).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from db.session import reading
from engine import GovFlowError
from engine.versions import is_top_admin
from engine.webhook_admin import (
    create_webhook,
    deactivate_webhook,
    deliveries_by_state,
    deployed_processes,
    list_webhooks,
    recent_deliveries,
    resend_delivery,
)
from engine.webhooks import MAX_ATTEMPTS

from ..auth import runtime
from ..i18n import current_lang, t
from .common import admin_only, attempt, client, me

bp = admin_only(Blueprint("console_webhooks", __name__, url_prefix="/admin/webhooks"))
STATES = ("pending", "delivered", "failed")


@bp.route("/")
def index():
    state = request.args.get("state") if request.args.get("state") in STATES else None
    with reading(runtime().session_factory) as session:
        page = {"webhooks": list_webhooks(session), "deliveries": recent_deliveries(session, state=state),
                "counts": deliveries_by_state(session), "processes": deployed_processes(session),
                "may_manage": is_top_admin(session, me(session))}
    return render_template("console/webhooks.html", **page, state=state, states=STATES, max_attempts=MAX_ATTEMPTS,
                           tab="console")


@bp.route("/", methods=["POST"])
def create():
    key, url = request.form.get("process_key", ""), request.form.get("url", "")
    try:
        webhook_id, secret = create_webhook(runtime(), current_user.id, process_key=key, url=url,
                                            client_addr=client())
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
        return redirect(url_for(".index"), 303)
    return render_template("console/webhook_created.html", webhook_id=webhook_id, secret=secret, key=key.strip(),
                           url=url.strip(), tab="console")


@bp.route("/<int:webhook_id>/deactivate", methods=["POST"])
def deactivate(webhook_id: int):
    attempt(lambda: deactivate_webhook(runtime(), current_user.id, webhook_id, client_addr=client()),
            t("webhook.deactivated"))
    return redirect(url_for(".index"), 303)


@bp.route("/deliveries/<int:delivery_id>/resend", methods=["POST"])
def resend(delivery_id: int):
    attempt(lambda: resend_delivery(runtime(), current_user.id, delivery_id, client_addr=client()),
            t("webhook.resent"))
    return redirect(url_for(".index", state=request.args.get("state")), 303)
