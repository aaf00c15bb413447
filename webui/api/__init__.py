"""The JSON API under /api/v1 for the portal's own systems (CMS, provincial platforms).

flask-smorest turns the marshmallow schemas into request validation, response bodies and the
OpenAPI document (/api/v1/openapi.json); /api/v1/docs renders that document as a page, served
locally. Every route calls the same engine functions the web UI calls, so authorisation,
separation of duties, audit and transactions are one code path.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from . import assets, audit, calendar, content, definitions, docs, instances, me, tasks

VERSION = "1.0.0"
BLUEPRINTS = (me.blp, definitions.blp, instances.blp, content.blp, tasks.blp, assets.blp, audit.blp, calendar.blp)


class GovFlowApi(Api):
    """flask-smorest's Api without its app-wide HTTP error handler: webui/errors.py answers errors
    for the whole app, as problem+json under /api/ and as a page elsewhere."""

    def _register_error_handlers(self):
        pass


def init_api(app: Flask, csrf) -> Api:
    app.config.update({
        "API_TITLE": "GovFlow API", "API_VERSION": VERSION, "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1", "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "info": {"description": "政府网站与政务新媒体流程服务的接口。认证：个人 API 令牌（Authorization: Bearer …）。"
                                    "错误为 application/problem+json。"},
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    })
    api = GovFlowApi(app)
    for blueprint in BLUEPRINTS:
        csrf.exempt(blueprint)  # token-authenticated; no cookie is read
        api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
    app.register_blueprint(docs.bp)
    app.extensions["govflow_api"] = api
    return api
