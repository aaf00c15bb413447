"""Assets (websites, new-media accounts, columns, apps) and their lifecycle: state changes and the
processes that changed them."""

from sqlalchemy import or_, select

from db.models import Asset, OrgUnit, ProcessInstance
from db.session import reading
from engine import NotFound
from engine.assets import asset_history, asset_key, may_view_asset, visible_assets

from .common import me, new_blueprint, problems, runtime
from .schemas import AssetDetailSchema, AssetListSchema

blp = new_blueprint("assets", "/assets", "Websites and new-media accounts and their lifecycle")


def _asset(session, asset: Asset) -> dict:
    return {"id": asset.id, "kind": asset.kind, "name": asset.name, "platform": asset.platform, "state": asset.state,
            "unit": session.get(OrgUnit, asset.org_unit_id).name, "attributes": dict(asset.attributes or {})}


@blp.route("")
@blp.response(200, AssetListSchema)
@problems(blp)
def list_assets():
    """The assets you may see: your unit's, and for offices, administrators and auditors those below."""
    with reading(runtime().session_factory) as session:
        return {"items": [_asset(session, a) for a in visible_assets(session, me(session))]}


@blp.route("/<int(min=1, max=2147483647):asset_id>")
@blp.response(200, AssetDetailSchema)
@problems(blp, 404)
def show(asset_id: int):
    """One asset with its state changes (opened, offline, closed …) and its processes."""
    with reading(runtime().session_factory) as session:
        asset = session.get(Asset, asset_id)
        if asset is None or not may_view_asset(session, me(session), asset):
            raise NotFound(f"资产 {asset_id} 不存在或您无权查看。", f"Asset {asset_id} does not exist or is not yours to see.")
        key = asset_key(asset.id)
        runs = session.scalars(select(ProcessInstance).where(or_(ProcessInstance.business_key == key,
                                                                 ProcessInstance.business_key.like(f"{key}:%")))
                               .order_by(ProcessInstance.id))
        return {**_asset(session, asset),
                "events": [{"at": e.occurred_at, "from_state": e.from_state, "to_state": e.to_state,
                            "instance_id": e.instance_id, "note": e.note} for e in asset_history(session, asset.id)],
                "instances": [{"id": i.id, "process_key": i.definition.key, "title": i.title, "status": i.status,
                               "started_at": i.started_at, "ended_at": i.ended_at} for i in runs]}
