"""Security incidents and hazards (SEC-1…SEC-7): starting the security processes, and each
site's or account's security evidence.

The seeds say only 立即/及时/定期 here, so every deadline is a policy value (engine/policy.py)
that the diagrams read as policy['…']. Requests about a site or account use the business key
`asset:<id>:<kind>:<n>`, so they never block its lifecycle requests; the others are
`unit:<id>:<kind>:<n>`.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    ASSET_KINDS,
    SECURITY_RECORD_KINDS,
    Asset,
    ProcessDefinition,
    ProcessInstance,
    SecurityRecord,
    Vendor,
)
from db.session import transaction

from . import audit
from .assets import MAX_REASON, asset_key, may_view_asset
from .assignment import holds_role_at_or_above
from .clock import to_shanghai
from .commands import Actor, load_actor, start_in_session
from .exceptions import Forbidden, InvalidInput, NotFound
from .forms import Field, Form, clean_values, register_form

SECURITY_PROCESSES = {"security_incident": "安全事件处置", "hazard_rectification": "安全隐患整改",
                      "counterfeit_report": "假冒网站和账号处置", "vendor_onboarding": "服务外包准入",
                      "data_release": "数据集开放审查"}
NOTIFIERS = {"office": "主管单位（政府办公室）", "cac": "网信部门"}
INCIDENT_KINDS = {"incident": "网络安全事件", "intrusion": "账号遭恶意入侵"}
# SEC-2: severity levels of the national cybersecurity incident classification (rank 1 lowest).
SEVERITIES = {"general": ("一般", 1), "large": ("较大", 2), "major": ("重大", 3), "critical": ("特别重大", 4)}
COUNTERFEIT_SOURCES = {"monitoring": "监测发现", "public": "群众举报"}


def _serial(session: Session, prefix: str) -> int:
    return 1 + (session.scalar(select(func.count()).select_from(ProcessInstance).where(
        ProcessInstance.business_key.like(f"{prefix}:%"))) or 0)


def _text(value: str, what_zh: str, what_en: str, limit: int = MAX_REASON) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise InvalidInput(f"请填写{what_zh}（不超过 {limit} 个字）。", f"Give {what_en} (at most {limit} characters).")
    return value


def _asset(session: Session, asset_id: int) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(f"网站或账号 {asset_id} 不存在。", f"Asset {asset_id} does not exist.")
    return asset


def start_hazard_notice(rt, actor: Actor, asset_id: int, *, notifier: str, hazard: str, notice_document: str) -> int:
    """SEC-1: the supervising office notifies a hazard (its own, or 网信's) to the site's host unit."""
    if notifier not in NOTIFIERS:
        raise InvalidInput("请选择通报部门：主管单位或网信部门。", "Choose who notified the hazard.")
    hazard = _text(hazard, "安全隐患的情况", "the hazard")
    notice_document = _text(notice_document, "通报文号或通知方式", "the notice reference", 200)
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _asset(session, asset_id)
        if not holds_role_at_or_above(session, user, "district_office", asset.org_unit_id):
            raise Forbidden("安全隐患由主办单位的主管单位（政府办公室）通报或登记（SEC-1）。",
                            "The office above the host unit notifies hazards (SEC-1).")
        prefix = f"{asset_key(asset.id)}:hazard"
        return start_in_session(rt, session, "hazard_rectification", actor, title=f"{asset.name}安全隐患整改",
                                business_key=f"{prefix}:{_serial(session, prefix)}",
                                opinion=f"{NOTIFIERS[notifier]}通报（{notice_document}）：{hazard}",
                                data={"asset_id": asset.id, "asset_kind": asset.kind, "notifier": notifier},
                                for_unit_id=asset.org_unit_id).id


def latest_record(session: Session, asset_id: int, kind: str) -> SecurityRecord | None:
    return session.scalar(select(SecurityRecord).where(SecurityRecord.asset_id == asset_id, SecurityRecord.kind == kind)
                          .order_by(SecurityRecord.occurred_on.desc(), SecurityRecord.id.desc()).limit(1))


def start_security_incident(rt, actor: Actor, asset_id: int, *, kind: str, severity: str, description: str) -> int:
    """SEC-2/SEC-3: the host unit reports an incident and starts its emergency plan at once."""
    if kind not in INCIDENT_KINDS:
        raise InvalidInput("请选择事件类型。", "Choose the kind of incident.")
    if severity not in SEVERITIES:
        raise InvalidInput("请选择事件级别：一般、较大、重大或特别重大。", "Choose the severity.")
    description = _text(description, "事件情况", "what happened")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _asset(session, asset_id)
        if user.org_unit_id != asset.org_unit_id:
            raise Forbidden("安全事件由网站或账号的主办单位报告（SEC-2）。", "The host unit reports its incidents (SEC-2).")
        if kind == "intrusion" and (asset.kind != "new_media" or asset.state != "online"):
            raise InvalidInput("账号遭入侵的处置适用于在运行的政务新媒体账号（SEC-3）。",
                               "The intrusion path is for a running new-media account (SEC-3).")
        plan = latest_record(session, asset.id, "emergency_plan")
        started = f"已启动应急预案“{plan.details['title']}”" if plan else "未登记应急预案（SEC-5），已按通用处置流程启动"
        label, rank = SEVERITIES[severity]
        prefix = f"{asset_key(asset.id)}:incident"
        return start_in_session(rt, session, "security_incident", actor,
                                title=f"{asset.name}{INCIDENT_KINDS[kind]}（{label}）",
                                business_key=f"{prefix}:{_serial(session, prefix)}",
                                opinion=f"{started}。{description}",
                                data={"asset_id": asset.id, "asset_kind": asset.kind, "kind": kind,
                                      "severity": severity, "severity_rank": rank,
                                      "emergency_plan": plan.details["title"] if plan else ""}).id


def start_counterfeit_report(rt, actor: Actor, asset_id: int, *, counterfeit: str, source: str, details: str) -> int:
    """SEC-4: the operator records a suspected counterfeit of a registered site or account."""
    if source not in COUNTERFEIT_SOURCES:
        raise InvalidInput("请选择线索来源：监测发现或群众举报。", "Choose how it was found.")
    counterfeit = _text(counterfeit, "假冒网站或账号的名称、网址或账号 ID", "the counterfeit's name or address", 300)
    details = _text(details, "线索情况", "the details")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _asset(session, asset_id)
        if not holds_role_at_or_above(session, user, "egov_center", asset.org_unit_id):
            raise Forbidden("假冒网站和账号由运维单位登记（SEC-4）。", "The operator records counterfeits (SEC-4).")
        prefix = f"{asset_key(asset.id)}:counterfeit"
        return start_in_session(rt, session, "counterfeit_report", actor, title=f"疑似假冒“{asset.name}”：{counterfeit}",
                                business_key=f"{prefix}:{_serial(session, prefix)}",
                                opinion=f"{COUNTERFEIT_SOURCES[source]}：{details}",
                                data={"asset_id": asset.id, "asset_kind": asset.kind, "counterfeit": counterfeit},
                                for_unit_id=asset.org_unit_id).id


def start_vendor_onboarding(rt, actor: Actor, *, name: str, service: str, assets: str) -> int:
    """SEC-6: the host unit proposes an outsourced vendor; it may not start work before onboarding ends."""
    name = _text(name, "服务单位名称", "the vendor's name", 200)
    service = _text(service, "外包服务的人员、内容和质量要求", "the service")
    assets = _text(assets, "涉及的网站或账号", "the sites or accounts concerned", 500)
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        prefix = f"unit:{user.org_unit_id}:vendor"
        row = start_in_session(rt, session, "vendor_onboarding", actor, title=f"服务外包准入：{name}",
                               business_key=f"{prefix}:{_serial(session, prefix)}", opinion=f"{assets}：{service}")
        session.add(Vendor(org_unit_id=user.org_unit_id, name=name, service=service, assets=assets, state="reviewing",
                           instance_id=row.id, created_at=rt.clock.now()))
        return row.id


def start_data_release(rt, actor: Actor, *, name: str, description: str) -> int:
    """SEC-7: a data set proposed for release goes through secrecy review and desensitisation."""
    name = _text(name, "数据集名称", "the data set's name", 200)
    description = _text(description, "数据集说明（字段、格式、更新频率）", "the data set's description")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        prefix = f"unit:{user.org_unit_id}:dataset"
        return start_in_session(rt, session, "data_release", actor, title=f"数据集开放：{name}",
                                business_key=f"{prefix}:{_serial(session, prefix)}", opinion=description).id


# -- task forms -------------------------------------------------------------------------------

def _no_effect(session, instance, values) -> None:
    """The values live in the audit trail with the completed step (who, when, what)."""


def _keep_agreement(session: Session, instance: ProcessInstance, values: dict) -> None:
    vendor = session.scalar(select(Vendor).where(Vendor.instance_id == instance.id))
    vendor.agreement = values


REPORT_FIELDS = [  # SEC-2/SEC-3/SEC-4: a report; the completed step is its time stamp
    Field("recipient", "接收单位及人员", "Received by", 200),
    Field("method", "报告方式（电话、书面、系统报送）", "How it was reported", 100),
    Field("summary", "报告内容", "What was reported", 2000, multiline=True),
]
for _form in (
    Form("hazard_rectification", [Field("measures", "整改措施", "Measures", 2000, multiline=True),
                                  Field("result", "整改结果", "Result", 1000, multiline=True)], apply=_no_effect),
    Form("hazard_feedback", [Field("recipient", "反馈对象（通报部门）", "Fed back to", 200),
                             Field("reference", "反馈文号或方式", "Reference", 200),
                             Field("content", "反馈内容", "Feedback", 2000, multiline=True)], apply=_no_effect),
    Form("access_cutoff", [Field("measures", "中止访问的措施（改密、冻结、断开终端网络等）", "How access was cut", 1000,
                                 multiline=True)], apply=_no_effect),
    Form("intrusion_evidence", [Field("evidence", "证据说明（截图、日志、异常登录记录）", "The evidence kept", 2000,
                                      multiline=True)], apply=_no_effect, requires_attachment=True),
    Form("incident_report", REPORT_FIELDS, apply=_no_effect),
    Form("external_report", [*REPORT_FIELDS, Field("reference", "报案回执或编号（可选）", "Receipt (optional)", 200,
                                                   required=False)], apply=_no_effect),
    Form("incident_handling", [Field("measures", "处置措施", "Measures", 3000, multiline=True),
                               Field("result", "处置结果和后续防范", "Result and prevention", 2000, multiline=True)],
         apply=_no_effect),
    Form("counterfeit_handling", [Field("measures", "会同网信、公安处置情况", "Joint handling", 3000, multiline=True)],
         apply=_no_effect),
    Form("handling_report", [Field("summary", "处置情况报告", "Handling report", 3000, multiline=True)],
         apply=_no_effect),
    Form("vendor_review", [Field("capability", "业务能力", "Capability", 1000, multiline=True),
                           Field("qualifications", "资质证明", "Qualifications", 1000, multiline=True),
                           Field("management", "管理水平", "Management", 1000, multiline=True),
                           Field("product_review", "网络产品和服务安全审查情况", "Security review of products", 1000,
                                 multiline=True)], apply=_no_effect, requires_attachment=True),
    Form("confidentiality_agreement", [Field("agreement_number", "保密协议编号", "Agreement number", 100),
                                       Field("signed_on", "签订日期", "Signed on", 20),
                                       Field("scope", "约定的人员、内容、质量和信息保护要求", "What it covers", 2000,
                                             multiline=True)], apply=_keep_agreement, requires_attachment=True),
    Form("secrecy_bureau_decision", [Field("document_number", "保密局审核意见文号", "Bureau decision number", 100),
                                     Field("conclusion", "审核结论", "Conclusion", 1000, multiline=True)],
         apply=_no_effect, requires_attachment=True),
    Form("desensitisation", [Field("fields", "脱敏字段", "Fields desensitised", 1000, multiline=True),
                             Field("method", "脱敏方法", "Method", 1000, multiline=True)], apply=_no_effect),
):
    register_form(_form)


# -- SEC-5 / SEC-6 evidence per site or account ------------------------------------------------

RECORD_FIELDS = {
    "emergency_plan": [Field("title", "预案名称", "Plan", 200), Field("version", "印发文号或版本", "Version", 100),
                       Field("network_cut_plan", "断网预案要点（政务新媒体必填）", "Network-cut plan (new media)", 1000,
                             multiline=True, required=False)],
    "plan_filing": [Field("police", "公安机关备案编号", "Public-security filing", 100),
                    Field("cac", "网信部门备案编号", "Cyberspace administration filing", 100)],
    "drill": [Field("scenario", "演练场景", "Scenario", 300), Field("participants", "参演人员", "Participants", 300),
              Field("summary", "演练总结", "Summary", 2000, multiline=True)],
    "security_test": [Field("tester", "检测评估机构", "Tester", 200), Field("report_number", "报告编号", "Report", 100),
                      Field("findings", "发现的问题及整改", "Findings", 2000, multiline=True)],
}


def record_security_measure(rt, actor: Actor, asset_id: int, *, kind: str, occurred_on: str, values: dict) -> int:
    """SEC-5/SEC-6 (manual): the host unit records an emergency plan, its filing, a drill or a security test."""
    if kind not in RECORD_FIELDS:
        raise InvalidInput("请选择登记事项。", "Choose what to record.")
    details = clean_values(Form(kind, RECORD_FIELDS[kind], apply=_no_effect), values or {})
    try:
        day = date.fromisoformat((occurred_on or "").strip())
    except ValueError:
        raise InvalidInput("日期格式不正确，请写成 2026-03-02。", "Give the date as 2026-03-02.") from None
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _asset(session, asset_id)
        if user.org_unit_id != asset.org_unit_id:
            raise Forbidden("安全管理情况由主办单位登记。", "The host unit records its security measures.")
        if day > to_shanghai(rt.clock.now()).date():
            raise InvalidInput("不能登记未来的日期。", "The date may not be in the future.")
        if kind == "emergency_plan" and asset.kind == "new_media" and not details["network_cut_plan"]:
            raise InvalidInput("政务新媒体的应急预案应包含断网预案（SEC-5）。",
                               "A new-media account's plan includes a network-cut plan (SEC-5).")
        if kind not in applicable_kinds(asset):
            raise InvalidInput(f"{SECURITY_RECORD_KINDS[kind]}不适用于{ASSET_KINDS[asset.kind]}（SEC-5/SEC-6）。",
                               "This record does not apply to this kind of site or account (SEC-5/SEC-6).")
        now = rt.clock.now()
        row = SecurityRecord(asset_id=asset.id, kind=kind, occurred_on=day, details=details, recorded_by_id=user.id,
                             recorded_at=now)
        session.add(row)
        session.flush()
        audit.record(session, now=now, action="security_recorded", actor=user, client_addr=actor.client_addr,
                     data={"asset_id": asset.id, "record_id": row.id, "kind": kind, "occurred_on": day.isoformat(),
                           "details": details})
        return row.id


def applicable_kinds(asset: Asset) -> list[str]:
    """SEC-5: every site and account keeps a plan and drills; a website also files its plan with 公安 and
    网信 (000 §29); SEC-6: websites (001 §34) and self-developed apps are security-tested."""
    extra = {"website": ["plan_filing", "security_test"], "app": ["security_test"]}.get(asset.kind, [])
    return ["emergency_plan", "drill", *extra]


def security_status(rt, session: Session, asset: Asset) -> list[dict]:
    """SEC-5/SEC-6: what is recorded for the asset, and what is missing or overdue."""
    today = to_shanghai(rt.clock.now()).date()
    values = rt.policy.values
    kinds = applicable_kinds(asset)
    status = []
    for kind in kinds:
        latest = latest_record(session, asset.id, kind)
        interval = {"drill": values["drill_interval_days"],
                    "security_test": values["security_test_interval_days"]}.get(kind)
        overdue = latest is None or (interval is not None and latest.occurred_on + timedelta(days=interval) < today)
        status.append({"kind": kind, "label": SECURITY_RECORD_KINDS[kind], "latest": latest, "interval": interval,
                       "overdue": overdue})
    return status


def security_page(rt, session: Session, user, asset_id: int) -> dict:
    asset = _asset(session, asset_id)
    if not may_view_asset(session, user, asset):
        raise Forbidden("您无权查看此网站或账号。", "You may not see this asset.")
    records = list(session.scalars(select(SecurityRecord).where(SecurityRecord.asset_id == asset.id)
                                   .order_by(SecurityRecord.occurred_on.desc(), SecurityRecord.id.desc())))
    cases = list(session.scalars(select(ProcessInstance).where(
        ProcessInstance.business_key.like(f"{asset_key(asset.id)}:%")).order_by(ProcessInstance.id.desc())))
    return {"asset": asset, "status": security_status(rt, session, asset), "records": records,
            "cases": [c for c in cases if c.definition.key in SECURITY_PROCESSES],
            "may_record": user.org_unit_id == asset.org_unit_id,
            "may_notify": holds_role_at_or_above(session, user, "district_office", asset.org_unit_id),
            "may_report_counterfeit": holds_role_at_or_above(session, user, "egov_center", asset.org_unit_id)}


def security_cases(session: Session, user, limit: int = 200) -> list[ProcessInstance]:
    """The security requests the user's unit made or that concern units under the user's office."""
    rows = session.scalars(select(ProcessInstance).join(ProcessDefinition)
                           .where(ProcessDefinition.key.in_(SECURITY_PROCESSES))
                           .order_by(ProcessInstance.status.desc(), ProcessInstance.id.desc()).limit(limit))
    return [row for row in rows if row.org_unit_id == user.org_unit_id or any(
        holds_role_at_or_above(session, user, role, row.org_unit_id)
        for role in ("district_office", "egov_center", "city_office", "auditor", "admin"))]


def vendors_of(session: Session, user) -> list[Vendor]:
    return [v for v in session.scalars(select(Vendor).order_by(Vendor.id.desc()))
            if v.org_unit_id == user.org_unit_id or holds_role_at_or_above(session, user, "district_office",
                                                                            v.org_unit_id)]
