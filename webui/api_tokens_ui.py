"""API 令牌 (issue 11): each person creates, lists and revokes their own personal API tokens.

A new token's text is on the page that answers the creation and nowhere else: it is not kept
(only its SHA-256 is), not put in the session, and the page is marked not to be cached.
Creating is limited per person and hour (GOVFLOW_TOKEN_CREATE_LIMIT, engine/rate_limit.py).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.models import ApiToken, User
from db.session import reading, transaction
from engine import InvalidInput, NotFound
from engine.api_tokens import MAX_DAYS, create_token, revoke_token, tokens_of
from engine.exceptions import RateLimited
from engine.rate_limit import count_attempt

from .auth import runtime
from .i18n import t

bp = Blueprint("api_tokens", __name__, url_prefix="/account/tokens")
DEFAULT_DAYS = 90
CREATE_WINDOW = timedelta(hours=1)


def _render(status: int = 200, values: dict | None = None, error: str | None = None, headers: dict | None = None):
    rt = runtime()
    with reading(rt.session_factory) as session:
        rows = tokens_of(session, current_user.id)
    values = values or {"name": "", "roles": current_user.roles, "days": str(DEFAULT_DAYS)}
    return render_template("api_tokens/index.html", rows=rows, now=rt.clock.now(), values=values, error=error,
                           max_days=MAX_DAYS), status, headers or {}


def _own_token(token_id: int) -> ApiToken:
    """One of the current user's tokens; anyone else's is 'not found', as if it did not exist."""
    with reading(runtime().session_factory) as session:
        row = session.get(ApiToken, token_id)
    if row is None or row.user_id != current_user.id:
        raise NotFound(f"令牌 {token_id} 不存在。", f"Token {token_id} does not exist.")
    return row


def _days(value: str) -> int:
    value = value.strip()
    if not value.isdigit():
        raise InvalidInput(f"有效期须为 1 至 {MAX_DAYS} 之间的整数天数。",
                           f"The validity must be a whole number of days from 1 to {MAX_DAYS}.")
    return int(value)


@bp.route("/")
@login_required
def index():
    return _render()


@bp.route("/", methods=["POST"])
@login_required
def create():
    values = {"name": request.form.get("name", ""), "roles": request.form.getlist("roles"),
              "days": request.form.get("days", "")}
    rt = runtime()
    try:
        # Counted before anything else, refused attempts included, so guessing at the form is limited too.
        count_attempt(rt.session_factory, f"token_create:user:{current_user.id}",
                      limit=current_app.config["GOVFLOW_TOKEN_CREATE_LIMIT"], window=CREATE_WINDOW,
                      now=rt.clock.now())
    except RateLimited as err:
        return _render(429, values, err.localized(g.lang), {"Retry-After": str(err.retry_after)})
    try:
        days = _days(values["days"])
        with transaction(rt.session_factory) as session:
            user = session.get(User, current_user.id)
            row, token = create_token(session, user, name=values["name"], roles=values["roles"], days=days,
                                      now=rt.clock.now(), client_addr=request.remote_addr)
            name, roles, expires_at = row.name, row.roles.split(","), row.expires_at
    except InvalidInput as err:
        return _render(400, values, err.localized(g.lang))
    page = render_template("api_tokens/created.html", token=token, name=name, roles=roles, expires_at=expires_at)
    # The one response that carries the token: no browser or proxy may keep a copy.
    return page, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.route("/<int:token_id>/revoke")
@login_required
def confirm_revoke(token_id: int):
    row = _own_token(token_id)
    if row.revoked_at is not None:
        flash(t("tokens.already_revoked"), "info")
        return redirect(url_for("api_tokens.index"), 303)
    return render_template("api_tokens/revoke.html", row=row)


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    rt = runtime()
    with transaction(rt.session_factory) as session:
        user = session.get(User, current_user.id)
        revoke_token(session, user, token_id, now=rt.clock.now(), client_addr=request.remote_addr)
    flash(t("tokens.revoked"), "success")
    return redirect(url_for("api_tokens.index"), 303)
