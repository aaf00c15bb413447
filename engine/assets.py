"""The asset registry: the sites and accounts the lifecycle processes act on.

An asset's state changes only inside a process instance (the handlers in handlers/assets.py
call `transition` in the instance's transaction). Starting a lifecycle process checks the rules
that can be checked before anyone approves anything (OFF-1 reasons, OFF-2 once a year); the
diagram checks them again where the answer could have changed by the time of approval.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ACTIVE_STATES, ASSET_KINDS, ASSET_STATES, PLATFORMS, Asset, AssetEvent, ProcessInstance
from db.session import transaction
from handlers.assets import approved_offlines, asset_for_key, same_platform_accounts

from .clock import to_shanghai
from .commands import Actor, load_actor, start_in_session
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound
from .forms import Field, Form, register_form

OFFLINE_PROCESS = "temporary_offline"
OFFLINE_PATHS = {"approval": "申请临时下线", "force_majeure": "不可抗力报备"}
# OFF-1: why a site or account may go offline; an upgrade only for new media (a website upgrades while it runs).
OFFLINE_REASONS = {"rectification": "整改", "upgrade": "系统升级"}
MAX_REASON = 1000


def asset_key(asset_id: int) -> str:
    return f"asset:{asset_id}"


def _open_lifecycle_instance(session: Session, asset_id: int) -> ProcessInstance | None:
    """A running lifecycle request of the asset: one at a time (offline, closure, change…)."""
    return session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == asset_key(asset_id),
                                                        ProcessInstance.status == "running").limit(1))


def _host_asset(session: Session, user, asset_id: int) -> Asset:
    """The asset, locked, when `user` belongs to its host unit and nothing else is in progress on it."""
    asset = session.scalar(select(Asset).where(Asset.id == asset_id).with_for_update())
    if asset is None:
        raise NotFound(f"网站或账号 {asset_id} 不存在。", f"Asset {asset_id} does not exist.")
    if asset.org_unit_id != user.org_unit_id:
        raise Forbidden("只有主办单位可以为本单位的网站或账号提出申请。",
                        "Only the host unit may apply for its own site or account.")
    running = _open_lifecycle_instance(session, asset.id)
    if running is not None:
        raise ConflictError(f"“{asset.name}”已有一个正在办理的事项：{running.title}。",
                            f"{asset.name} already has a request in progress.")
    return asset


def start_temporary_offline(rt, actor: Actor, asset_id: int, *, path: str, reason_kind: str, reason: str) -> int:
    """OFF-1/OFF-2/OFF-4: the host unit applies for (or reports) a temporary offline; returns the instance id."""
    reason = (reason or "").strip()
    if path not in OFFLINE_PATHS:
        raise InvalidInput("请选择申请临时下线或不可抗力报备。", "Choose an application or a force-majeure report.")
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"请填写下线原因（不超过 {MAX_REASON} 个字）。", f"Give the reason (at most {MAX_REASON} characters).")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _host_asset(session, user, asset_id)
        if asset.kind not in ("website", "new_media", "app"):
            raise InvalidInput(f"{ASSET_KINDS[asset.kind]}不适用临时下线流程。", "This kind of asset has no temporary offline.")
        if asset.state != "online":
            raise ConflictError(f"“{asset.name}”当前状态为{ASSET_STATES[asset.state]}，只有已上线的网站或账号可以临时下线。",
                                f"{asset.name} is not online.")
        if path == "approval":
            if reason_kind not in OFFLINE_REASONS:
                raise InvalidInput("请选择下线原因：整改或系统升级。", "Choose the reason: rectification or upgrade.")
            if reason_kind == "upgrade" and asset.kind == "website":
                raise InvalidInput("政府网站不得因系统升级临时下线，应在运行中完成升级（OFF-1）。",
                                   "A website may not go offline for an upgrade; upgrade it while it runs (OFF-1).")
            year = to_shanghai(rt.clock.now()).year
            if approved_offlines(session, asset.id, year) >= 1:
                raise InvalidInput(f"“{asset.name}”{year} 年已经临时下线过一次，每个网站或账号每年最多临时下线一次（OFF-2）。",
                                   f"{asset.name} already went offline once in {year}; once a year at most (OFF-2).")
        title = f"{asset.name}{OFFLINE_PATHS[path]}"
        row = start_in_session(rt, session, OFFLINE_PROCESS, actor, title=title, business_key=asset_key(asset.id),
                               opinion=f"{OFFLINE_REASONS.get(reason_kind, '不可抗力')}：{reason}",
                               data={"asset_id": asset.id, "asset_kind": asset.kind, "path": path,
                                     "reason_kind": reason_kind if path == "approval" else "force_majeure",
                                     "reason": reason})
        return row.id


def _keep_on_asset(key: str):
    """A form's values kept on the asset (the latest of each kind), e.g. its closure notice."""
    def apply(session: Session, instance: ProcessInstance, values: dict) -> None:
        asset = asset_for_key(session, instance.business_key)
        asset.attributes = {**(asset.attributes or {}), key: values}
    return apply


