"""Session timeout: a login ends after GOVFLOW_SESSION_MINUTES (default 30) without a request.

The last request's time is kept in the signed session cookie and checked on the server against
the runtime's clock, so an idle cookie stops working even if the browser keeps it; the cookie
itself also expires after the same time.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user, user_logged_in

from .i18n import t

SEEN = "govflow_seen"
DEFAULT_MINUTES = 30


def _now() -> float:
    return current_app.extensions["govflow"].clock.now().timestamp()


def _stamp(_sender, **_extra) -> None:
    session[SEEN] = _now()
    session.permanent = True


def init_app(app) -> None:
    minutes = int(app.config.setdefault("GOVFLOW_SESSION_MINUTES", DEFAULT_MINUTES))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=minutes)
    user_logged_in.connect(_stamp, app)

    @app.before_request
    def end_idle_sessions():
        if not current_user.is_authenticated:
            return None
        now, seen = _now(), session.get(SEEN)
        if seen is None or now - seen > minutes * 60:
            logout_user()
            session.clear()
            flash(t("session.expired").format(n=minutes), "error")
            if request.endpoint in ("auth.login", "static"):
                return None  # on the way to the login page already
            target = request.full_path if request.method == "GET" else None
            return redirect(url_for("auth.login", next=target) if target else url_for("auth.login"))
        session[SEEN] = now
        session.permanent = True
        return None
