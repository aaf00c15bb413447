"""Errors of the JSON API as `application/problem+json` (RFC 9457): a stable `type`, a Chinese
`title` and `detail` (English with `Accept-Language: en`), the HTTP status, and for a conflict
who finished the task and when.

The web UI's error handlers (webui/errors.py) hand every request under /api/ to `problem_for`,
so one mapping serves engine errors, HTTP errors and schema validation alike.
"""

from __future__ import annotations

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

from engine import ConflictError, Forbidden, GovFlowError, InvalidInput, NotFound, RateLimited

API_PREFIX = "/api/"
MEDIA_TYPE = "application/problem+json"

# status → (type, Chinese title, English title)
KINDS = {
    400: ("invalid-input", "请求内容有误", "Invalid input"),
    401: ("unauthenticated", "未提供有效的 API 令牌", "No valid API token"),
    403: ("forbidden", "无权执行此操作", "Not allowed"),
    404: ("not-found", "对象不存在", "Not found"),
    405: ("method-not-allowed", "不支持此请求方法", "Method not allowed"),
    406: ("not-acceptable", "不支持所要求的响应格式", "Not acceptable"),
    409: ("conflict", "操作冲突", "Conflict"),
    413: ("too-large", "请求内容过大", "Request too large"),
    415: ("unsupported-media-type", "请求内容类型不受支持", "Unsupported media type"),
    422: ("validation-failed", "请求字段不符合接口定义", "Request does not match the schema"),
    429: ("too-many-requests", "请求过于频繁", "Too many requests"),
    500: ("internal-error", "服务器内部错误", "Internal error"),
}
DETAILS = {
    401: ("请在 Authorization 请求头中提供有效的 API 令牌（Bearer），令牌可在“API 令牌”页面创建。",
          "Send a valid API token as 'Authorization: Bearer …'; create one on the API tokens page."),
    404: ("请求的地址或对象不存在。", "The address or object does not exist."),
    405: ("此地址不支持该请求方法。", "This address does not accept that method."),
    413: ("请求内容超过了大小限制。", "The request is larger than allowed."),
    415: ("请求体须为 JSON（Content-Type: application/json）。", "The request body must be JSON."),
    422: ("请求中的字段不符合接口定义，详见 errors。", "Some fields do not match the schema; see errors."),
    500: ("服务器处理请求时出错，已记录，请稍后重试。", "The server failed; the error was logged. Try again later."),
}
ENGINE_STATUS = [(RateLimited, 429), (NotFound, 404), (Forbidden, 403), (ConflictError, 409), (InvalidInput, 400)]


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def english() -> bool:
    return (request.accept_languages.best_match(["zh", "en"]) or "zh") == "en"


def problem(status: int, detail: str | None = None, **extra) -> Response:
    kind, title_zh, title_en = KINDS.get(status, KINDS[400 if status < 500 else 500])
    en = english()
    body = {"type": f"urn:govflow:problem:{kind}", "title": title_en if en else title_zh, "status": status,
            "detail": detail or DETAILS.get(status, (title_zh, title_en))[1 if en else 0], **extra}
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="govflow"'
    return response


def problem_for(err: Exception) -> Response:
    """The problem document for an engine error or an HTTP error."""
    if isinstance(err, GovFlowError):
        status = next((code for cls, code in ENGINE_STATUS if isinstance(err, cls)), 400)
        extra = dict(getattr(err, "details", None) or {})
        response = problem(status, err.localized("en" if english() else "zh"), **extra)
        if isinstance(err, RateLimited):
            response.headers["Retry-After"] = str(err.retry_after)
        return response
    if isinstance(err, HTTPException):
        extra = {}
        messages = (getattr(err, "data", None) or {}).get("messages")
        if messages:  # webargs: {location: {field: [message]}}
            extra["errors"] = messages
        response = problem(err.code or 500, None if err.code in DETAILS else err.description, **extra)
        if err.code == 405 and getattr(err, "valid_methods", None):
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response
    return problem(500)