ANNOUNCEMENT_FIELDS = [
    Field("announced_where", "公告发布位置（网址或账号）", "Where the announcement is published", 300),
    Field("announcement", "公告内容", "Announcement", 2000, multiline=True),
]
register_form(Form("offline_announcement", ANNOUNCEMENT_FIELDS, apply=_keep_on_asset("offline_announcement")))
register_form(Form("closure_notice", ANNOUNCEMENT_FIELDS, apply=_keep_on_asset("closure_notice")))
register_form(Form("national_filing", [
    Field("filing_reference", "报送系统中的备案或报告编号", "Reference in the national reporting system", 200),
], apply=_keep_on_asset("national_filing")))
register_form(Form("website_deregistration", [  # DEC-3
    Field("icp", "ICP 备案注销回执", "ICP deregistration receipt", 200),
    Field("label", "党政机关网站标识注销回执", "Party/government label deregistration receipt", 200),
    Field("police_filing", "公安备案注销回执", "Public-security filing deregistration receipt", 200),
    Field("domain", "域名注销回执", "Domain deregistration receipt", 200),
], apply=_keep_on_asset("deregistration")))

CLOSURE_PROCESS = "decommission"
# DEC-1: the grounds on which a site or account may be closed.
CLOSURE_GROUNDS = {"unmaintainable": "无力维护", "abolished": "主办单位撤销或合并", "consolidation": "集约化整合"}


def start_decommission(rt, actor: Actor, asset_id: int, *, grounds: str, plan: str) -> int:
    """DEC-1: the host unit applies to close a website or a new-media account; returns the instance id."""
    plan = (plan or "").strip()
    if grounds not in CLOSURE_GROUNDS:
        raise InvalidInput("请选择关停理由：无力维护、主办单位撤销或合并、集约化整合（DEC-1）。",
                           "Choose the grounds: cannot be maintained, host abolished or merged, consolidation (DEC-1).")
    if not plan or len(plan) > MAX_REASON:
        raise InvalidInput(f"请填写内容整合迁移方案（不超过 {MAX_REASON} 个字）。",
                           f"Give the content migration plan (at most {MAX_REASON} characters).")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _host_asset(session, user, asset_id)
        if asset.kind not in ("website", "new_media"):
            raise InvalidInput(f"{ASSET_KINDS[asset.kind]}不适用关停注销流程。", "This kind of asset has no closure process.")
        if asset.state not in ("online", "offline"):
            raise ConflictError(f"“{asset.name}”当前状态为{ASSET_STATES[asset.state]}，不能申请关停。",
                                f"{asset.name} cannot be closed in its current state.")
        row = start_in_session(rt, session, CLOSURE_PROCESS, actor, title=f"{asset.name}关停注销申请",
                               business_key=asset_key(asset.id), opinion=f"{CLOSURE_GROUNDS[grounds]}：{plan}",
                               data={"asset_id": asset.id, "asset_kind": asset.kind, "grounds": grounds})
        return row.id


def assets_of_unit(session: Session, unit_id: int) -> list[Asset]:
    return list(session.scalars(select(Asset).where(Asset.org_unit_id == unit_id).order_by(Asset.kind, Asset.id)))


