"""修改密码 (every user), and ACC-2's forced change: while a password is an initial/reset one or older
than the policy's maximum age, every page except this one and logging out leads here."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import GovFlowError
from engine.passwords import change_password

from .auth import runtime
from .i18n import t

bp = Blueprint("account", __name__, url_prefix="/account")
ALLOWED_WHILE_FORCED = {"account.password", "auth.logout", "auth.login", "static"}


@bp.before_app_request
def force_password_change():
    if (current_user.is_authenticated and getattr(current_user, "password_change", None)
            and request.endpoint not in ALLOWED_WHILE_FORCED):
        return redirect(url_for("account.password"))
    return None


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    error = None
    if request.method == "POST":
        new = request.form.get("new", "")
        if new != request.form.get("confirm", ""):
            error = t("account.mismatch")
        else:
            try:
                change_password(runtime(), current_user.id, current=request.form.get("current", ""), new=new,
                                client_addr=request.remote_addr)
            except GovFlowError as err:
                error = err.localized(g.get("lang", "zh"))
            else:
                flash(t("account.changed"), "success")
                return redirect(url_for("inbox.todo"), 303)
    return render_template("account/password.html", error=error, reason=current_user.password_change,
                           days=runtime().policy.values["password_max_age_days"]), 400 if error else 200
