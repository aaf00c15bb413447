"""The inbox lists: 待办, 已办, 我发起的, 抄送我的 — filters, search, deadline order, keyset pages.

The lists come from engine/inbox.py (the JSON API calls the same functions); this module only
reads the query string and renders.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from db.models import Asset, OrgUnit, RoleGrant, User
from db.session import reading
from engine import inbox
from engine.badges import deadline_badge
from engine.calendar import calendar_for

from .auth import runtime

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
DEADLINE_CHOICES = ("overdue", "today", "soon", "has", "none")
STATUS_CHOICES = ("running", "completed", "cancelled")


def _filters(with_status: bool = False) -> inbox.InboxFilter:
    """The filters from the query string; anything malformed is simply ignored."""
    args = request.args

    def number(name):
        value = args.get(name, "")
        # isascii: "²" is a digit to isdigit() but not to int(); ids are 32-bit.
        return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) < 2**31 else None

    return inbox.InboxFilter(process=args.get("process") or None, asset_id=number("asset"), unit_id=number("unit"),
                             deadline=args.get("deadline") if args.get("deadline") in DEADLINE_CHOICES else None,
                             q=(args.get("q") or "").strip()[:inbox.MAX_QUERY] or None,
                             status=args.get("status") if with_status and args.get("status") in STATUS_CHOICES else None)


def _choices(session, user_id: int) -> dict:
    """What the filter selects offer: the processes, and the units (with their assets) the person
    looks after — their units and those below, where the items in their lists come from."""
    units = session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.parent_id).order_by(OrgUnit.id)).all()
    roots = {user.org_unit_id for user in session.execute(select(User.org_unit_id).where(User.id == user_id))}
    roots |= {unit for (unit,) in session.execute(select(RoleGrant.org_unit_id).where(RoleGrant.user_id == user_id))}
    children: dict[int | None, list[int]] = {}
    for unit_id, _name, parent in units:
        children.setdefault(parent, []).append(unit_id)
    mine, stack = set(), list(roots)
    while stack:
        unit_id = stack.pop()
        if unit_id not in mine:
            mine.add(unit_id)
            stack.extend(children.get(unit_id, []))
    return {"processes": sorted(inbox.process_names(session).items(), key=lambda item: item[1]),
            "units": [(unit_id, name) for unit_id, name, _ in units if unit_id in mine],
            "assets": list(session.execute(select(Asset.id, Asset.name, Asset.platform)
                                           .where(Asset.org_unit_id.in_(mine)).order_by(Asset.name, Asset.id)
                                           .limit(500)).all())}


def _limit() -> int:
    value = request.args.get("limit", "")
    return min(int(value), inbox.MAX_PAGE_SIZE) if value.isdigit() and int(value) > 0 else inbox.PAGE_SIZE


def _render(template: str, tab: str, page, filters, **extra):
    with reading(runtime().session_factory) as session:
        choices = _choices(session, current_user.id)
    args = {k: v for k, v in request.args.items() if k not in ("after", "lang")}
    return render_template(template, tab=tab, rows=page.rows, next_cursor=page.next_cursor, filters=filters,
                           choices=choices, args=args, first_page=not request.args.get("after"),
                           deadline_choices=DEADLINE_CHOICES, status_choices=STATUS_CHOICES, **extra)


@bp.route("/")
@login_required
def todo():
    rt = runtime()
    filters = _filters()
    with reading(rt.session_factory) as session:
        now, calendar = rt.clock.now(), calendar_for(session, rt.roll_calendar_days)
        page = inbox.todo_page(session, current_user.id, now, filters=filters, cursor=request.args.get("after"),
                               limit=_limit(), calendar=calendar)
        badges = {row.id: deadline_badge(calendar, now, row.due_at) for row in page.rows if row.due_at}
    return _render("inbox/tasks.html", "todo", page, filters, badges=badges)


@bp.route("/done")
@login_required
def done():
    filters = _filters()
    with reading(runtime().session_factory) as session:
        page = inbox.done_page(session, current_user.id, filters=filters, cursor=request.args.get("after"),
                               limit=_limit())
    return _render("inbox/tasks.html", "done", page, filters, badges={})


@bp.route("/started")
@login_required
def started():
    filters = _filters(with_status=True)
    with reading(runtime().session_factory) as session:
        page = inbox.started_page(session, current_user.id, filters=filters, cursor=request.args.get("after"),
                                  limit=_limit())
    return _render("inbox/started.html", "started", page, filters)


@bp.route("/copied")
@login_required
def copied():
    with reading(runtime().session_factory) as session:
        page = inbox.copied_page(session, current_user.id, cursor=request.args.get("after"), limit=_limit())
    return _render("inbox/copied.html", "copied", page, inbox.InboxFilter())


@bp.route("/count")
@login_required
def count():
    """The nav badges as JSON (待办 capped "999+", unread copies, unread messages), for refreshing them."""
    from engine import notifications

    rt = runtime()
    with reading(rt.session_factory) as session:
        return {"todo": str(inbox.todo_count(session, current_user.id, rt.clock.now())),
                "copied": str(inbox.copied_unread_count(session, current_user.id)),
                "messages": notifications.unread_count(session, current_user.id)}