def asset_history(session: Session, asset_id: int) -> list[AssetEvent]:
    return list(session.scalars(select(AssetEvent).where(AssetEvent.asset_id == asset_id).order_by(AssetEvent.id)))


OVERSEEING_ROLES = ("district_office", "city_office", "province_office", "egov_center", "admin", "auditor")


def may_view_asset(session: Session, user, asset: Asset) -> bool:
    """The host unit's people, and the offices, administrators and auditors at or above it."""
    from .assignment import holds_role_at_or_above

    if user.org_unit_id == asset.org_unit_id:
        return True
    return any(holds_role_at_or_above(session, user, role, asset.org_unit_id) for role in OVERSEEING_ROLES)


def asset_page(session: Session, asset_id: int, user) -> dict:
    from db.models import Violation

    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(f"网站或账号 {asset_id} 不存在。", f"Asset {asset_id} does not exist.")
    if not may_view_asset(session, user, asset):
        raise Forbidden("您无权查看此网站或账号。", "You may not see this asset.")
    instances = list(session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == asset_key(asset.id))
                                     .order_by(ProcessInstance.id.desc())))
    return {"asset": asset, "history": asset_history(session, asset.id), "instances": instances,
            "violations": list(session.scalars(select(Violation).where(Violation.asset_id == asset.id)
                                               .order_by(Violation.id.desc()))),
            "may_apply": asset.org_unit_id == user.org_unit_id and asset.state == "online" and not instances_running(instances),
            "may_close": (asset.org_unit_id == user.org_unit_id and asset.kind in ("website", "new_media")
                          and asset.state in ("online", "offline") and not instances_running(instances)),
            "may_change": (asset.org_unit_id == user.org_unit_id and asset.kind in ("website", "new_media")
                           and asset.state in ("online", "offline") and not instances_running(instances)),
            "may_migrate": asset.org_unit_id == user.org_unit_id and asset.state in ("online", "offline", "closing")
                           and not instances_running(instances),
            "may_close_column": (asset.org_unit_id == user.org_unit_id and asset.kind in ("column", "sub_homepage")
                                 and asset.state == "online" and not instances_running(instances)),
            "may_cleanup": (asset.kind == "new_media" and asset.state in ("online", "offline")
                            and not instances_running(instances) and _holds(session, user, "district_office", asset)),
            "may_adjust": (asset.kind in ("column", "sub_homepage") and asset.state == "online"
                           and not instances_running(instances) and _holds(session, user, "egov_center", asset))}


def _holds(session: Session, user, role: str, asset: Asset) -> bool:
    from .assignment import holds_role_at_or_above

    return holds_role_at_or_above(session, user, role, asset.org_unit_id)


def instances_running(instances: list[ProcessInstance]) -> bool:
    return any(i.status == "running" for i in instances)


def visible_assets(session: Session, user) -> list[Asset]:
    return [a for a in session.scalars(select(Asset).order_by(Asset.org_unit_id, Asset.kind, Asset.id))
            if may_view_asset(session, user, a)]


OPEN_NEW_MEDIA = "open_new_media"
MAX_ACCOUNT_NAME = 30
# OPEN-1: what the implementation plan must cover.
OPENING_PLAN_FIELDS = [
    Field("leadership", "组织领导", "Leadership", 500, multiline=True),
    Field("funding", "经费保障", "Funding", 500, multiline=True),
    Field("rules", "管理制度", "Management rules", 1000, multiline=True),
    Field("contact_person", "联系人", "Contact person", 50),
    Field("contact_phone", "联系方式", "Contact details", 50),
]


