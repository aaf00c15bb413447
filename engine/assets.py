"""The asset registry: the sites and accounts the lifecycle processes act on.

An asset's state changes only inside a process instance (the handlers in handlers/assets.py
call `transition` in the instance's transaction). Starting a lifecycle process checks the rules
that can be checked before anyone approves anything (OFF-1 reasons, OFF-2 once a year); the
diagram checks them again where the answer could have changed by the time of approval.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ASSET_KINDS, ASSET_STATES, Asset, AssetEvent, ProcessDefinition, ProcessInstance
from db.session import transaction
from handlers.assets import approved_offlines, asset_for_key

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
    return session.scalar(select(ProcessInstance).join(ProcessDefinition)
                          .where(ProcessInstance.business_key == asset_key(asset_id),
                                 ProcessInstance.status == "running",
                                 ProcessDefinition.key == OFFLINE_PROCESS).limit(1))


def start_temporary_offline(rt, actor: Actor, asset_id: int, *, path: str, reason_kind: str, reason: str) -> int:
    """OFF-1/OFF-2/OFF-4: the host unit applies for (or reports) a temporary offline; returns the instance id."""
    reason = (reason or "").strip()
    if path not in OFFLINE_PATHS:
        raise InvalidInput("请选择申请临时下线或不可抗力报备。", "Choose an application or a force-majeure report.")
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"请填写下线原因（不超过 {MAX_REASON} 个字）。", f"Give the reason (at most {MAX_REASON} characters).")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = session.scalar(select(Asset).where(Asset.id == asset_id).with_for_update())
        if asset is None:
            raise NotFound(f"网站或账号 {asset_id} 不存在。", f"Asset {asset_id} does not exist.")
        if asset.org_unit_id != user.org_unit_id:
            raise Forbidden("只有主办单位可以为本单位的网站或账号申请临时下线。",
                            "Only the host unit may apply for its own site or account.")
        if asset.kind not in ("website", "new_media", "app"):
            raise InvalidInput(f"{ASSET_KINDS[asset.kind]}不适用临时下线流程。", "This kind of asset has no temporary offline.")
        if asset.state != "online":
            raise ConflictError(f"“{asset.name}”当前状态为{ASSET_STATES[asset.state]}，只有已上线的网站或账号可以临时下线。",
                                f"{asset.name} is not online.")
        if _open_lifecycle_instance(session, asset.id) is not None:
            raise ConflictError(f"“{asset.name}”已有一个正在办理的临时下线事项。", f"{asset.name} already has one in progress.")
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


def _apply_announcement(session: Session, instance: ProcessInstance, values: dict) -> None:
    asset = asset_for_key(session, instance.business_key)
    asset.attributes = {**(asset.attributes or {}), "offline_announcement": values}


register_form(Form("offline_announcement", [
    Field("announced_where", "公告发布位置（网址或账号）", "Where the announcement is published", 300),
    Field("announcement", "公告内容", "Announcement", 2000, multiline=True),
], apply=_apply_announcement))


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
            "may_apply": asset.org_unit_id == user.org_unit_id and asset.state == "online"}


def visible_assets(session: Session, user) -> list[Asset]:
    return [a for a in session.scalars(select(Asset).order_by(Asset.org_unit_id, Asset.kind, Asset.id))
            if may_view_asset(session, user, a)]
