"""监督报表: SUP-1 annual report, SUP-2 inspection coverage, deadline compliance per unit; and the
quarterly inspection sheet where the district office records each site and account it checked.

Every figure is computed from the audit trail (engine/reports.py) and downloadable as CSV or
PDF. Auditors, administrators and the supervising offices read the reports of their units.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from db.models import ASSET_KINDS, OrgUnit, ProcessInstance, User
from db.session import reading
from engine import Actor, GovFlowError
from engine.audit_search import day_start, viewer_scope
from engine.clock import to_shanghai
from engine.reports import annual_report, deadline_compliance, inspection_coverage, load_events, year_bounds
from engine.supervision import CHECK_RESULTS, QUARTERLY, inspection_sheet, record_inspection_check, subtree

from .audit import stamp
from .auth import runtime
from .exports import csv_response, pdf_response
from .i18n import current_lang, t

bp = Blueprint("reports", __name__, url_prefix="/reports")
REPORT_ROLES = ("auditor", "admin", "district_office", "city_office", "province_office")


def _scope(session):
    return viewer_scope(session, session.get(User, current_user.id), REPORT_ROLES)


def _districts(session, scope) -> list[tuple[int, str]]:
    return [(u, n) for u, n in session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.level == "district")
                                               .order_by(OrgUnit.id)) if scope.covers_unit(u)]


def _year() -> int:
    this_year = to_shanghai(runtime().clock.now()).year
    year = request.args.get("year", type=int) or this_year
    return year if 2000 <= year <= this_year + 1 else this_year


def _district(districts) -> tuple[int, str] | None:
    wanted = request.args.get("district", type=int)
    return next((d for d in districts if d[0] == wanted), districts[0] if districts else None)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@bp.route("/")
@login_required
def index():
    with reading(runtime().session_factory) as session:
        districts = _districts(session, _scope(session))
    return render_template("reports/index.html", districts=districts, year=_year(), tab="reports")


@bp.route("/annual")
@login_required
def annual():
    """SUP-1 年度工作报表 of a district, from the audit trail."""
    year = _year()
    with reading(runtime().session_factory) as session:
        districts = _districts(session, _scope(session))
        chosen = _district(districts)
        if chosen is None:
            return render_template("reports/index.html", districts=[], year=year, tab="reports")
        start, _ = year_bounds(year)
        report = annual_report(load_events(session, start, None), year, subtree(session, chosen[0]), runtime().clock.now())
    now = runtime().clock.now()
    offline = [(p.name, p.path, p.start, p.end, round(p.days(now), 1)) for p in report.offline_periods]
    export = request.args.get("format")
    title = f"{chosen[1]}{year}年度政府网站工作报表（SUP-1）"
    if export in ("csv", "pdf"):
        summary = [("发布信息总数", report.published_total), ("受理网民留言", report.messages_received),
                   ("办结网民留言", report.messages_handled), ("按时办结", report.messages_on_time),
                   ("按时办结率", _pct(report.on_time_rate)), ("新开设网站和账号", len(report.openings)),
                   ("关停", len(report.closures)), ("退出监管", len(report.exits)), ("临时下线", len(report.offline_periods))]
        if export == "csv":
            rows = [["总体", k, v] for k, v in summary]
            rows += [["按栏目发布", c, n] for c, n in report.published_by_column]
            rows += [["按月发布", f"{m + 1}月", n] for m, n in enumerate(report.published_by_month)]
            rows += [["留言按类型", ty, f"受理 {r} / 办结 {h} / 按时 {o}"] for ty, r, h, o in report.messages_by_type]
            rows += [["开设", f"{k} {n}", w] for k, n, w in report.openings]
            rows += [["关停", f"{k} {n}", w] for k, n, w in report.closures]
            rows += [["临时下线", f"{n}（{p}）", f"{to_shanghai(s):%Y-%m-%d} 至 {to_shanghai(e):%Y-%m-%d}，{d} 天" if e
                      else f"{to_shanghai(s):%Y-%m-%d} 起，至今 {d} 天"] for n, p, s, e, d in offline]
            rows += [["违规登记", r, n] for r, n in report.violations_by_rule]
            return csv_response(f"{year}年度工作报表", ["分项", "项目", "数值"], rows)
        tables = [("总体情况", ["项目", "数值"], summary),
                  ("按栏目发布", ["栏目", "条数"], report.published_by_column),
                  ("网民留言按类型", ["类型", "受理", "办结", "按时办结"], report.messages_by_type),
                  ("开设", ["类型", "名称", "时间"], report.openings), ("关停", ["类型", "名称", "时间"], report.closures),
                  ("临时下线", ["名称", "途径", "下线", "恢复", "天数"], offline),
                  ("违规登记", ["规则", "起数"], report.violations_by_rule)]
        charts = [("按月发布信息条数", [f"{m}月" for m in range(1, 13)], report.published_by_month)]
        return pdf_response(f"{year}年度工作报表", title, ["数据来源：审计记录（可由审计事件独立复算）"], tables, charts,
                            stamp=stamp())
    charts = {
        "columns": {"type": "bar", "labels": [c for c, _ in report.published_by_column],
                    "datasets": [{"label": t("reports.published"), "data": [n for _, n in report.published_by_column]}]},
        "months": {"type": "line", "labels": [f"{m}月" for m in range(1, 13)],
                   "datasets": [{"label": t("reports.published"), "data": report.published_by_month}]},
        "messages": {"type": "doughnut", "labels": [ty for ty, *_ in report.messages_by_type],
                     "datasets": [{"label": t("reports.messages"), "data": [r for _, r, *_ in report.messages_by_type]}]},
    }
    return render_template("reports/annual.html", report=report, district=chosen, districts=districts, year=year,
                           offline=offline, charts={k: json.dumps(v, ensure_ascii=False) for k, v in charts.items()},
                           rate=_pct(report.on_time_rate), tab="reports")


@bp.route("/inspections")
@login_required
def inspections():
    """SUP-2 coverage: each quarter's inspection of each district."""
    year = _year()
    with reading(runtime().session_factory) as session:
        districts = _districts(session, _scope(session))
        start, end = year_bounds(year)
        rows = inspection_coverage(load_events(session, start, None), year, [d for d, _ in districts])
    names = dict(districts)
    export = request.args.get("format")
    cells = [[names[r.district_id], f"{year}年第{r.quarter}季度", "已开展" if r.instance_id else "未开展", r.scope, r.checked,
              _pct(r.coverage), r.problems, r.reported_at, r.published_at, r.published_url, "是" if r.late else "否"]
             for r in rows]
    columns = ["区(县)", "季度", "状态", "应检查", "已检查", "覆盖率", "发现问题", "报送市政府办公室", "公开时间", "公开网址", "逾期"]
    if export == "csv":
        return csv_response(f"{year}年季度检查覆盖情况", columns, cells)
    if export == "pdf":
        problems = [[names[r.district_id], f"第{r.quarter}季度", a, p] for r in rows for a, p in r.problem_list]
        return pdf_response(f"{year}年季度检查覆盖情况", f"{year}年政府网站和政务新媒体季度检查覆盖情况（SUP-2）",
                            ["数据来源：审计记录"], [("覆盖情况", columns, cells),
                                                ("发现的问题", ["区(县)", "季度", "网站或账号", "问题"], problems)],
                            [("各季度覆盖率（%）", [f"{names[r.district_id]}Q{r.quarter}" for r in rows],
                              [round((r.coverage or 0) * 100, 1) for r in rows])], stamp=stamp())
    chart = {"type": "bar", "labels": [f"{names[r.district_id]} Q{r.quarter}" for r in rows], "max": 100,
             "datasets": [{"label": t("reports.coverage"), "data": [round((r.coverage or 0) * 100, 1) for r in rows]}]}
    return render_template("reports/inspections.html", rows=rows, names=names, year=year,
                           chart=json.dumps(chart, ensure_ascii=False), pct=_pct, tab="reports")