def start_open_new_media(rt, actor: Actor, *, platform: str, name: str, purpose: str, real_name_verified: bool,
                         plan: dict) -> int:
    """OPEN-1/2/3: a unit applies to open a new-media account; the asset is registered as 申请中."""
    from .forms import clean_values

    name = (name or "").strip()
    if platform not in PLATFORMS:
        raise InvalidInput("请选择平台。", "Choose the platform.")
    if purpose == "campaign":
        raise InvalidInput("专项活动不单独开设政务新媒体账号，请在本单位账号中开设栏目（OPEN-2）。",
                           "A special campaign gets a column on the unit's account, not an account of its own (OPEN-2).")
    if not name or len(name) > MAX_ACCOUNT_NAME:
        raise InvalidInput(f"账号名称应简洁，不超过 {MAX_ACCOUNT_NAME} 个字（OPEN-3）。",
                           f"The account name must be concise, at most {MAX_ACCOUNT_NAME} characters (OPEN-3).")
    if not real_name_verified:
        raise InvalidInput("政务新媒体账号须完成实名认证（OPEN-3）。", "The account must be verified under the real name (OPEN-3).")
    values = clean_values(Form("opening_plan", OPENING_PLAN_FIELDS, apply=lambda *a: None), plan)
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        now = rt.clock.now()
        asset = Asset(kind="new_media", name=name, platform=platform, org_unit_id=user.org_unit_id, state="applying",
                      attributes={"opening_plan": values}, created_at=now, updated_at=now)
        session.add(asset)
        session.flush()
        existing = same_platform_accounts(session, asset)
        if existing:
            raise InvalidInput(f"本单位在{PLATFORMS[platform]}已有账号“{existing[0].name}”，每个单位在同一平台最多开设一个账号（OPEN-2）。",
                               "The unit already has an account on this platform (OPEN-2).")
        names = {a.name for a in session.scalars(select(Asset).where(
            Asset.org_unit_id == user.org_unit_id, Asset.kind == "new_media", Asset.state.in_(ACTIVE_STATES),
            Asset.id != asset.id))}
        if names and name not in names:
            raise InvalidInput(f"同一主办单位在各平台应使用同一名称（OPEN-3），本单位已有账号名称：{'、'.join(sorted(names))}。",
                               f"A unit uses the same name on every platform (OPEN-3): {', '.join(sorted(names))}.")
        row = start_in_session(rt, session, OPEN_NEW_MEDIA, actor, title=f"开设{PLATFORMS[platform]}账号“{name}”",
                               business_key=asset_key(asset.id),
                               opinion=f"联系人：{values['contact_person']}（{values['contact_phone']}）",
                               data={"asset_id": asset.id, "asset_kind": "new_media", "platform": platform})
        return row.id


register_form(Form("go_live", [
    Field("account_id", "账号 ID 或网址", "Account ID or address", 200),
], apply=_keep_on_asset("go_live")))
register_form(Form("opening_announcement", ANNOUNCEMENT_FIELDS, apply=_keep_on_asset("opening_announcement")))
register_form(Form("written_explanation", [
    Field("explanation", "书面说明", "Written explanation", 3000, multiline=True),
], apply=_keep_on_asset("written_explanation")))


OPEN_WEBSITE = "open_website"


def _keep_attributes(session: Session, instance: ProcessInstance, values: dict) -> None:
    """Recorded decisions that name the site (domain, identifier code) live on the asset itself."""
    asset = asset_for_key(session, instance.business_key)
    asset.attributes = {**(asset.attributes or {}), **values}


register_form(Form("website_domain", [  # OPEN-8 (1)
    Field("domain", "域名", "Domain name", 200),
    Field("label_document", "党政机关网站标识批复文号", "Site label decision (document number)", 200),
], apply=_keep_attributes, requires_attachment=True))
register_form(Form("website_filings", [  # OPEN-8 (2)
    Field("icp", "ICP 备案号", "ICP number", 100),
    Field("police_filing", "公安备案号", "Public-security filing number", 100),
], apply=_keep_attributes, requires_attachment=True))
register_form(Form("graded_protection", [  # OPEN-8 (3)
    Field("assessor", "测评机构（须具备资质）", "Assessment body (qualified)", 200),
    Field("assessment_report", "测评报告编号", "Assessment report number", 100),
    Field("network_filing", "联网备案编号", "Networking filing number", 100),
], apply=_keep_attributes, requires_attachment=True))
register_form(Form("identifier_code", [  # OPEN-8 (4)
    Field("identifier_code", "网站标识码", "Website identifier code", 20),
], apply=_keep_attributes, requires_attachment=True))


