"""Engine errors and HTTP errors as a page with one plain sentence; never a stack trace."""

from __future__ import annotations

import logging

from flask import Blueprint, g, render_template
from flask_wtf.csrf import CSRFError

from engine import ConflictError, Forbidden, GovFlowError, InvalidInput, NotFound

from .i18n import t

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)

STATUS = [(NotFound, 404), (Forbidden, 403), (ConflictError, 409), (InvalidInput, 400)]


def error_page(message: str, status: int):
    return render_template("errors/error.html", message=message, status=status), status


@bp.app_errorhandler(GovFlowError)
def engine_error(err: GovFlowError):
    status = next((code for cls, code in STATUS if isinstance(err, cls)), 400)
    return error_page(err.localized(g.get("lang", "zh")), status)


@bp.app_errorhandler(CSRFError)
def csrf_error(_err):
    return error_page(t("error.csrf"), 400)


@bp.app_errorhandler(403)
def forbidden(_err):
    return error_page(t("error.403"), 403)


@bp.app_errorhandler(404)
def not_found(_err):
    return error_page(t("error.404"), 404)


@bp.app_errorhandler(413)
def too_large(_err):
    return error_page(t("error.413"), 413)


@bp.app_errorhandler(500)
def internal_error(err):
    log.exception("unhandled error", exc_info=getattr(err, "original_exception", err))
    return error_page(t("error.500"), 500)
