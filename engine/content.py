"""Content items under three-level review (三审三校): submission, revision, withdrawal.

The 三审三校 diagram (processes/content_review.bpmn) carries the flow; this module owns the
item itself, created and revised in the same transaction as the instance that reviews it.
Besides the plain path, an item can enter by a special path (its `mode`): the checks that can be
made before anyone reviews anything happen here, the deadlines and extra steps in the diagram.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.models import CONTENT_MODES, TARGET_KINDS, ContentItem, ProcessInstance
from db.prepared import Prepared
from db.session import transaction

from .clock import to_shanghai
from .commands import Actor, load_actor, start_in_session
from .exceptions import InvalidInput, NotFound
from .forms import Field, Form, clean_values, register_form

PROCESS_KEY = "content_review"

CONTENT_FIELDS = [
    Field("title", "标题", "Title", 300),
    Field("body", "正文", "Body", 50_000, multiline=True),
]
TARGET_FIELD = Field("target_name", "栏目或账号名称", "Column or account name", 200)

# REV-8: the forms interpretation material can take (001 §20: 数字化、图表图解、音频、视频、动漫…).
INTERPRETATION_FORMS = {"text": "文字解读", "graphic": "图表图解", "audio": "音频", "video": "视频",
                        "animation": "动漫", "interview": "专访", "commentary": "评论"}
# REV-7: what makes a repost: a superior's request, the superior site's important policy, or any other website.
REPOST_TRIGGERS = {"request": "上级要求转载的重要信息", "policy": "上级政府网站发布的重要政策信息",
                   "other": "转载其他网站信息"}
MAX_NOTE = 1000


def content_of(session: Session, instance: ProcessInstance) -> ContentItem:
    kind, _, ident = instance.business_key.partition(":")
    item = session.get(ContentItem, int(ident)) if kind == "content" and ident.isdigit() else None
    if item is None:
        raise NotFound("找不到此事项对应的内容条目。", "The content item of this instance does not exist.")
    return item


def _apply_revision(session: Session, instance: ProcessInstance, values: dict) -> None:
    item = content_of(session, instance)
    item.title, item.body = values["title"], values["body"]
    instance.title = values["title"]


def _prefill_revision(session: Session, instance: ProcessInstance) -> dict:
    item = content_of(session, instance)
    return {"title": item.title, "body": item.body}


register_form(Form("content_revision", CONTENT_FIELDS, apply=_apply_revision, prefill=_prefill_revision))


def _keep_repost_review(session: Session, instance: ProcessInstance, values: dict) -> None:
    item = content_of(session, instance)
    item.details = {**(item.details or {}), "repost_review": values}


# REV-15: a repost passes only with both its content review and its secrecy review written down.
register_form(Form("repost_review", [
    Field("content_review", "内容审核意见（来源、准确性、导向）", "Content review (source, accuracy)", 1000, multiline=True),
    Field("secrecy_review", "保密审查意见", "Secrecy review", 1000, multiline=True),
], apply=_keep_repost_review))


_NEW_ITEM = Prepared(insert(ContentItem).returning(ContentItem.id),
                     columns=["title", "body", "target_kind", "target_name", "org_unit_id", "created_by_id",
                              "created_at", "status", "mode", "details"])


def submit_content(rt, actor: Actor, *, title: str, body: str, target_kind: str, target_name: str,
                   mode: str = "normal", **path) -> int:
    """REV-1: an editor's new item enters three-level review; returns the instance id.

    `mode` picks a special path (CONTENT_MODES); `path` holds what that path needs (see
    `_check_path`). Nothing is created when a check fails.
    """
    values = clean_values(Form("new_content", [*CONTENT_FIELDS, TARGET_FIELD], apply=lambda *a: None),
                          {"title": title, "body": body, "target_name": target_name})
    if target_kind not in TARGET_KINDS:
        raise InvalidInput("请选择发布渠道：门户网站栏目或本单位微信公众号。",
                           "Choose where to publish: a portal column or the unit's WeChat account.")
    if mode not in CONTENT_MODES or mode == "consultation":
        raise InvalidInput("请选择发布类型。", "Choose the kind of publication.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        details = _check_path(rt, session, user, mode, target_kind, path) if mode != "normal" else {}
        if target_kind == "portal_column":
            details["form_required"] = True  # REV-14: portal content is published only with its form registered
        content_id = _NEW_ITEM.scalar(session, {
            "title": values["title"], "body": values["body"], "target_kind": target_kind,
            "target_name": values["target_name"], "org_unit_id": user.org_unit_id, "created_by_id": user.id,
            "created_at": rt.clock.now(), "status": "in_review", "mode": mode, "details": details or None})
        data = {"content_id": content_id, "target_kind": target_kind, "mode": mode}
        if mode == "repost":
            data["repost_trigger"] = details["repost"]["trigger"]
        row = start_in_session(rt, session, PROCESS_KEY, actor, title=values["title"],
                               business_key=f"content:{content_id}", data=data,
                               opinion=_opinion(mode, details))
        return row.id


def _opinion(mode: str, details: dict) -> str | None:
    """What the trail shows beside the submission for a special path."""
    if mode == "normal":
        return None
    if mode == "emergency":
        return f"紧急信息：{details['emergency']['reason']}"
    if mode == "repost":
        return f"{REPOST_TRIGGERS[details['repost']['trigger']]}：{details['repost']['source']}"
    if mode == "pushed":
        push = details["push"]
        return f"{push['source_system']}推送，来源单位已完成三审（编辑 {push['editor']}、审核 {push['reviewer']}、签发 {push['signer']}）"
    if mode == "out_of_scope":
        return f"拟发布日期 {details['scope']['planned_on']}：{details['scope']['reason']}"
    if mode == "clarification":
        return f"回应对《{details['clarifies']['title']}》的误读：{details['clarifies']['misreading']}"
    forms = "、".join(INTERPRETATION_FORMS[i["form"]] for i in details["interpretations"])
    return f"重要政策文件，同步发布解读材料：{forms}"


def _text(path: dict, key: str, label: str, limit: int = MAX_NOTE) -> str:
    value = path.get(key)
    value = value.strip() if isinstance(value, str) else ""
    if not value or len(value) > limit:
        raise InvalidInput(f"请填写“{label}”（不超过 {limit} 个字）。", f"Fill in \"{label}\" (at most {limit} characters).")
    return value


def _check_path(rt, session: Session, user, mode: str, target_kind: str, path: dict) -> dict:
    """The checks a special path makes before anyone reviews anything; returns the item's details."""
    if mode == "policy_document":
        return {"interpretations": _interpretations(rt, path.get("interpretations"))}
    if mode == "emergency":
        return {"emergency": {"reason": _text(path, "reason", "紧急情况说明")}}
    if mode == "repost":
        trigger = path.get("repost_trigger")
        if trigger not in REPOST_TRIGGERS:
            raise InvalidInput("请选择转载依据：上级要求、上级政府网站发布的重要政策，或转载其他网站信息（REV-7）。",
                               "Choose why it is reposted (REV-7).")
        return {"repost": {"trigger": trigger, "source": _text(path, "source", "来源（上级要求文号或原文网址）", 300)}}
    if mode == "pushed":
        return {"push": _push_record(rt, target_kind, path)}
    if mode == "out_of_scope":
        return {"scope": _scope(rt, path)}
    return {"clarifies": _clarified(session, user, path)}