def _dates() -> tuple[date, date]:
    today = to_shanghai(runtime().clock.now()).date()
    try:
        start = date.fromisoformat(request.args.get("from") or f"{today.year}-01-01")
        end = date.fromisoformat(request.args.get("to") or today.isoformat())
    except ValueError:
        flash(t("audit.bad_date").format(value=request.args.get("from") or request.args.get("to")), "error")
        start, end = date(today.year, 1, 1), today
    return start, end


@bp.route("/compliance")
@login_required
def compliance():
    """Deadline compliance per unit: work with a deadline done on time or late, and violations."""
    start, end = _dates()
    with reading(runtime().session_factory) as session:
        scope = _scope(session)
        since, until = day_start(start), day_start(end + timedelta(days=1))
        units = None if scope.everything else scope.unit_ids
        rows = deadline_compliance(load_events(session, since, until), since, until, units)
    cells = [[scope.names.get(r.unit_id, "（系统）"), r.with_deadline, r.on_time, r.late, _pct(r.rate), r.violations]
             for r in rows]
    columns = ["单位", "有期限的办理", "按时", "超期", "按时率", "登记违规"]
    export = request.args.get("format")
    if export == "csv":
        return csv_response(f"期限执行情况{start}至{end}", columns, cells)
    if export == "pdf":
        return pdf_response(f"期限执行情况{start}至{end}", f"各单位办理期限执行情况（{start} 至 {end}）", ["数据来源：审计记录"],
                            [("各单位", columns, cells)],
                            [("按时率（%）", [c[0] for c in cells], [round((r.rate or 0) * 100, 1) for r in rows])],
                            stamp=stamp())
    chart = {"type": "bar", "labels": [c[0] for c in cells], "max": 100,
             "datasets": [{"label": t("reports.on_time_rate"), "data": [round((r.rate or 0) * 100, 1) for r in rows]}]}
    return render_template("reports/compliance.html", cells=cells, start=start, end=end,
                           chart=json.dumps(chart, ensure_ascii=False), tab="reports")


