"""Who an API request acts as: a personal token in `Authorization: Bearer …`, never a cookie.

The API reads no session cookie, so a page in a browser cannot make a logged-in user's browser
call it (no CSRF to defend against). Failed attempts are counted per client address; over the
limit the address gets 429 for the rest of the window, valid token or not.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, request

from db.session import transaction
from engine import Actor, Forbidden
from engine.api_tokens import TokenUser, authenticate_token
from engine.rate_limit import count_attempt

from ..auth import runtime
from .problems import problem

FAILURES_PER_WINDOW = 20
FAILURE_WINDOW = timedelta(minutes=5)


def authenticate():
    """before_request of every API blueprint: sets g.api_user or answers 401/429."""
    if request.method == "OPTIONS":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    rt = runtime()
    now = rt.clock.now()
    user = None
    if scheme.lower() == "bearer" and token.strip():
        with transaction(rt.session_factory) as session:
            user = authenticate_token(session, token.strip(), now)
    if user is None:
        limit = current_app.config.get("GOVFLOW_API_AUTH_FAILURES", FAILURES_PER_WINDOW)
        count_attempt(rt.session_factory, f"api-auth:{request.remote_addr}", limit=limit, window=FAILURE_WINDOW,
                      now=now)  # RateLimited → 429 through the error handler
        return problem(401)
    g.api_user = user
    if request.method not in ("GET", "HEAD") and user.read_only:
        # As in the web UI (webui/audit.py): an auditor changes nothing, whatever else they hold.
        raise Forbidden("审计员只能查阅，不能通过接口办理或修改任何事项。",
                        "Auditors only read; they cannot act or change anything through the API.")
    return None


def api_user() -> TokenUser:
    return g.api_user


def actor() -> Actor:
    return Actor(g.api_user.user_id, client_addr=request.remote_addr)


def require_scope(role: str | None, what: str, what_en: str) -> None:
    """The token must carry `role` (its owner may hold more; the token acts in its scope only)."""
    if role is not None and role not in g.api_user.roles:
        from db.models import ROLES

        raise Forbidden(f"此令牌的权限范围不含“{ROLES.get(role, role)}”角色，不能{what}。",
                        f"This token's scope lacks the {role} role, so it cannot {what_en}.")
