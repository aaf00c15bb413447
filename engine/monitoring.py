"""Update-frequency monitoring (SUP-3, SUP-5) and the REV-17 rectification it opens.

SUP-3: a new-media account is updated at least policy['account_weekly_updates'] times a week
(a WeChat service account policy['service_account_weekly_updates']). SUP-5: each portal column
is checked against the content responsibility table 内容保障责任分解表 (owner unit, updates per
week, month or quarter), kept on the column by the supervising office.

Periods are Beijing calendar weeks (Monday 00:00), months and quarters. Once a period has
closed, the periodic duty counts each account's and column's updates in it: items published
through three-level review to that account or column, plus updates recorded on the
monitoring page for platforms GovFlow does not publish to. A site or account counts only when
it was online for the whole period. Below the frequency, REV-17: a rectification with a
deadline opens for the responsible unit (processes/update_rectification.bpmn), and a column
(website content) is also criticised 通报批评 there.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Asset, AssetEvent, ContentItem, OrgUnit, PeriodicItem, UpdateRecord
from db.session import transaction

from . import audit
from .assets import asset_key, may_view_asset
from .assignment import holds_role_at_or_above
from .clock import SHANGHAI, to_shanghai
from .commands import Actor, load_actor
from .exceptions import Forbidden, InvalidInput, NotFound
from .forms import Field, Form, register_form
from .periodic import Duty, register_duty, start_as_system

RECTIFICATION_PROCESS = "update_rectification"
PERIODS = {"week": "每周", "month": "每月", "quarter": "每季度"}
COLUMN_KINDS = ("column", "sub_homepage")
MONITORED_KINDS = ("new_media", *COLUMN_KINDS)
WECHAT_TYPES = {"subscription": "订阅号", "service": "服务号"}
MAX_UPDATES_PER_PERIOD = 100
RECORD_WINDOW = timedelta(days=31)  # how far back an update may be recorded


def period_bounds(kind: str, instant: datetime) -> tuple[datetime, datetime]:
    """The Beijing calendar week, month or quarter holding `instant`, as [start, end)."""
    day = to_shanghai(instant).date()
    if kind == "week":
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    elif kind == "month":
        first = day.replace(day=1)
        after = _add_months(first, 1)
    elif kind == "quarter":
        first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        after = _add_months(first, 3)
    else:
        raise ValueError(f"unknown period {kind!r}")
    return _midnight(first), _midnight(after)


def last_closed_period(kind: str, now: datetime) -> tuple[datetime, datetime]:
    start, _ = period_bounds(kind, now)
    return period_bounds(kind, start - timedelta(seconds=1))


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def requirement(values: dict, asset: Asset) -> tuple[int, str] | None:
    """(updates, period) the asset must reach, or None when it is not monitored."""
    attributes = asset.attributes or {}
    if asset.kind == "new_media":
        if asset.platform == "wechat" and attributes.get("wechat_type") == "service":
            return values["service_account_weekly_updates"], "week"  # SUP-3: a service account once a week
        return values["account_weekly_updates"], "week"  # SUP-3: at least twice a week
    if asset.kind in COLUMN_KINDS and attributes.get("responsibility"):
        entry = attributes["responsibility"]
        return int(entry["updates"]), entry["period"]  # SUP-5: as the responsibility table says
    return None


def owner_unit_id(asset: Asset) -> int:
    """Who keeps the asset updated: a column's owner unit from the responsibility table, else the host."""
    entry = (asset.attributes or {}).get("responsibility") or {}
    return int(entry.get("owner_unit_id") or asset.org_unit_id)


