"""Engine errors and HTTP errors as a page with one plain sentence; never a stack trace."""

from __future__ import annotations

import logging

from flask import Blueprint, g, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine import ConflictError, Forbidden, GovFlowError, InvalidInput, NotFound

from .api.problems import is_api_request, problem_for
from .i18n import t

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)

STATUS = [(NotFound, 404), (Forbidden, 403), (ConflictError, 409), (InvalidInput, 400)]


def error_page(message: str, status: int):
    return render_template("errors/error.html", message=message, status=status), status


def _answer(err, message: str, status: int):
    """Under /api/ a problem+json document (webui/api/problems.py), elsewhere a page."""
    if is_api_request():
        return problem_for(err)
    return error_page(message, status)


@bp.app_errorhandler(GovFlowError)
def engine_error(err: GovFlowError):
    status = next((code for cls, code in STATUS if isinstance(err, cls)), 400)
    return _answer(err, err.localized(g.get("lang", "zh")), status)


@bp.app_errorhandler(CSRFError)
def csrf_error(_err):
    return error_page(t("error.csrf"), 400)


@bp.app_errorhandler(403)
def forbidden(err):
    return _answer(err, t("error.403"), 403)


@bp.app_errorhandler(404)
def not_found(err):
    return _answer(err, t("error.404"), 404)


@bp.app_errorhandler(413)
def too_large(err):
    return _answer(err, t("error.413"), 413)


@bp.app_errorhandler(500)
def internal_error(err):
    log.exception("unhandled error", exc_info=getattr(err, "original_exception", err))
    return _answer(err, t("error.500"), 500)


@bp.app_errorhandler(HTTPException)
def other_http_error(err: HTTPException):
    """405, 415, 422 (schema validation), 429 …: problem+json under /api/, Werkzeug's answer elsewhere."""
    return problem_for(err) if is_api_request() else err