def _interpretations(rt, rows) -> list[dict]:
    """REV-8: an important policy document comes with its interpretation materials, in at least
    policy['interpretation_forms'] different forms (0 in a profile: no count, but at least one)."""
    cleaned = []
    for row in rows or []:
        if not isinstance(row, dict) or not any((row.get(k) or "").strip() for k in ("title", "body")):
            continue
        if row.get("form") not in INTERPRETATION_FORMS:
            raise InvalidInput("请选择每份解读材料的形式。", "Choose the form of each interpretation.")
        cleaned.append({"form": row["form"], "title": _text(row, "title", "解读材料标题", 300),
                        "body": _text(row, "body", "解读材料内容", 20_000)})
    needed = max(1, rt.policy.values["interpretation_forms"])
    forms = {row["form"] for row in cleaned}
    if len(forms) < needed:
        raise InvalidInput(f"重要政策文件须同步发布不少于 {needed} 种形式的解读材料，现有 {len(forms)} 种（REV-8）。",
                           f"An important policy document needs interpretation material in at least {needed} forms; "
                           f"it has {len(forms)} (REV-8).")
    return cleaned


def _push_record(rt, target_kind: str, path: dict) -> dict:
    """REV-15: content pushed in from a source unit's system is accepted only with its editing,
    review and sign-off done before the push (流程前置), by three different people (REV-3)."""
    if target_kind != "portal_column":
        raise InvalidInput("信息化系统推送的内容只能报送门户网站栏目。", "Pushed content goes to a portal column.")
    record = {"source_system": _text(path, "source_system", "来源系统", 100)}
    for key, label in (("editor", "来源单位编辑"), ("reviewer", "来源单位审核人"), ("signer", "来源单位签发人")):
        record[key] = _text(path, key, label, 50)
    if len({record["editor"], record["reviewer"], record["signer"]}) < 3:
        raise InvalidInput("推送内容的编辑、审核、签发须由三个不同的人完成（REV-3、REV-15）。",
                           "Editing, review and sign-off of pushed content must be three different people.")
    signed = _instant(path.get("signed_at"), "来源单位签发时间")
    if signed > rt.clock.now():
        raise InvalidInput("推送内容须在推送前完成签发：签发时间不能晚于现在（REV-15）。",
                           "Pushed content must be signed off before the push (REV-15).")
    record["signed_at"] = to_shanghai(signed).isoformat(timespec="minutes")
    return record


