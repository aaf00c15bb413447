"""/api/v1/docs: the OpenAPI document as a page, rendered here from the same document (no CDN,
no script)."""

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs", __name__)

METHODS = ("get", "post", "put", "patch", "delete")


def _ref_name(schema: dict | None) -> str | None:
    if not schema:
        return None
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return schema["items"]["$ref"].rsplit("/", 1)[-1] + "[]"
    return schema.get("type")


@bp.route("/api/v1/docs")
def docs():
    spec = current_app.extensions["govflow_api"].spec.to_dict()
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            responses = [(code, r.get("description", ""),
                          _ref_name(next(iter(r.get("content", {}).values()), {}).get("schema")))
                         for code, r in sorted(op.get("responses", {}).items())]
            operations.append({"method": method.upper(), "path": path, "tag": (op.get("tags") or [""])[0],
                               "summary": op.get("summary", ""), "description": op.get("description", ""),
                               "parameters": op.get("parameters", []) + item.get("parameters", []),
                               "body": _ref_name(body), "responses": responses})
    schemas = spec.get("components", {}).get("schemas", {})
    return render_template("api/docs.html", spec=spec, operations=operations, schemas=schemas)