@bp.route("/inspections/<int:instance_id>/sheet")
@login_required
def sheet(instance_id: int):
    """SUP-2 检查记录: every site and account of the inspection and what was found."""
    with reading(runtime().session_factory) as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None or instance.business_key.partition(":")[0] != QUARTERLY:
            from engine import NotFound

            raise NotFound(f"季度检查 {instance_id} 不存在。", f"Inspection {instance_id} does not exist.")
        scope = _scope(session)
        if not scope.covers_unit(instance.org_unit_id):
            from engine import Forbidden

            raise Forbidden("此季度检查不在您的范围内。", "This inspection is outside your units.")
        rows = inspection_sheet(session, instance)
        open_task = instance.status == "running"
        title = instance.title
    done = sum(1 for r in rows if r["record"])
    may_record = open_task and "district_office" in current_user.roles
    return render_template("reports/sheet.html", rows=rows, instance_id=instance_id, title=title, done=done,
                           kinds=ASSET_KINDS, results=CHECK_RESULTS, may_record=may_record, tab="reports")


@bp.route("/inspections/<int:instance_id>/assets/<int:asset_id>", methods=["POST"])
@login_required
def record_check(instance_id: int, asset_id: int):
    try:
        record_inspection_check(runtime(), Actor(current_user.id, client_addr=request.remote_addr), instance_id, asset_id,
                                result=request.form.get("result", ""), problem=request.form.get("problem", ""))
        flash(t("reports.recorded"), "success")
    except GovFlowError as err:
        flash(err.localized(current_lang()), "error")
    return redirect(url_for("reports.sheet", instance_id=instance_id), 303)
