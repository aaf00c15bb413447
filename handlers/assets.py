"""The asset registry's own operations, and the handlers lifecycle diagrams call.

An asset's state changes only here, inside a process instance's transaction, and every change
leaves an `asset_event` naming the instance. The engine's start checks use the same counting
(`approved_offlines`) as the diagram's check at approval, so both read OFF-2 alike.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ACTIVE_STATES, ASSET_STATES, VIOLATION_TYPES, Asset, AssetEvent, OrgUnit, Violation

from .registry import HandlerContext, handler

SHANGHAI = ZoneInfo("Asia/Shanghai")


def asset_for_key(session: Session, business_key: str, *, lock: bool = False) -> Asset:
    """The asset of an `asset:<id>` business key; LookupError if there is none."""
    kind, _, rest = (business_key or "").partition(":")
    ident = rest.partition(":")[0]  # "asset:12" or "asset:12:correction:…" (a request about the asset)
    asset = None
    if kind == "asset" and ident.isdigit():
        query = select(Asset).where(Asset.id == int(ident))
        asset = session.scalar(query.with_for_update() if lock else query)
    if asset is None:
        raise LookupError(f"找不到业务编号 {business_key} 对应的网站或账号")
    return asset


def transition(session: Session, asset: Asset, to_state: str, *, instance_id: int | None, now: datetime,
               data: dict | None = None, note: str = "") -> AssetEvent:
    """Move `asset` to `to_state` and record by which instance (the registry's history)."""
    if to_state not in ASSET_STATES:
        raise ValueError(f"未知的状态 {to_state}")
    event = AssetEvent(asset_id=asset.id, from_state=asset.state, to_state=to_state, instance_id=instance_id,
                       data=data, note=note, occurred_at=now)
    asset.state, asset.updated_at = to_state, now
    session.add(event)
    return event


def approved_offlines(session: Session, asset_id: int, year: int) -> int:
    """OFF-2: approved temporary offlines of an asset in a calendar year (Beijing time); reports excluded."""
    events = session.scalars(select(AssetEvent).where(AssetEvent.asset_id == asset_id, AssetEvent.to_state == "offline"))
    return sum(1 for e in events
               if e.occurred_at.astimezone(SHANGHAI).year == year and (e.data or {}).get("path") == "approval")


def same_platform_accounts(session: Session, asset: Asset) -> list[Asset]:
    """OPEN-2: the unit's other accounts on the asset's platform that still count."""
    return list(session.scalars(select(Asset).where(
        Asset.org_unit_id == asset.org_unit_id, Asset.kind == "new_media", Asset.platform == asset.platform,
        Asset.state.in_(ACTIVE_STATES), Asset.id != asset.id)))


def other_websites(session: Session, asset: Asset) -> list[Asset]:
    """OPEN-2: the unit's other websites that still count (one website per unit)."""
    return list(session.scalars(select(Asset).where(
        Asset.org_unit_id == asset.org_unit_id, Asset.kind == "website", Asset.state.in_(ACTIVE_STATES),
        Asset.id != asset.id)))


@handler("check_open_quota")
def check_open_quota(params: dict, ctx: HandlerContext) -> dict:
    """OPEN-2, again at approval: ok when the unit has no other account on this platform (or no other website)."""
    asset = asset_for_key(ctx.session, ctx.business_key, lock=True)
    others = other_websites(ctx.session, asset) if asset.kind == "website" else same_platform_accounts(ctx.session, asset)
    return {"ok": not others, "existing": [a.name for a in others]}


@handler("set_asset_state")
def set_asset_state(params: dict, ctx: HandlerContext) -> dict:
    """Move the instance's asset to `state`; `path` (approval / force_majeure) is kept for OFF-2."""
    asset = asset_for_key(ctx.session, ctx.business_key, lock=True)
    if asset.kind == "website" and params["state"] == "online" and not (asset.attributes or {}).get("identifier_code"):
        # OPEN-8: no website goes live before the State Council's identifier code is recorded.
        raise ValueError(f"“{asset.name}”尚未登记网站标识码，不能上线（OPEN-8）")
    if asset.kind == "app" and params["state"] == "online" and not (asset.attributes or {}).get("security_report"):
        raise ValueError(f"“{asset.name}”没有安全检测报告，不能上线（OPEN-5）")
    data = {"path": params["path"]} if params.get("path") else None
    from_state = asset.state
    transition(ctx.session, asset, params["state"], instance_id=ctx.instance_id, now=ctx.now, data=data)
    # The whole change, so reports (openings, closures, offline periods) can be rebuilt from the trail.
    return {"asset_id": asset.id, "state": asset.state, "from_state": from_state, "name": asset.name,
            "kind": asset.kind, "org_unit_id": asset.org_unit_id}


@handler("check_offline_quota")
def check_offline_quota(params: dict, ctx: HandlerContext) -> dict:
    """OFF-2: ok when the asset has not yet gone offline on an approval this calendar year."""
    asset = asset_for_key(ctx.session, ctx.business_key, lock=True)
    used = approved_offlines(ctx.session, asset.id, ctx.now.astimezone(SHANGHAI).year)
    return {"ok": used == 0, "used": used}


@handler("record_violation")
def record_violation(params: dict, ctx: HandlerContext) -> dict:
    """PEN-1: an entry of the violation register, against the instance's asset and its unit."""
    if params["category"] not in VIOLATION_TYPES:
        raise ValueError(f"未知的违规类型 {params['category']}")
    asset = asset_for_key(ctx.session, ctx.business_key)
    violation = Violation(asset_id=asset.id, org_unit_id=asset.org_unit_id, instance_id=ctx.instance_id,
                          rule=params["rule"], category=params["category"], description=params["description"],
                          recorded_at=ctx.now)
    ctx.session.add(violation)
    ctx.session.flush()
    return {"violation_id": violation.id}


@handler("apply_asset_changes")
def apply_asset_changes(params: dict, ctx: HandlerContext) -> dict:
    """CHG-1: the reported new values; a new host unit moves the asset to that unit."""
    asset = asset_for_key(ctx.session, ctx.business_key, lock=True)
    changes = dict(params.get("changes") or {})
    if "host_unit" in changes:
        unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.name == changes["host_unit"]))
        if unit is None:
            raise LookupError(f"找不到新的主办单位“{changes['host_unit']}”")
        asset.org_unit_id = unit.id
    asset.attributes = {**(asset.attributes or {}), **changes}
    asset.updated_at = ctx.now
    return {"changed": sorted(changes)}


@handler("record_archive")
def record_archive(params: dict, ctx: HandlerContext) -> dict:
    """MIG-1: the archive time kept on the asset, next to what was archived."""
    asset = asset_for_key(ctx.session, ctx.business_key, lock=True)
    asset.attributes = {**(asset.attributes or {}), "archived_at": ctx.now.astimezone(SHANGHAI).isoformat(timespec="minutes")}
    return {"archived_at": asset.attributes["archived_at"]}


@handler("record_unit_contacts")
def record_unit_contacts(params: dict, ctx: HandlerContext) -> dict:
    """CHG-2: the unit's registered leader in charge, liaisons and website responsibles."""
    kind, _, ident = (ctx.business_key or "").partition(":")
    unit = ctx.session.get(OrgUnit, int(ident)) if kind == "unit" and ident.isdigit() else None
    if unit is None:
        raise LookupError(f"找不到业务编号 {ctx.business_key} 对应的单位")
    unit.contacts = {**dict(params.get("contacts") or {}), "registered_at": ctx.now.astimezone(SHANGHAI).isoformat(
        timespec="minutes"), "instance_id": ctx.instance_id}
    return {"unit_id": unit.id}
