"""What every API module shares: the runtime, the acting user's row, documented error responses."""

from __future__ import annotations

from flask_smorest import Blueprint

from db.models import User

from .schemas import ProblemSchema
from .security import api_user, authenticate, runtime  # noqa: F401  (re-exported for the route modules)


def new_blueprint(name: str, prefix: str, description: str) -> Blueprint:
    blueprint = Blueprint(f"api_{name}", __name__, url_prefix=prefix, description=description)
    blueprint.before_request(authenticate)
    return blueprint


def problems(blp: Blueprint, *codes: int):
    """Document the problem+json answers a route can give (401 and 429 always can)."""
    def decorate(view):
        for code in sorted({401, 429, *codes}):
            view = blp.alt_response(code, schema=ProblemSchema, content_type="application/problem+json",
                                    description="application/problem+json")(view)
        return view
    return decorate


def me(session) -> User:
    return session.get(User, api_user().user_id)