def count_updates(session: Session, asset: Asset, start: datetime, end: datetime) -> int:
    """Updates of `asset` published in [start, end): reviewed items published to it, plus recorded ones."""
    recorded = session.scalar(select(func.count()).select_from(UpdateRecord).where(
        UpdateRecord.asset_id == asset.id, UpdateRecord.published_at >= start, UpdateRecord.published_at < end)) or 0
    target_kind = ("portal_column" if asset.kind in COLUMN_KINDS
                   else "wechat" if asset.kind == "new_media" and asset.platform == "wechat" else None)
    published = 0
    if target_kind:
        published = session.scalar(select(func.count()).select_from(ContentItem).where(
            ContentItem.status == "published", ContentItem.target_kind == target_kind,
            ContentItem.target_name == asset.name,
            ContentItem.org_unit_id.in_({asset.org_unit_id, owner_unit_id(asset)}),
            ContentItem.published_at >= start, ContentItem.published_at < end)) or 0
    return recorded + published


def _eligible(session: Session, values: dict, period: str, start: datetime) -> list[Asset]:
    """Online assets monitored per `period` that were online for the whole period."""
    changed = set(session.scalars(select(AssetEvent.asset_id).where(AssetEvent.occurred_at > start)))
    assets = session.scalars(select(Asset).where(Asset.kind.in_(MONITORED_KINDS), Asset.state == "online",
                                                 Asset.created_at <= start).order_by(Asset.id))
    return [a for a in assets if a.id not in changed and (requirement(values, a) or (0, ""))[1] == period]


def open_rectification(rt, session: Session, asset: Asset, start: datetime, end: datetime, required: int,
                       counted: int):
    """REV-17: the rectification of an asset below its frequency, for the unit that keeps it updated."""
    last_day = to_shanghai(end - timedelta(seconds=1))
    span = f"{to_shanghai(start):%Y-%m-%d}至{last_day:%m-%d}"
    target = "column" if asset.kind in COLUMN_KINDS else "account"
    return start_as_system(
        rt, session, RECTIFICATION_PROCESS, unit_id=owner_unit_id(asset),
        title=f"{asset.name}更新不及时整改（{span}）",
        business_key=f"{asset_key(asset.id)}:rectification:{to_shanghai(start):%Y%m%d}",
        opinion=f"{span}更新 {counted} 次，应不少于 {required} 次（{'SUP-5 内容保障责任表' if target == 'column' else 'SUP-3'}）",
        data={"asset_id": asset.id, "asset_kind": asset.kind, "target": target, "required": required,
              "counted": counted, "period_start": start.isoformat()})


def _check(rt, session: Session, item: PeriodicItem) -> None:
    """Count one asset's updates in the item's period; below the frequency, open the rectification."""
    asset = session.get(Asset, int(item.subject.partition(":")[2]))
    required, _ = requirement(rt.policy.values, asset)
    counted = count_updates(session, asset, item.period_start, item.period_end)
    item.asset_id, item.org_unit_id = asset.id, owner_unit_id(asset)
    item.required, item.counted, item.passed = required, counted, counted >= required
    if counted < required:
        item.instance_id = open_rectification(rt, session, asset, item.period_start, item.period_end,
                                              required, counted).id


def check_asset(rt, asset_id: int) -> PeriodicItem:
    """Check one monitored asset for its last closed period now, whether or not it was online
    throughout (the duty checks only those that were); the demo seed uses it. Once per period."""
    with transaction(rt.session_factory) as session:
        asset = _asset(session, asset_id)
        need = requirement(rt.policy.values, asset)
        if need is None:
            raise InvalidInput(f"“{asset.name}”不在更新监测范围内。", f"{asset.name} is not monitored.")
        start, end = last_closed_period(need[1], rt.clock.now())
        item = PeriodicItem(kind=f"update_frequency:{need[1]}", period_start=start, period_end=end,
                            subject=f"asset:{asset.id}", done_at=rt.clock.now())
        session.add(item)
        session.flush()
        _check(rt, session, item)
        return item


def _register(period: str) -> Duty:
    def subjects(rt, session, start, end):
        return [f"asset:{a.id}" for a in _eligible(session, rt.policy.values, period, start)]

    return register_duty(Duty(kind=f"update_frequency:{period}",
                              period=lambda rt, now: last_closed_period(period, now),
                              baseline=lambda rt, start, end, now: True,  # monitoring starts with the next period
                              subjects=subjects, act=_check))


