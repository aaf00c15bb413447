"""The GovFlow web UI: `create_app(config)` builds the Flask app (tests pass a mapping)."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, g, redirect, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from db.models import CONTENT_STATUSES, ROLES
from db.session import reading
from engine import make_runtime, notifications
from engine.clock import to_shanghai
from engine.inbox import copied_unread_count, todo_count
from engine.queries import ACTION_LABELS

from . import (
    account,
    api_tokens_ui,
    assets,
    audit,
    auth,
    console,
    content,
    errors,
    inbox,
    instances,
    notices,
    operations,
    reports,
    security,
    supervision,
    tasks,
    violations,
    workcalendar,
)
from .api import init_api
from .config import from_environment, rate_limit_defaults
from .i18n import current_lang, remember_lang, t
from .item_links import init_app as init_item_links
from .session_timeout import init_app as init_session_timeout
from .stand_ins import bp as stand_ins_bp

csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    """Build the app. `config` may hold GOVFLOW_RUNTIME (an engine Runtime) for tests."""
    app = Flask(__name__)
    app.config.update(from_environment() if config is None or "SECRET_KEY" not in config else {})
    app.config.update(config or {})
    for key, value in rate_limit_defaults().items():  # a test's mapping may leave them out
        app.config.setdefault(key, value)
    proxies = app.config.get("GOVFLOW_TRUSTED_PROXIES", 0)
    if proxies:  # the client's address (login limits, the audit trail) from the proxies' X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    runtime = app.config.get("GOVFLOW_RUNTIME") or make_runtime(app.config.get("GOVFLOW_DATABASE_URL"))
    app.extensions["govflow"] = runtime

    csrf.init_app(app)
    auth.login_manager.init_app(app)
    for blueprint in (auth.bp, assets.bp, inbox.bp, tasks.bp, content.bp, instances.bp, workcalendar.bp, notices.bp,
                      operations.bp, audit.bp, reports.bp, account.bp, *console.blueprints, stand_ins_bp, errors.bp):
        app.register_blueprint(blueprint)
    for blueprint in (security.bp, supervision.bp, violations.bp):  # issue 7: security, supervision, violations
        app.register_blueprint(blueprint)
    init_api(app, csrf)  # issue 11: /api/v1, token-authenticated
    app.register_blueprint(api_tokens_ui.bp)  # issue 11: personal API tokens

    @app.before_request
    def choose_language():
        g.lang = current_lang()

    app.after_request(remember_lang)
    init_session_timeout(app)
    init_item_links(app)

    @app.context_processor
    def template_helpers():
        def nav_count():
            if not current_user.is_authenticated:
                return 0
            with reading(runtime.session_factory) as session:
                return str(todo_count(session, current_user.id, runtime.clock.now()))

        def copied_count():
            if not current_user.is_authenticated:
                return 0
            with reading(runtime.session_factory) as session:
                count = copied_unread_count(session, current_user.id)
                return str(count) if count.value else 0

        def unread_count():
            if not current_user.is_authenticated:
                return 0
            with reading(runtime.session_factory) as session:
                return notifications.unread_count(session, current_user.id)

        return {"t": t, "lang": lambda: g.get("lang", "zh"), "role_label": _role_label,
                "action_label": _action_label, "nav_count": nav_count, "unread_count": unread_count, "copied_count": copied_count, "status_label": _status_label}

    app.add_template_filter(_local_time, "local")
    app.add_template_filter(_role_label, "role_label")
    app.add_template_filter(_local_seconds, "local_seconds")

    @app.route("/")
    def index():
        return redirect(url_for("inbox.todo"))

    return app


def _local_time(value: datetime | None) -> str:
    """Asia/Shanghai wall time, the way civil servants read it."""
    return to_shanghai(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _local_seconds(value: datetime | None) -> str:
    return to_shanghai(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _role_label(role: str | None) -> str:
    if not role:
        return ""
    return role if g.get("lang") == "en" else ROLES.get(role, role)


def _action_label(action: str) -> str:
    zh, en = ACTION_LABELS.get(action, (action, action))
    return en if g.get("lang") == "en" else zh


def _status_label(status: str) -> str:
    key = f"content.{status}" if status in CONTENT_STATUSES else f"status.{status}"
    try:
        return t(key)
    except KeyError:
        return status
