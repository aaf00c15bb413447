"""What every console blueprint shares: the admin-only guard and small form helpers."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, request
from flask_login import current_user

from db.models import User
from engine import GovFlowError

from ..auth import login_manager


def admin_only(bp: Blueprint) -> Blueprint:
    """Every route of `bp` is for administrators: anonymous users go to the login page, others get 403."""

    @bp.before_request
    def require_admin():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if "admin" not in current_user.roles:
            abort(403)
        return None

    return bp


def me(session) -> User:
    return session.get(User, current_user.id)


def client() -> str | None:
    return request.remote_addr


def attempt(action, success: str) -> bool:
    """Run an engine command; flash its refusal as a sentence (nothing changed) or `success`."""
    try:
        action()
    except GovFlowError as err:
        flash(err.localized(g.get("lang", "zh")), "error")
        return False
    flash(success, "success")
    return True
