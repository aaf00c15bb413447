"""工作日历: the year grid, covered years, and the administrator's corrections.

Administrators and auditors may look; only an administrator of the top-level unit may change
the calendar (the engine checks it). A refused change is shown as a sentence and changes nothing.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import GovFlowError
from engine.calendar import bundled_years
from engine.calendar_store import current_calendar, declare_year, list_overrides, remove_override, set_day
from engine.clock import to_shanghai

from .auth import runtime
from .i18n import current_lang, t

bp = Blueprint("workcalendar", __name__, url_prefix="/admin/calendar")
VIEWER_ROLES = {"admin", "auditor"}


def _require_viewer() -> None:
    if not VIEWER_ROLES & set(current_user.roles):
        abort(403)


@bp.route("/")
@login_required
def show():
    _require_viewer()
    rt = runtime()
    this_year = to_shanghai(rt.clock.now()).year
    year = request.args.get("year", type=int) or this_year
    if not 2004 <= year <= 2100:
        abort(404)
    calendar = current_calendar(rt)
    months = [(month, calendar.month_grid(year, month)) for month in range(1, 13)]
    covered = sorted(calendar.covered_years)
    declared = sorted(set(covered) - bundled_years())
    return render_template("workcalendar/show.html", year=year, months=months, covered=year_ranges(covered),
                           declared=declared, is_covered=year in calendar.covered_years,
                           overrides=list_overrides(rt, year), tab="calendar", this_year=this_year,
                           next_uncovered=next(y for y in range(this_year, 2101) if y not in calendar.covered_years))


def year_ranges(years: list[int]) -> str:
    """2004–2026、2028: the covered years as short runs."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return "、".join(f"{a}–{b}" if a != b else str(a) for a, b in runs)


def _back(year: int):
    return redirect(url_for("workcalendar.show", year=year), 303)


def _run(year: int, action, success: str):
    try:
        change = action()
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
        return _back(year)
    flash(success.format(moved=change.moved_deadlines), "success")
    return _back(year)


@bp.route("/days", methods=["POST"])
@login_required
def set_day_view():
    _require_viewer()
    try:
        day = date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        flash(t("cal.bad_date"), "error")
        return _back(request.args.get("year", type=int) or to_shanghai(runtime().clock.now()).year)
    working = request.form.get("kind") == "work"
    return _run(day.year, lambda: set_day(runtime(), current_user.id, day, working=working,
                                          name=request.form.get("name", ""), reason=request.form.get("reason", "")),
                t("cal.saved"))


@bp.route("/overrides/<int:override_id>/remove", methods=["POST"])
@login_required
def remove_view(override_id: int):
    _require_viewer()
    year = request.form.get("year", type=int) or to_shanghai(runtime().clock.now()).year
    return _run(year, lambda: remove_override(runtime(), current_user.id, override_id,
                                              reason=request.form.get("reason", "")), t("cal.removed"))


@bp.route("/years", methods=["POST"])
@login_required
def declare_view():
    _require_viewer()
    year = request.form.get("year", type=int)
    if year is None:
        flash(t("cal.bad_year"), "error")
        return _back(to_shanghai(runtime().clock.now()).year)
    return _run(year, lambda: declare_year(runtime(), current_user.id, year, reason=request.form.get("reason", "")),
                t("cal.declared"))


@bp.route("/policy")
@login_required
def policy():
    """The regional policy profile in force (政策配置), read-only: it is set by configuration."""
    from engine.policy import PROFILES

    _require_viewer()
    current = runtime().policy
    return render_template("workcalendar/policy.html", policy=current, profiles=PROFILES, tab="policy")
