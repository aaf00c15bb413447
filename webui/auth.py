"""Logging in and out; who the current user is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user

from db.models import ROLES, OrgUnit, User
from db.session import reading
from engine import authenticate
from engine.accounts import roles_of
from engine.exceptions import RateLimited
from engine.passwords import change_required
from engine.rate_limit import count_attempt

from .i18n import t

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"


@dataclass
class CurrentUser(UserMixin):
    """The logged-in person as the templates need them (no ORM object outlives a request)."""

    id: int
    username: str
    real_name: str
    unit_name: str
    roles: list[str]
    # ACC-2: why the password must be changed before anything else ("initial", "expired"), if it must.
    password_change: str | None = None

    def get_id(self) -> str:
        return str(self.id)

    @property
    def role_labels(self) -> str:
        return "、".join(ROLES.get(r, r) for r in self.roles)


def runtime():
    return current_app.extensions["govflow"]


@login_manager.user_loader
def load_user(user_id: str) -> CurrentUser | None:
    if not user_id.isdigit():
        return None
    with reading(runtime().session_factory) as session:
        user = session.get(User, int(user_id))
        if user is None or not user.active:
            return None
        unit = session.get(OrgUnit, user.org_unit_id)
        roles = sorted({g.role for g in roles_of(session, user.id)})
        rt = runtime()
        return CurrentUser(user.id, user.username, user.real_name, unit.name, roles,
                           change_required(user, rt.clock.now(), rt.policy.values["password_max_age_days"]))


@login_manager.unauthorized_handler
def unauthorized():
    flash(t("login.required"), "error")
    return redirect(url_for("auth.login", next=request.full_path))


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never redirect a login to another host."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("inbox.todo")


def _count_login(username: str) -> None:
    """Count this login attempt per submitted username and per client address; RateLimited when
    either is over its limit. A guesser spreading one name over many addresses meets the first,
    one address trying many names the second."""
    config, rt = current_app.config, runtime()
    window = timedelta(seconds=config["GOVFLOW_LOGIN_WINDOW_SECONDS"])
    refused: RateLimited | None = None
    for key, limit in ((f"login:user:{username.strip().casefold()}", config["GOVFLOW_LOGIN_LIMIT"]),
                       (f"login:addr:{request.remote_addr or 'unknown'}", config["GOVFLOW_LOGIN_ADDRESS_LIMIT"])):
        try:
            count_attempt(rt.session_factory, key, limit=limit, window=window, now=rt.clock.now())
        except RateLimited as err:  # still count the other key, then answer with the longer wait
            if refused is None or err.retry_after > refused.retry_after:
                refused = err
    if refused is not None:
        raise refused


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        try:
            _count_login(request.form.get("username", ""))
        except RateLimited as err:  # the password is not even looked at
            flash(err.localized(g.get("lang", "zh")), "error")
            return render_template("auth/login.html"), 429, {"Retry-After": str(err.retry_after)}
        with reading(runtime().session_factory) as session:
            user = authenticate(session, request.form.get("username", ""), request.form.get("password", ""))
            user_id = user.id if user else None
        if user_id is not None:
            login_user(load_user(str(user_id)))
            return redirect(_safe_next(request.args.get("next")))
        flash(t("login.failed"), "error")
        return render_template("auth/login.html"), 401
    return render_template("auth/login.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))