for _period in PERIODS:
    _register(_period)


register_form(Form("update_rectification_report", [  # REV-17
    Field("measures", "整改措施", "What was done", 2000, multiline=True),
    Field("updates", "整改后的更新情况（标题或链接）", "Updates published since (titles or links)", 2000, multiline=True),
], apply=lambda session, instance, values: None))


# -- commands ---------------------------------------------------------------------------------

def _asset(session: Session, asset_id: int) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(f"网站或账号 {asset_id} 不存在。", f"Asset {asset_id} does not exist.")
    return asset


def _parse_local(text: str) -> datetime:
    try:
        value = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidInput("发布时间格式不正确，请写成 2026-03-03 10:00。", "Give the time as 2026-03-03 10:00.") from None
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def record_update(rt, actor: Actor, asset_id: int, *, title: str, published_at: str, url: str = "") -> int:
    """SUP-3/SUP-5: record an update published outside GovFlow, by the unit that keeps the asset updated."""
    title, url = (title or "").strip(), (url or "").strip()
    if not title or len(title) > 300:
        raise InvalidInput("请填写更新内容的标题（不超过 300 个字）。", "Give the update's title.")
    if len(url) > 500:
        raise InvalidInput("链接不能超过 500 个字符。", "The link is too long.")
    when = _parse_local(published_at)
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _asset(session, asset_id)
        if asset.kind not in MONITORED_KINDS:
            raise InvalidInput("只有政务新媒体账号和网站栏目登记更新情况。", "Only accounts and columns record updates.")
        if user.org_unit_id not in (asset.org_unit_id, owner_unit_id(asset)):
            raise Forbidden("只有负责更新的单位可以登记更新情况。", "Only the unit that keeps it updated records updates.")
        now = rt.clock.now()
        if when > now or when < now - RECORD_WINDOW:
            raise InvalidInput("只能登记最近 31 天内已经发布的更新。", "Only updates published in the last 31 days.")
        row = UpdateRecord(asset_id=asset.id, published_at=when, title=title, url=url, recorded_by_id=user.id,
                           recorded_at=now)
        session.add(row)
        session.flush()
        audit.record(session, now=now, action="update_recorded", actor=user, client_addr=actor.client_addr,
                     data={"asset_id": asset.id, "update_id": row.id, "title": title,
                           "published_at": when.isoformat()})
        return row.id


