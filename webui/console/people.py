"""组织机构与人员: the unit tree, real-name accounts, roles per unit, departures, password resets on a
written request, leaks, background checks, and the new-media password custody declarations.

A new or reset password is shown once, on the page that answers the POST (never flashed: the
session cookie is signed, not encrypted).
"""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request, send_file, url_for
from flask import redirect as _redirect
from flask_login import current_user

from db.models import LEVELS, ROLES, ProcessInstance, User
from db.session import reading
from engine import GovFlowError
from engine.account_records import (
    custody_overview,
    decide_accountability,
    open_letter,
    record_background_check,
    record_custody,
    record_leak,
    reset_password,
)
from engine.attachments import MAX_BYTES
from engine.departures import deactivate_user, unheld_tasks
from engine.people import (
    UNGRANTABLE_ROLES,
    WEBSITE_ROLES,
    create_unit,
    create_user,
    grant_role,
    people_of,
    person_detail,
    revoke_role,
    unit_tree,
)

from ..auth import runtime
from ..i18n import current_lang, t
from .common import admin_only, attempt, client, me

bp = admin_only(Blueprint("console_people", __name__, url_prefix="/admin"))
GRANTABLE = {key: label for key, label in ROLES.items() if key not in UNGRANTABLE_ROLES}


def redirect(endpoint: str, **values):
    return _redirect(url_for(endpoint, **values), 303)


@bp.route("/org/")
def org():
    with reading(runtime().session_factory) as session:
        tree = unit_tree(session, me(session))
    return render_template("console/org.html", tree=tree, levels=LEVELS, tab="console")


@bp.route("/org/units", methods=["POST"])
def add_unit():
    attempt(lambda: create_unit(runtime(), current_user.id, name=request.form.get("name", ""),
                                level=request.form.get("level", ""), parent_id=request.form.get("parent_id", type=int) or 0,
                                reason=request.form.get("reason", "")), t("console.unit_created"))
    return redirect(".org")


@bp.route("/users/")
def users():
    unit_id = request.args.get("unit", type=int)
    with reading(runtime().session_factory) as session:
        admin = me(session)
        rows = people_of(session, admin, unit_id=unit_id, text=request.args.get("q", ""),
                         include_inactive=request.args.get("all") == "1")
        tree = unit_tree(session, admin)
        units = {unit.id: unit.name for unit, _ in tree}
    return render_template("console/users.html", rows=rows, units=units, tree=tree, unit_id=unit_id, tab="console")


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    with reading(runtime().session_factory) as session:
        tree = unit_tree(session, me(session))
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            user_id, password = create_user(
                runtime(), current_user.id, username=form.get("username", ""), real_name=form.get("real_name", ""),
                unit_id=form.get("unit_id", type=int) or 0, phone=form.get("phone", ""),
                id_number=form.get("id_number", ""), email=form.get("email", ""))
        except GovFlowError as err:
            return render_template("console/user_new.html", tree=tree, form=form, error=err.localized(current_lang()),
                                   tab="console"), 400
        return render_template("console/password_issued.html", user_id=user_id, password=password,
                               username=form.get("username", "").strip().lower(), reason="created", tab="console")
    return render_template("console/user_new.html", tree=tree, form=form, error=None, tab="console")


@bp.route("/users/<int:user_id>")
def user(user_id: int):
    with reading(runtime().session_factory) as session:
        admin = me(session)
        detail = person_detail(session, admin, user_id)
        tree = unit_tree(session, admin)
    return render_template("console/user.html", p=detail, tree=tree, roles=GRANTABLE, website_roles=WEBSITE_ROLES,
                           password_days=runtime().policy.values["password_max_age_days"], now=runtime().clock.now(),
                           tab="console")


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
def grant(user_id: int):
    attempt(lambda: grant_role(runtime(), current_user.id, user_id, role=request.form.get("role", ""),
                               unit_id=request.form.get("unit_id", type=int) or 0,
                               reason=request.form.get("reason", "")), t("console.role_granted"))
    return redirect(".user", user_id=user_id)