def _scope(rt, path: dict) -> dict:
    """REV-10: information outside the usual scope is applied for at least
    policy['out_of_scope_notice_days'] days ahead (calendar days); an emergency takes the REV-6 path."""
    planned = path.get("planned_on")
    try:
        planned_on = planned if isinstance(planned, date) else date.fromisoformat(str(planned or ""))
    except ValueError:
        raise InvalidInput("请填写拟发布日期。", "Give the planned publication date.") from None
    days = rt.policy.values["out_of_scope_notice_days"]
    today = to_shanghai(rt.clock.now()).date()
    if (planned_on - today).days < days:
        raise InvalidInput(f"规定范围以外的信息须提前 {days} 天申请（REV-10）：拟发布日期最早为 "
                           f"{date.fromordinal(today.toordinal() + days).isoformat()}；紧急信息请选择“紧急信息”。",
                           f"Out-of-scope information is applied for at least {days} days ahead (REV-10); "
                           "emergencies take the emergency path.")
    return {"planned_on": planned_on.isoformat(), "reason": _text(path, "reason", "发布理由及信息范围说明")}


def _clarified(session: Session, user, path: dict) -> dict:
    """REV-12: authoritative information answers a misreading of a policy the unit published."""
    try:
        related = session.get(ContentItem, int(path.get("related_id") or 0))
    except (TypeError, ValueError):
        related = None
    if related is None or related.status != "published" or related.org_unit_id != user.org_unit_id:
        raise InvalidInput("请选择本单位已发布的政策文件（REV-12：由文件起草部门发布权威信息）。",
                           "Choose a policy item your unit has published (REV-12).")
    return {"item_id": related.id, "title": related.title, "misreading": _text(path, "misreading", "误读误解情况")}


def _instant(value, label: str) -> datetime:
    from .clock import SHANGHAI

    try:
        instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value or ""))
    except ValueError:
        raise InvalidInput(f"请填写“{label}”。", f"Give \"{label}\".") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=SHANGHAI)


CONSULTATION_PROCESS = "public_consultation"


def _apply_results(session: Session, instance: ProcessInstance, values: dict) -> None:
    item = content_of(session, instance)
    item.body = f"一、征集情况\n{values['summary']}\n\n二、意见采纳情况和反馈\n{values['feedback']}"
    item.details = {**(item.details or {}), "results": values}
    item.status = "in_review"


def _prefill_results(session: Session, instance: ProcessInstance) -> dict:
    return dict((content_of(session, instance).details or {}).get("results") or {})


# REV-18: what a consultation's closing publication says: what came in, and what was done with it.
register_form(Form("consultation_results", [
    Field("summary", "征集情况（收到意见数量及主要意见）", "What was received", 5000, multiline=True),
    Field("feedback", "意见采纳情况和反馈说明（未采纳的说明理由）", "What was adopted, and why not", 10_000, multiline=True),
], apply=_apply_results, prefill=_prefill_results))


def start_consultation(rt, actor: Actor, *, notice_item_id) -> int:
    """REV-18: a published consultation notice opens its consultation; the results and feedback
    item it must end with is created now (征集中) and published through three-level review."""
    from .calendar import add_calendar_days

    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        try:
            notice = session.get(ContentItem, int(notice_item_id))
        except (TypeError, ValueError):
            notice = None
        if notice is None or notice.status != "published" or notice.org_unit_id != user.org_unit_id:
            raise InvalidInput("请选择本单位已发布的征求意见公告（REV-18）。",
                               "Choose a consultation notice your unit has published (REV-18).")
        for other in session.scalars(select(ContentItem).where(ContentItem.org_unit_id == user.org_unit_id,
                                                               ContentItem.mode == "consultation")):
            if (other.details or {}).get("notice_item_id") == notice.id and other.status != "cancelled":
                raise InvalidInput(f"“{notice.title}”已经发起过意见征集。", "This notice already has a consultation.")
        now = rt.clock.now()
        closes = add_calendar_days(now, rt.policy.values["consultation_days"], session=session, roll=rt.roll_calendar_days)
        item = ContentItem(title=f"{notice.title}（征集结果和反馈）", body="（征集结束后汇总填写）",
                           target_kind="portal_column", target_name=notice.target_name, org_unit_id=user.org_unit_id,
                           created_by_id=user.id, created_at=now, status="collecting", mode="consultation",
                           details={"notice_item_id": notice.id, "notice_title": notice.title, "form_required": True,
                                    "closes_at": to_shanghai(closes).isoformat(timespec="minutes")})
        session.add(item)
        session.flush()
        row = start_in_session(rt, session, CONSULTATION_PROCESS, actor, title=f"意见征集：{notice.title}",
                               business_key=f"content:{item.id}", opinion=f"征集至 {to_shanghai(closes):%Y-%m-%d}",
                               data={"content_id": item.id, "target_kind": "portal_column"})
        return row.id


def published_items(session: Session, unit_id: int, limit: int = 50) -> list[ContentItem]:
    """A unit's published items, newest first (what a misreading response can refer to)."""
    return list(session.scalars(select(ContentItem).where(ContentItem.org_unit_id == unit_id,
                                                          ContentItem.status == "published")
                                .order_by(ContentItem.published_at.desc()).limit(limit)))


def on_content_cancelled(session: Session, instance: ProcessInstance) -> None:
    content_of(session, instance).status = "cancelled"
