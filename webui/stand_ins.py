"""委托代理: name a colleague who works your tasks while you are away, and end it early."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from db.session import reading
from engine import Actor, InvalidInput
from engine.clock import SHANGHAI
from engine.stand_ins import colleagues, create_stand_in, revoke_stand_in, stand_ins_of

from .auth import runtime
from .i18n import t

bp = Blueprint("stand_ins", __name__, url_prefix="/stand-ins")


def _instant(value: str) -> datetime:
    """A datetime-local field (Beijing time) as an aware instant."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=SHANGHAI)
    except (TypeError, ValueError):
        raise InvalidInput("请填写完整的起止时间。", "Give both the start and the end.") from None


def _render(status: int = 200, values: dict | None = None):
    rt = runtime()
    with reading(rt.session_factory) as session:
        mine, for_others = stand_ins_of(session, current_user.id, rt.clock.now())
        people = colleagues(session, current_user.id)
        return render_template("stand_ins/index.html", mine=mine, for_others=for_others, people=people,
                               values=values or {}, tab="stand_ins"), status


@bp.route("/")
@login_required
def index():
    return _render()


@bp.route("/", methods=["POST"])
@login_required
def create():
    values = {key: request.form.get(key, "") for key in ("deputy", "starts_at", "ends_at", "reason")}
    try:
        create_stand_in(runtime(), Actor(current_user.id, client_addr=request.remote_addr),
                        deputy_id=int(values["deputy"]) if values["deputy"].isdigit() else 0,
                        starts_at=_instant(values["starts_at"]), ends_at=_instant(values["ends_at"]),
                        reason=values["reason"])
    except InvalidInput as err:
        flash(err.localized(g.lang), "error")
        return _render(400, values)
    flash(t("standin.created"), "success")
    return redirect(url_for("stand_ins.index"), 303)


@bp.route("/<int:stand_in_id>/revoke", methods=["POST"])
@login_required
def revoke(stand_in_id: int):
    try:
        revoke_stand_in(runtime(), Actor(current_user.id, client_addr=request.remote_addr), stand_in_id)
    except InvalidInput as err:
        flash(err.localized(g.lang), "error")
        return _render(400)
    flash(t("standin.revoked"), "success")
    return redirect(url_for("stand_ins.index"), 303)
