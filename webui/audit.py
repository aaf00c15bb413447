"""审计追溯: the auditor's pages — search, an event in context, REV-9 trace, violations, chain check.

Auditors (role `auditor`) and administrators read here, within their unit and the units below.
Auditors are read-only everywhere: `auditors_read_only` refuses every state-changing request of
a user who holds the auditor role, whatever blueprint serves it (login and logout excepted).
Every list can be downloaded as CSV (UTF-8 with BOM, for Excel) or PDF (for filing).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from db.models import ROLES, Asset, OrgUnit, User
from db.session import reading
from engine.audit_search import (
    EXPORT_LIMIT,
    EventFilter,
    audit_people,
    audit_processes,
    event_context,
    iter_events,
    search_events,
    viewer_scope,
)
from engine.audit_verify import parse_anchor, verify_chain
from engine.clock import to_shanghai
from engine.queries import ACTION_LABELS
from engine.responsibility import responsibility_trace
from engine.violation_list import list_violations

from .auth import runtime
from .exports import csv_response, pdf_response
from .i18n import current_lang, t

bp = Blueprint("audit", __name__, url_prefix="/audit")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# An auditor's own API tokens change no record either: an auditor token is how the audit trail is
# read through the API (GET /api/v1/audit/events), and revoking it must stay possible.
# Their own password too: ACC-2 sends an auditor with an initial or expired password to that page.
READ_ONLY_EXEMPT = {"auth.login", "auth.logout", "static", "api_tokens.create", "api_tokens.revoke",
                    "account.password"}


@bp.before_app_request
def auditors_read_only():
    """An auditor changes nothing: 403 for every mutating request, on every route."""
    if request.method in SAFE_METHODS or request.endpoint in READ_ONLY_EXEMPT:
        return None
    if current_user.is_authenticated and "auditor" in current_user.roles:
        abort(403)
    return None


def _user(session) -> User:
    return session.get(User, current_user.id)


def stamp() -> str:
    """Who exported, and when (Beijing time): the footer of every PDF page."""
    now = to_shanghai(runtime().clock.now()).strftime("%Y-%m-%d %H:%M")
    return f"{current_user.real_name}（{current_user.unit_name}）导出于 {now}"


def _date(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
        if not 2000 <= day.year <= 2100:  # the trail holds nothing else, and year 1 overflows in UTC
            raise ValueError(value)
        return day
    except ValueError:
        flash(t("audit.bad_date").format(value=value), "error")
        return None


def _int(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    # isascii: "²" is a digit to isdigit() but not to int(); 10 digits at most: ids are 32-bit.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) < 2**31 else None


def event_filter() -> EventFilter:
    return EventFilter(asset_id=_int("asset"), actor_id=_int("person"), unit_id=_int("unit"),
                       process_key=request.args.get("process") or None, action=request.args.get("action") or None,
                       date_from=_date("from"), date_to=_date("to"))


def _label(action: str) -> str:
    zh, en = ACTION_LABELS.get(action, (action, action))
    return en if current_lang() == "en" else zh


def _role(role: str | None) -> str:
    return "" if not role else (role if current_lang() == "en" else ROLES.get(role, role))


EVENT_COLUMNS = ["编号", "时间（北京时间）", "办理人", "身份", "单位", "操作", "事项", "流程", "环节", "结果", "意见",
                 "来源地址"]


def _event_cells(row) -> list:
    return [row.id, row.occurred_at, row.actor_name, _role(row.role), row.unit_name, _label(row.action),
            row.instance_title, row.process_name, row.task_name or "", row.outcome_label, row.opinion or "",
            row.client_addr or ""]


def _export(kind: str, filename: str, title: str, lines: list[str], columns: list[str], rows: list[list], charts=()):
    if kind == "csv":
        return csv_response(filename, columns, rows)
    return pdf_response(filename, title, lines, [(title, columns, rows)], charts, stamp=stamp())


@bp.route("/")
@login_required
def search():
    flt = event_filter()
    export = request.args.get("format")
    with reading(runtime().session_factory) as session:
        user = _user(session)
        scope = viewer_scope(session, user)
        if export in ("csv", "pdf"):
            rows = [_event_cells(r) for r in iter_events(session, user, flt)]
            lines = [f"查询条件：{_describe(session, flt)}", f"共 {len(rows)} 条（导出上限 {EXPORT_LIMIT} 条）"]
            return _export(export, "审计记录", "审计记录查询结果", lines, EVENT_COLUMNS, rows)
        page = search_events(session, user, flt, request.args.get("after"))
        units = [(u, scope.names[u]) for u in sorted(scope.unit_ids)]
        assets = [(a.id, a.name) for a in session.scalars(select(Asset).order_by(Asset.id))
                  if scope.covers_unit(a.org_unit_id)]
        return render_template("audit/search.html", page=page, flt=flt, args=request.args, units=units,
                               people=audit_people(session, scope), processes=audit_processes(session),
                               actions=sorted(ACTION_LABELS), assets=assets, tab="audit",
                               export_args={k: v for k, v in request.args.items() if k not in ("after", "format")})


def _describe(session, flt: EventFilter) -> str:
    parts = []
    if flt.asset_id:
        asset = session.get(Asset, flt.asset_id)
        parts.append(f"网站或账号：{asset.name if asset else flt.asset_id}")
    if flt.actor_id:
        person = session.get(User, flt.actor_id)
        parts.append(f"办理人：{person.real_name if person else flt.actor_id}")
    if flt.unit_id:
        unit = session.get(OrgUnit, flt.unit_id)
        parts.append(f"单位：{unit.name if unit else flt.unit_id}")
    if flt.process_key:
        parts.append(f"流程：{flt.process_key}")
    if flt.action:
        parts.append(f"操作：{_label(flt.action)}")
    if flt.date_from or flt.date_to:
        parts.append(f"日期：{flt.date_from or '…'} 至 {flt.date_to or '…'}")
    return "；".join(parts) or "全部"


@bp.route("/events/<int:event_id>")
@login_required
def event(event_id: int):
    with reading(runtime().session_factory) as session:
        context = event_context(session, _user(session), event_id)
        export = request.args.get("format")
        if export in ("csv", "pdf"):
            rows = [_event_cells(r) for r in context.history] or [_event_cells(context.event)]
            lines = [f"审计事件 {event_id}：{_label(context.event.action)}，{context.event.actor_name}",
                     f"哈希 {context.hash}", f"前一哈希 {context.prev_hash}",
                     f"校验：{'内容与哈希一致' if context.hash_ok else '内容与哈希不符'}；"
                     f"{'与前一事件链接完好' if context.link_ok else '与前一事件的链接断开'}"]
            return _export(export, f"审计事件{event_id}", f"审计事件 {event_id} 及其事项记录", lines, EVENT_COLUMNS, rows)
        return render_template("audit/event.html", context=context, tab="audit")


TRACE_COLUMNS = ["责任环节", "办理人", "时间（北京时间）", "环节", "结果", "意见", "事件编号"]


@bp.route("/trace/<int:instance_id>")
@login_required
def trace(instance_id: int):
    """REV-9: the supplier unit and the three reviewers of an item."""
    with reading(runtime().session_factory) as session:
        result = responsibility_trace(session, _user(session), instance_id)
    export = request.args.get("format")
    if export in ("csv", "pdf"):
        rows = [[lane.label, act.actor, act.at, act.step or "", act.outcome, act.opinion, act.event_id]
                for lane in result.lanes for act in lane.acts]
        lines = [f"事项：{result.title}（编号 {result.instance_id}）", f"信息提供单位：{result.supplier_unit}",
                 f"发起时间：{to_shanghai(result.started_at):%Y-%m-%d %H:%M}",
                 f"发布时间：{to_shanghai(result.published_at):%Y-%m-%d %H:%M}" if result.published_at else "发布时间：未发布"]
        return _export(export, f"责任追溯{instance_id}", "信息发布责任追溯（REV-9）", lines, TRACE_COLUMNS, rows)
    return render_template("audit/trace.html", trace=result, tab="audit")


VIOLATION_COLUMNS = ["时间（北京时间）", "类别", "单位", "对象", "规则/流程", "违规类型", "情况", "办理人", "事项编号"]


@bp.route("/violations")
@login_required
def violations():
    date_from, date_to = _date("from"), _date("to")
    with reading(runtime().session_factory) as session:
        rows = list_violations(session, _user(session), runtime().clock.now(), date_from, date_to)
    export = request.args.get("format")
    if export in ("csv", "pdf"):
        cells = [[r.at, "违规登记" if r.kind == "register" else "办理超期", r.unit, r.subject, r.rule, r.category,
                  r.description, r.person, r.instance_id or ""] for r in rows]
        return _export(export, "违规与超期", "违规与超期清单", [f"日期：{date_from or '…'} 至 {date_to or '…'}"],
                       VIOLATION_COLUMNS, cells)
    return render_template("audit/violations.html", rows=rows, args=request.args, tab="violations")


@bp.route("/verify")
@login_required
def verify():
    """审计链校验: run on request (it reads every event), naming the first broken one."""
    with reading(runtime().session_factory) as session:
        viewer_scope(session, _user(session))  # auditors and administrators only
    report, anchor_error = None, None
    if request.args.get("run"):
        anchor = None
        if request.args.get("anchor", "").strip():
            try:
                anchor = parse_anchor(request.args["anchor"])
            except ValueError as err:
                anchor_error = str(err)
        if anchor_error is None:
            report = verify_chain(runtime().session_factory, anchor=anchor)
    return render_template("audit/verify.html", report=report, anchor_error=anchor_error,
                           anchor=request.args.get("anchor", ""), tab="audit",
                           broken_url=url_for("audit.event", event_id=report.broken_id)
                           if report is not None and report.broken_id else None)