@bp.route("/users/<int:user_id>/roles/<int:grant_id>/revoke", methods=["POST"])
def revoke(user_id: int, grant_id: int):
    attempt(lambda: revoke_role(runtime(), current_user.id, user_id, grant_id=grant_id,
                                reason=request.form.get("reason", "")), t("console.role_revoked"))
    return redirect(".user", user_id=user_id)


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
def deactivate(user_id: int):
    try:
        d = deactivate_user(runtime(), current_user.id, user_id, reason=request.form.get("reason", ""),
                            client_addr=client())
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
    else:
        flash(t("console.deactivated").format(released=d.released, rerouted=d.rerouted, flagged=d.flagged), "success")
    return redirect(".user", user_id=user_id)


@bp.route("/users/<int:user_id>/reset", methods=["POST"])
def reset(user_id: int):
    upload = request.files.get("letter")
    try:
        password = reset_password(runtime(), current_user.id, user_id,
                                  letter_number=request.form.get("letter_number", ""),
                                  filename=upload.filename if upload else "",
                                  data=upload.read(MAX_BYTES + 1) if upload else b"",
                                  client_addr=client())
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
        return redirect(".user", user_id=user_id)
    with reading(runtime().session_factory) as session:
        username = person_detail(session, me(session), user_id).user.username
    return render_template("console/password_issued.html", user_id=user_id, password=password, username=username,
                           reason="reset", tab="console")


@bp.route("/users/<int:user_id>/resets/<int:reset_id>/letter")
def letter(user_id: int, reset_id: int):
    row, path = open_letter(runtime(), current_user.id, reset_id)
    return send_file(path, mimetype=row.document_type, as_attachment=True, download_name=row.document_name)


@bp.route("/users/<int:user_id>/leaks", methods=["POST"])
def leak(user_id: int):
    attempt(lambda: record_leak(runtime(), current_user.id, user_id, description=request.form.get("description", ""),
                                discovered_on=request.form.get("discovered_on", ""),
                                adverse_effects=request.form.get("adverse_effects") == "1", client_addr=client()),
            t("console.leak_recorded"))
    return redirect(".user", user_id=user_id)


@bp.route("/users/<int:user_id>/leaks/<int:leak_id>/decision", methods=["POST"])
def decision(user_id: int, leak_id: int):
    attempt(lambda: decide_accountability(runtime(), current_user.id, leak_id, decision=request.form.get("decision", ""),
                                          client_addr=client()), t("console.decision_recorded"))
    return redirect(".user", user_id=user_id)


@bp.route("/users/<int:user_id>/background-checks", methods=["POST"])
def background_check(user_id: int):
    attempt(lambda: record_background_check(runtime(), current_user.id, user_id,
                                            checked_on=request.form.get("checked_on", ""),
                                            conducted_by=request.form.get("conducted_by", ""),
                                            reference=request.form.get("reference", ""), client_addr=client()),
            t("console.check_recorded"))
    return redirect(".user", user_id=user_id)


@bp.route("/tasks/unheld")
def unheld():
    with reading(runtime().session_factory) as session:
        tasks = unheld_tasks(session, me(session))
        rows = [(task, session.get(ProcessInstance, task.instance_id),
                 session.get(User, task.assignee_id) if task.assignee_id else None) for task in tasks]
    return render_template("console/unheld.html", rows=rows, tab="console")


@bp.route("/media/")
def media():
    with reading(runtime().session_factory) as session:
        admin = me(session)
        rows = custody_overview(session, admin)
        people = {}
        for asset, _, _ in rows:
            people.setdefault(asset.org_unit_id, people_of(session, admin, unit_id=asset.org_unit_id))
    return render_template("console/media.html", rows=rows, people=people, tab="console")


@bp.route("/media/<int:asset_id>/custody", methods=["POST"])
def custody(asset_id: int):
    attempt(lambda: record_custody(runtime(), current_user.id, asset_id,
                                   keeper_id=request.form.get("keeper_id", type=int) or 0,
                                   device=request.form.get("device", ""),
                                   mobile_via_vpn=request.form.get("mobile_via_vpn") == "1",
                                   note=request.form.get("note", ""), client_addr=client()),
            t("console.custody_recorded"))
    return redirect(".media")
