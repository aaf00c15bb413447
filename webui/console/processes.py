"""流程管理: the process library, the BPMN editor, drafts, deploying, versions and their differences.

The editor talks JSON to this blueprint (validate, save draft, deploy); every answer carries the
sentences of the deploy validator with the id of the element each one is about.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from db.models import ROLES, User
from db.session import reading
from engine import DeploymentRejected, Forbidden, GovFlowError
from engine.deploy import diagram_problems
from engine.forms import FORMS
from engine.functions import EXPRESSION_FUNCTIONS
from engine.instance_admin import instance_counts
from engine.parsing import MAX_BYTES
from engine.versions import (
    KIND_LABELS,
    deploy_draft,
    diff_versions,
    discard_draft,
    draft_of,
    is_top_admin,
    latest_version,
    new_process_xml,
    process_library,
    save_draft,
    version,
    versions_of,
)

from ..auth import runtime
from ..i18n import t
from .common import admin_only, client, me

bp = admin_only(Blueprint("console_processes", __name__, url_prefix="/admin/processes"))
MAX_REQUEST = 3 * MAX_BYTES  # the XML itself is capped at MAX_BYTES by the hardened parse
RULES_FILE = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
TIMER_EXAMPLES = ["add_working_days(start, 5)", "add_calendar_days(start, 30)", "add_hours(start, 12)",
                  "add_minutes(start, 30)", "end_of_workday(start, policy['office_end_minutes'])"]
EDITOR_LABELS = (
    "panel_title", "panel_none", "name", "process_name", "lane_name", "lane_role", "lane_role_hint", "role_none",
    "role_taken", "outcomes", "outcomes_hint", "outcome_key", "outcome_label", "outcome_add", "remove", "form",
    "form_none", "assignee_starter", "handler", "handler_none", "handler_hint", "parameters", "parameters_hint",
    "timer_kind", "timer_timeDate", "timer_timeDuration", "timer_timeCycle", "timer_expression", "timer_hint",
    "timer_interrupting", "condition", "condition_hint", "documentation", "documentation_hint", "rule_pick",
    "rule_add", "unsaved", "valid", "failed", "note_required", "load_failed",
)


def _lang() -> str:
    return g.get("lang", "zh")


def _problems(errors: list[GovFlowError]) -> list[dict]:
    return [{"element_id": getattr(err, "element_id", None), "message": err.localized(_lang())} for err in errors]


def _body() -> bytes:
    _check_size()
    return request.get_data(cache=False)


def _check_size() -> None:
    if request.content_length is None or request.content_length > MAX_REQUEST:
        abort(413)


def _rules() -> list[tuple[str, str]]:
    """(ID, short title) of every rule in the shipped catalogue, for the documentation picker."""
    if not RULES_FILE.exists():
        return []
    found = re.findall(r"^- \*\*([A-Z]{2,4}-\d+)\*\*(?: \(manual\))? (.*)$", RULES_FILE.read_text(encoding="utf-8"), re.M)
    return [(rule, text[:36] + ("…" if len(text) > 36 else "")) for rule, text in found]


def vocabulary() -> dict:
    """What the editor's panel offers: roles, handlers, forms, calendar functions, rule IDs, labels."""
    return {
        "lang": _lang(),
        "roles": dict(ROLES),
        "handlers": sorted(runtime().handlers),
        "forms": sorted(FORMS),
        "functions": sorted(EXPRESSION_FUNCTIONS),
        "timer_examples": TIMER_EXAMPLES,
        "policy": sorted(runtime().policy.values),
        "rules": _rules(),
        # bpmn-js type names (UserTask) → 用户任务
        "kinds": {**{k[0].upper() + k[1:]: v for k, v in KIND_LABELS.items()}, "Participant": t("editor.participant")},
        "labels": {key: t(f"editor.{key}") for key in EDITOR_LABELS},
    }


@bp.route("/")
def index():
    with reading(runtime().session_factory) as session:
        rows = process_library(session)
        may_deploy = is_top_admin(session, me(session))
    return render_template("console/processes.html", rows=rows, may_deploy=may_deploy, tab="console")


@bp.route("/new", methods=["POST"])
def new():
    key, name = request.form.get("key", "").strip(), request.form.get("name", "").strip()
    with reading(runtime().session_factory) as session:
        taken = latest_version(session, key) is not None or any(r.key == key for r in process_library(session))
    if taken:
        flash(t("console.key_taken").format(key=key), "error")
        return redirect(url_for(".index"), 303)
    try:
        save_draft(runtime(), current_user.id, new_process_xml(key, name), source="new", key=key)
    except GovFlowError as err:
        flash(err.localized(_lang()), "error")
        return redirect(url_for(".index"), 303)
    return redirect(url_for(".edit", key=key), 303)


@bp.route("/upload", methods=["POST"])
def upload():
    """A .bpmn file goes through the hardened parse, then becomes the draft of its process; the
    editor opens it and shows every validator sentence on its element. Nothing is deployed."""
    upload = request.files.get("file")
    data = upload.read(MAX_BYTES + 1) if upload else b""
    try:
        if not data:
            raise DeploymentRejected("请选择一个 .bpmn 文件。", "Choose a .bpmn file.")
        key = save_draft(runtime(), current_user.id, data, source="upload")
    except GovFlowError as err:
        flash(t("console.upload_refused") + err.localized(_lang()), "error")
        return redirect(url_for(".index"), 303)
    flash(t("console.uploaded"), "info")
    return redirect(url_for(".edit", key=key), 303)