def start_open_website(rt, actor: Actor, *, name: str, special_need: str = "") -> int:
    """OPEN-2/OPEN-8: a unit applies to open its website; a department or street states its special need."""
    from db.models import OrgUnit

    name, special_need = (name or "").strip(), (special_need or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("请填写网站名称（不超过 100 个字）。", "Give the website's name (at most 100 characters).")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        unit = session.get(OrgUnit, user.org_unit_id)
        existing = session.scalar(select(Asset).where(Asset.org_unit_id == unit.id, Asset.kind == "website",
                                                      Asset.state.in_(ACTIVE_STATES)).limit(1))
        if existing is not None:
            raise InvalidInput(f"本单位已有网站“{existing.name}”，每个单位最多开设一个网站（OPEN-2）。",
                               "A unit keeps at most one website (OPEN-2).")
        if unit.level == "unit" and not special_need:
            raise InvalidInput("部门、街道和社区原则上不开设网站；确有特殊需要的，请说明需要，报上级审批（OPEN-2）。",
                               "Departments, streets and communities open no website unless a special need is approved (OPEN-2).")
        now = rt.clock.now()
        asset = Asset(kind="website", name=name, org_unit_id=unit.id, state="applying",
                      attributes={"special_need": special_need} if special_need else {}, created_at=now, updated_at=now)
        session.add(asset)
        session.flush()
        row = start_in_session(rt, session, OPEN_WEBSITE, actor, title=f"开设网站“{name}”", business_key=asset_key(asset.id),
                               opinion=f"特殊需要：{special_need}" if special_need else None,
                               data={"asset_id": asset.id, "asset_kind": "website"})
        return row.id


COLUMN_PROCESS = "column_lifecycle"
APP_PROCESS = "app_launch"
# OPEN-9: what an application to open a column must state.
COLUMN_FIELDS = [
    Field("owner", "栏目责任人", "Owner", 100),
    Field("update_frequency", "更新频率", "Update frequency", 100),
    Field("review", "审核安排", "Review arrangements", 500, multiline=True),
]


def start_column_request(rt, actor: Actor, *, action: str, kind: str = "column", name: str = "",
                         asset_id: int | None = None, details: dict | None = None, reason: str = "") -> int:
    """OPEN-9/OPEN-10: open a new column (or sub-homepage) with its owner, frequency and review, or close one."""
    from .forms import clean_values

    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        now = rt.clock.now()
        if action == "open":
            if kind not in ("column", "sub_homepage"):
                raise InvalidInput("请选择栏目/专题或小首页。", "Choose a column or a sub-homepage.")
            name = (name or "").strip()
            if not name or len(name) > 100:
                raise InvalidInput("请填写栏目名称（不超过 100 个字）。", "Give the column's name.")
            values = clean_values(Form("column", COLUMN_FIELDS, apply=lambda *a: None), details or {})
            asset = Asset(kind=kind, name=name, org_unit_id=user.org_unit_id, state="applying",
                          attributes={"column": values}, created_at=now, updated_at=now)
            session.add(asset)
            session.flush()
            title, opinion = f"开设{ASSET_KINDS[kind]}“{name}”", f"责任人：{values['owner']}，更新频率：{values['update_frequency']}"
        elif action == "close":
            asset = _host_asset(session, user, asset_id or 0)
            if asset.kind not in ("column", "sub_homepage") or asset.state != "online":
                raise InvalidInput("只能关闭已开通的栏目、专题或小首页。", "Only an open column or sub-homepage can be closed.")
            reason = (reason or "").strip()
            if not reason:
                raise InvalidInput("请填写关闭理由。", "Give the reason for closing.")
            title, opinion = f"关闭{ASSET_KINDS[asset.kind]}“{asset.name}”", reason
        else:
            raise InvalidInput("请选择开设或关闭。", "Choose open or close.")
        row = start_in_session(rt, session, COLUMN_PROCESS, actor, title=title, business_key=asset_key(asset.id),
                               opinion=opinion, data={"asset_id": asset.id, "asset_kind": asset.kind, "action": action})
        return row.id


def start_app_launch(rt, actor: Actor, *, name: str, tester: str, report_number: str, report_date: str) -> int:
    """OPEN-5: a self-developed app applies to go live; without a security test report it cannot."""
    from .forms import clean_values

    values = clean_values(Form("security_report", [
        Field("tester", "检测机构", "Testing body", 200),
        Field("report_number", "安全检测报告编号", "Security test report number", 100),
        Field("report_date", "报告日期", "Report date", 20),
    ], apply=lambda *a: None), {"tester": tester, "report_number": report_number, "report_date": report_date})
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("请填写客户端名称。", "Give the app's name.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        now = rt.clock.now()
        asset = Asset(kind="app", name=name, org_unit_id=user.org_unit_id, state="applying",
                      attributes={"security_report": values}, created_at=now, updated_at=now)
        session.add(asset)
        session.flush()
        row = start_in_session(rt, session, APP_PROCESS, actor, title=f"移动客户端“{name}”上线申请",
                               business_key=asset_key(asset.id),
                               opinion=f"安全检测报告：{values['tester']} {values['report_number']}",
                               data={"asset_id": asset.id, "asset_kind": "app"})
        return row.id


CHANGE_PROCESS = "change_info"
MIGRATION_PROCESS = "content_migration"
# CHG-1: what a change report may cover.
CHANGEABLE = {"host_unit": "主办单位", "responsible_person": "负责人", "contacts": "联系方式", "domain": "域名",
              "column_structure": "栏目结构", "address": "地址"}


def start_change_info(rt, actor: Actor, asset_id: int, changes: dict) -> int:
    """CHG-1/MIG-2: the host unit reports changed registration details of a site or account."""
    changes = {k: (v or "").strip() for k, v in (changes or {}).items() if (v or "").strip()}
    unknown = set(changes) - set(CHANGEABLE)
    if unknown or not changes:
        raise InvalidInput(f"请填写至少一项变更：{'、'.join(CHANGEABLE.values())}。",
                           "Report at least one change.")
    if any(len(v) > 200 for v in changes.values()):
        raise InvalidInput("每项变更内容不超过 200 个字。", "Each value may have at most 200 characters.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _host_asset(session, user, asset_id)
        if asset.kind not in ("website", "new_media") or asset.state not in ("online", "offline"):
            raise InvalidInput("只有已上线的网站或政务新媒体账号可以报告信息变更。", "Only a live site or account reports changes.")
        if "domain" in changes and asset.kind != "website":
            raise InvalidInput("只有网站有域名。", "Only a website has a domain.")
        summary = "；".join(f"{CHANGEABLE[k]}：{v}" for k, v in changes.items())
        row = start_in_session(rt, session, CHANGE_PROCESS, actor, title=f"{asset.name}信息变更",
                               business_key=asset_key(asset.id), opinion=summary,
                               data={"asset_id": asset.id, "asset_kind": asset.kind, "changes": changes})
        return row.id


register_form(Form("archive_record", [  # MIG-1
    Field("archive_location", "归档位置（网址）", "Where the archive is reachable", 300),
    Field("pages", "归档页面说明", "What was archived", 2000, multiline=True),
    Field("marking", "“已归档”标注及归档时间的展示方式", "How pages are marked 已归档 with the time", 300),
], apply=_keep_on_asset("archive")))


def start_migration(rt, actor: Actor, asset_id: int, *, reason: str) -> int:
    """MIG-1/CHG-4: archive valuable pages on consolidation, migration, redesign, or an unmaintainable column."""
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput("请填写整合迁移的原因。", "Give the reason.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _host_asset(session, user, asset_id)
        row = start_in_session(rt, session, MIGRATION_PROCESS, actor, title=f"{asset.name}整合迁移归档",
                               business_key=asset_key(asset.id), opinion=reason,
                               data={"asset_id": asset.id, "asset_kind": asset.kind})
        return row.id


EXIT_PROCESS = "exit_supervision"
ADJUSTMENT_PROCESS = "column_adjustment"

register_form(Form("external_decision", [  # an external body's decision, recorded by the level that receives it
    Field("document", "批复文号", "Decision (document number)", 200),
], apply=_keep_on_asset("external_decision"), requires_attachment=True))


def start_exit_supervision(rt, actor: Actor, asset_id: int, *, establishment_document: str, reason: str) -> int:
    """DEC-6: leave supervision when the host no longer has administrative functions."""
    document, reason = (establishment_document or "").strip(), (reason or "").strip()
    if not document:
        raise InvalidInput("请填写编制部门批准文件的文号（DEC-6）。", "Give the establishment office's approval document (DEC-6).")
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput("请说明主办单位不再承担行政职能的情况。", "Explain why the host no longer has administrative functions.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _host_asset(session, user, asset_id)
        if asset.kind not in ("website", "new_media") or asset.state in ("closed", "exited", "rejected", "applying"):
            raise InvalidInput("只有在监管中的网站或政务新媒体账号可以申请退出监管。", "Only a supervised site or account can exit.")
        asset.attributes = {**(asset.attributes or {}), "establishment_document": document}
        row = start_in_session(rt, session, EXIT_PROCESS, actor, title=f"{asset.name}退出监管申请",
                               business_key=asset_key(asset.id), opinion=f"编制部门批准文件：{document}；{reason}",
                               data={"asset_id": asset.id, "asset_kind": asset.kind})
        return row.id


def start_column_adjustment(rt, actor: Actor, asset_id: int, *, proposal: str) -> int:
    """CHG-3: the portal operator proposes a column, page or function adjustment for the office to approve."""
    from .assignment import holds_role_at_or_above

    proposal = (proposal or "").strip()
    if not proposal or len(proposal) > MAX_REASON:
        raise InvalidInput("请填写调整方案。", "Give the proposal.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = session.scalar(select(Asset).where(Asset.id == asset_id).with_for_update())
        if asset is None or asset.kind not in ("column", "sub_homepage") or asset.state != "online":
            raise InvalidInput("只能调整已开通的门户栏目或小首页。", "Only an open portal column can be adjusted.")
        if not holds_role_at_or_above(session, user, "egov_center", asset.org_unit_id):
            raise Forbidden("门户栏目调整由门户网站运维单位提出（CHG-3）。", "The portal operator proposes adjustments (CHG-3).")
        if _open_lifecycle_instance(session, asset.id) is not None:
            raise ConflictError(f"“{asset.name}”已有一个正在办理的事项。", "A request is already in progress.")
        row = start_in_session(rt, session, ADJUSTMENT_PROCESS, actor, title=f"{asset.name}栏目调整",
                               business_key=asset_key(asset.id), opinion=proposal,
                               data={"asset_id": asset.id, "asset_kind": asset.kind,
                                     "changes": {"column_structure": proposal}})
        return row.id


CONTACTS_PROCESS = "unit_contacts"


def start_unit_contacts(rt, actor: Actor, *, leader: str, liaisons: str, website_department: str = "",
                        website_person: str = "") -> int:
    """CHG-2: report the unit's leader in charge and liaisons (one per line) to the operator."""
    leader = (leader or "").strip()
    liaison_lines = [line.strip() for line in (liaisons or "").splitlines() if line.strip()]
    if not leader or len(leader) > 100:
        raise InvalidInput("请填写分管负责人（CHG-2）。", "Give the leader in charge (CHG-2).")
    if not liaison_lines or len(liaison_lines) > 20 or any(len(line) > 100 for line in liaison_lines):
        raise InvalidInput("请至少填写一名联络员，每行一人（姓名和联系方式）（CHG-2）。",
                           "Give at least one liaison, one per line (CHG-2).")
    contacts = {"leader": leader, "liaisons": liaison_lines,
                "website_department": (website_department or "").strip()[:100],
                "website_person": (website_person or "").strip()[:100]}
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        row = start_in_session(rt, session, CONTACTS_PROCESS, actor, title="单位负责人和联络员登记",
                               business_key=f"unit:{user.org_unit_id}",
                               opinion=f"分管负责人：{leader}；联络员：{'、'.join(liaison_lines)}",
                               data={"contacts": contacts})
        return row.id


CLEANUP_PROCESS = "account_cleanup"
# DEC-7: why the office orders an account integrated and closed.
CLEANUP_GROUNDS = {"no_maintainer": "无人维护", "not_updated": "长期不更新", "duplicate": "功能重复", "low_attention": "关注度低"}

register_form(Form("integration", [  # DEC-7
    Field("target", "内容整合到的账号", "Account the content moves to", 200),
    Field("summary", "整合情况", "What was integrated", 2000, multiline=True),
], apply=_keep_on_asset("integration")))


def start_account_cleanup(rt, actor: Actor, asset_id: int, *, grounds: str, notice: str) -> int:
    """DEC-7: the district office orders a new-media account of a unit below it integrated, then closed."""
    notice = (notice or "").strip()
    if grounds not in CLEANUP_GROUNDS:
        raise InvalidInput("请选择清理整合的理由：无人维护、长期不更新、功能重复或关注度低（DEC-7）。",
                           "Choose the ground: no maintainer, not updated, duplicate, low attention (DEC-7).")
    if not notice or len(notice) > MAX_REASON:
        raise InvalidInput("请填写清理整合通知内容。", "Write the cleanup notice.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = session.scalar(select(Asset).where(Asset.id == asset_id).with_for_update())
        if asset is None or asset.kind != "new_media" or asset.state not in ("online", "offline"):
            raise InvalidInput("只能对在运行的政务新媒体账号下达清理整合通知。", "Only a running new-media account can be cleaned up.")
        if not _holds(session, user, "district_office", asset):
            raise Forbidden("清理整合由主办单位上级的区政府办公室下达（DEC-7）。",
                            "The district office above the host unit orders a cleanup (DEC-7).")
        if _open_lifecycle_instance(session, asset.id) is not None:
            raise ConflictError(f"“{asset.name}”已有一个正在办理的事项。", "A request is already in progress.")
        row = start_in_session(rt, session, CLEANUP_PROCESS, actor, title=f"{asset.name}清理整合",
                               business_key=asset_key(asset.id), opinion=f"{CLEANUP_GROUNDS[grounds]}：{notice}",
                               data={"asset_id": asset.id, "asset_kind": asset.kind, "grounds": grounds},
                               for_unit_id=asset.org_unit_id)
        return row.id


CORRECTION_PROCESS = "error_correction"
URGENCY = {"urgent": "紧急", "general": "一般"}

register_form(Form("correction_report", [  # REV-11
    Field("correction", "整改情况", "What was corrected", 2000, multiline=True),
], apply=lambda session, instance, values: None))


def start_correction(rt, actor: Actor, asset_id: int, *, urgency: str, finding: str) -> int:
    """REV-11: the portal operator dispatches an error found by inspection to the responsible unit."""
    finding = (finding or "").strip()
    if urgency not in URGENCY:
        raise InvalidInput("请选择紧急程度：紧急或一般。", "Choose urgent or general.")
    if not finding or len(finding) > MAX_REASON:
        raise InvalidInput("请写明错敏信息的位置和问题。", "Describe where the error is and what it is.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise NotFound(f"网站或账号 {asset_id} 不存在。", f"Asset {asset_id} does not exist.")
        return dispatch_correction(rt, session, actor, user, asset, urgency=urgency, finding=finding).id


def dispatch_correction(rt, session: Session, actor: Actor, user, asset: Asset, *, urgency: str,
                        finding: str) -> ProcessInstance:
    """REV-11 inside the caller's transaction (start_correction, or a duty reading's finding, REV-16)."""
    from sqlalchemy import func

    if not _holds(session, user, "egov_center", asset):
        raise Forbidden("错敏信息由门户网站运维单位交办（REV-11）。", "The portal operator dispatches corrections (REV-11).")
    serial = 1 + (session.scalar(select(func.count()).select_from(ProcessInstance).where(
        ProcessInstance.business_key.like(f"{asset_key(asset.id)}:correction:%"))) or 0)
    return start_in_session(rt, session, CORRECTION_PROCESS, actor,
                            title=f"{asset.name}错敏信息整改（{URGENCY[urgency]}）",
                            business_key=f"{asset_key(asset.id)}:correction:{serial}", opinion=finding,
                            data={"asset_id": asset.id, "urgency": urgency}, for_unit_id=asset.org_unit_id)