def set_responsibility(rt, actor: Actor, asset_id: int, *, owner_unit_id: int, updates: int, period: str,
                       content: str, quality: str = "") -> None:
    """SUP-5: the office sets a column's line of the content responsibility table."""
    content, quality = (content or "").strip(), (quality or "").strip()
    if period not in PERIODS:
        raise InvalidInput("请选择更新周期：每周、每月或每季度。", "Choose the period: week, month or quarter.")
    if isinstance(updates, bool) or not isinstance(updates, int) or not 1 <= updates <= MAX_UPDATES_PER_PERIOD:
        raise InvalidInput(f"更新频次应为 1 至 {MAX_UPDATES_PER_PERIOD} 次。", "Give a number of updates from 1.")
    if not content or len(content) > 500 or len(quality) > 500:
        raise InvalidInput("请填写内容说明（不超过 500 个字）。", "Describe the column's content.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _asset(session, asset_id)
        if asset.kind not in COLUMN_KINDS:
            raise InvalidInput("内容保障责任表只列栏目、专题和小首页（SUP-5）。", "Only columns are in the table (SUP-5).")
        if not holds_role_at_or_above(session, user, "district_office", asset.org_unit_id):
            raise Forbidden("内容保障责任表由政府办公室组织编制（SUP-5）。", "The office keeps the table (SUP-5).")
        owner = session.get(OrgUnit, owner_unit_id)
        if owner is None or not holds_role_at_or_above(session, user, "district_office", owner.id):
            raise InvalidInput("保障单位应是本办公室管辖范围内的单位。", "The owner must be a unit under this office.")
        entry = {"owner_unit_id": owner.id, "owner_unit": owner.name, "updates": updates, "period": period,
                 "content": content, "quality": quality}
        before = (asset.attributes or {}).get("responsibility")
        asset.attributes = {**(asset.attributes or {}), "responsibility": entry}
        audit.record(session, now=rt.clock.now(), action="responsibility_set", actor=user, role="district_office",
                     client_addr=actor.client_addr, data={"asset_id": asset.id, "before": before, "after": entry})


def set_account_type(rt, actor: Actor, asset_id: int, *, wechat_type: str) -> None:
    """SUP-3: whether a WeChat account is a service account (once a week) or a subscription account."""
    if wechat_type not in WECHAT_TYPES:
        raise InvalidInput("请选择订阅号或服务号。", "Choose subscription or service account.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = _asset(session, asset_id)
        if asset.kind != "new_media" or asset.platform != "wechat":
            raise InvalidInput("只有微信公众号区分订阅号和服务号。", "Only WeChat accounts have this type.")
        if user.org_unit_id != asset.org_unit_id and not holds_role_at_or_above(
                session, user, "district_office", asset.org_unit_id):
            raise Forbidden("只有主办单位或政府办公室可以设置账号类型。", "Only the host unit or the office may set it.")
        asset.attributes = {**(asset.attributes or {}), "wechat_type": wechat_type}
        audit.record(session, now=rt.clock.now(), action="account_type_set", actor=user, client_addr=actor.client_addr,
                     data={"asset_id": asset.id, "wechat_type": wechat_type})


# -- the monitoring page ----------------------------------------------------------------------

def monitoring_page(rt, session: Session, user) -> dict:
    """Every monitored site or account the user may see, with this period's count and the last check."""
    from .assets import visible_assets

    values, now = rt.policy.values, rt.clock.now()
    rows = []
    columns = []
    for asset in visible_assets(session, user):
        if asset.kind in COLUMN_KINDS:
            columns.append({"asset": asset, "entry": (asset.attributes or {}).get("responsibility"),
                            "may_edit": holds_role_at_or_above(session, user, "district_office", asset.org_unit_id)})
        need = requirement(values, asset)
        if need is None or asset.state != "online":
            continue
        updates, period = need
        start, end = period_bounds(period, now)
        last = session.scalar(select(PeriodicItem).where(PeriodicItem.asset_id == asset.id)
                              .order_by(PeriodicItem.period_start.desc()).limit(1))
        rows.append({"asset": asset, "required": updates, "period": period, "so_far": count_updates(
            session, asset, start, end), "period_start": start, "last": last,
            "may_record": user.org_unit_id in (asset.org_unit_id, owner_unit_id(asset)),
            "may_set_type": asset.platform == "wechat" and (user.org_unit_id == asset.org_unit_id or holds_role_at_or_above(
                session, user, "district_office", asset.org_unit_id))})
    units = [u for u in session.scalars(select(OrgUnit).order_by(OrgUnit.id))
             if holds_role_at_or_above(session, user, "district_office", u.id)]
    return {"rows": rows, "columns": columns, "units": units, "unit_names": {
        u.id: u.name for u in session.scalars(select(OrgUnit))}}


def recent_updates(session: Session, user, asset_id: int, limit: int = 20) -> list[UpdateRecord]:
    asset = _asset(session, asset_id)
    if not may_view_asset(session, user, asset):
        raise Forbidden("您无权查看此网站或账号。", "You may not see this asset.")
    return list(session.scalars(select(UpdateRecord).where(UpdateRecord.asset_id == asset_id)
                                .order_by(UpdateRecord.published_at.desc()).limit(limit)))