def _source(session, key: str, number: int | None = None) -> tuple[str, str]:
    """(XML, what it is) — a given version, else the draft, else the newest version."""
    if number is not None:
        return version(session, key, number).bpmn_xml, "version"
    draft = draft_of(session, key)
    if draft is not None:
        return draft.bpmn_xml, "draft"
    latest = latest_version(session, key)
    if latest is None:
        abort(404)
    return latest.bpmn_xml, "version"


@bp.route("/<key>/edit")
def edit(key: str):
    with reading(runtime().session_factory) as session:
        _source(session, key)  # 404 unless the process or a draft exists
        latest = latest_version(session, key)
        draft = draft_of(session, key)
        draft_by = session.get(User, draft.saved_by_id).real_name if draft else None
        may_deploy = is_top_admin(session, me(session))
    return render_template("console/editor.html", key=key, latest=latest, draft=draft, draft_by=draft_by,
                           may_deploy=may_deploy, vocabulary=vocabulary(), tab="console")


@bp.route("/<key>/source.bpmn")
def source(key: str):
    with reading(runtime().session_factory) as session:
        xml, _ = _source(session, key)
    return Response(xml, mimetype="application/xml")


@bp.route("/<key>/validate", methods=["POST"])
def validate(key: str):
    problems = diagram_problems(runtime(), _body())
    return jsonify({"ok": not problems, "problems": _problems(problems)})


@bp.route("/<key>/draft", methods=["POST"])
def draft(key: str):
    try:
        save_draft(runtime(), current_user.id, _body(), key=key)
    except GovFlowError as err:
        return jsonify({"ok": False, "message": err.localized(_lang()), "problems": _problems([err])}), 400
    return jsonify({"ok": True, "message": t("console.draft_saved")})


@bp.route("/<key>/draft/discard", methods=["POST"])
def discard(key: str):
    try:
        discard_draft(runtime(), current_user.id, key)
    except GovFlowError as err:
        flash(err.localized(_lang()), "error")
    else:
        flash(t("console.draft_discarded"), "success")
    with reading(runtime().session_factory) as session:
        exists = latest_version(session, key) is not None
    return redirect(url_for(".edit", key=key) if exists else url_for(".index"), 303)


@bp.route("/<key>/deploy", methods=["POST"])
def deploy(key: str):
    _check_size()
    payload = request.get_json(silent=True) or {}
    xml, note = payload.get("xml"), payload.get("note", "")
    if not isinstance(xml, str) or not isinstance(note, str):
        return jsonify({"ok": False, "message": t("console.bad_request")}), 400
    data = xml.encode("utf-8")
    problems = diagram_problems(runtime(), data)
    if problems:
        return jsonify({"ok": False, "message": t("console.deploy_refused"), "problems": _problems(problems)}), 422
    try:
        result = deploy_draft(runtime(), current_user.id, key, data, note=note, client_addr=client())
    except DeploymentRejected as err:
        return jsonify({"ok": False, "message": err.localized(_lang()), "problems": _problems([err])}), 422
    except GovFlowError as err:
        return jsonify({"ok": False, "message": err.localized(_lang())}), 403 if isinstance(err, Forbidden) else 400
    message = (t("console.deployed") if result.created else t("console.unchanged")).format(version=result.version)
    return jsonify({"ok": True, "created": result.created, "version": result.version, "message": message})


@bp.route("/<key>/versions")
def versions(key: str):
    with reading(runtime().session_factory) as session:
        rows = versions_of(session, key)
        if not rows:
            abort(404)
        counts = instance_counts(session, [r.id for r in rows])
    return render_template("console/versions.html", key=key, rows=rows, counts=counts, tab="console")


@bp.route("/<key>/versions/<int:number>")
def show_version(key: str, number: int):
    with reading(runtime().session_factory) as session:
        row = version(session, key, number)
        previous = version(session, key, number - 1) if number > 1 else None
        diff = diff_versions(previous.bpmn_xml, row.bpmn_xml) if previous else None
    markers = _markers(diff)
    return render_template("console/version.html", key=key, row=row, previous=previous, diff=diff, markers=markers,
                           tab="console")


@bp.route("/<key>/versions/<int:number>.bpmn")
def download(key: str, number: int):
    with reading(runtime().session_factory) as session:
        row = version(session, key, number)
    return Response(row.bpmn_xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{key}-v{number}.bpmn"'})


@bp.route("/<key>/versions/<int:number>/diagram.bpmn")
def version_xml(key: str, number: int):
    with reading(runtime().session_factory) as session:
        row = version(session, key, number)
    return Response(row.bpmn_xml, mimetype="application/xml")


@bp.route("/<key>/diff")
def diff(key: str):
    a, b = request.args.get("a", type=int), request.args.get("b", type=int)
    if a is None or b is None:
        abort(404)
    with reading(runtime().session_factory) as session:
        old, new = version(session, key, a), version(session, key, b)
        result = diff_versions(old.bpmn_xml, new.bpmn_xml)
    return render_template("console/diff.html", key=key, old=old, new=new, diff=result, markers=_markers(result),
                           tab="console")


def _markers(diff) -> dict:
    if diff is None:
        return {}
    return {"gf-added": [c.element_id for c in diff.added], "gf-changed": [c.element_id for c in diff.changed]}
