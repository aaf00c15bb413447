"""Content items under three-level review (三审三校): submission, revision, withdrawal.

The 三审三校 diagram (processes/content_review.bpmn) carries the flow; this module owns the
item itself, created and revised in the same transaction as the instance that reviews it.
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from db.models import TARGET_KINDS, ContentItem, ProcessInstance
from db.prepared import Prepared
from db.session import transaction

from .commands import Actor, load_actor, start_in_session
from .exceptions import InvalidInput, NotFound
from .forms import Field, Form, clean_values, register_form

PROCESS_KEY = "content_review"

CONTENT_FIELDS = [
    Field("title", "标题", "Title", 300),
    Field("body", "正文", "Body", 50_000, multiline=True),
]
TARGET_FIELD = Field("target_name", "栏目或账号名称", "Column or account name", 200)


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


_NEW_ITEM = Prepared(insert(ContentItem).returning(ContentItem.id),
                     columns=["title", "body", "target_kind", "target_name", "org_unit_id", "created_by_id",
                              "created_at", "status"])


def submit_content(rt, actor: Actor, *, title: str, body: str, target_kind: str, target_name: str) -> int:
    """REV-1: an editor's new item enters three-level review; returns the instance id."""
    values = clean_values(Form("new_content", [*CONTENT_FIELDS, TARGET_FIELD], apply=lambda *a: None),
                          {"title": title, "body": body, "target_name": target_name})
    if target_kind not in TARGET_KINDS:
        raise InvalidInput("请选择发布渠道：门户网站栏目或本单位微信公众号。",
                           "Choose where to publish: a portal column or the unit's WeChat account.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        content_id = _NEW_ITEM.scalar(session, {
            "title": values["title"], "body": values["body"], "target_kind": target_kind,
            "target_name": values["target_name"], "org_unit_id": user.org_unit_id, "created_by_id": user.id,
            "created_at": rt.clock.now(), "status": "in_review"})
        row = start_in_session(rt, session, PROCESS_KEY, actor, title=values["title"],
                               business_key=f"content:{content_id}",
                               data={"content_id": content_id, "target_kind": target_kind})
        return row.id


def on_content_cancelled(session: Session, instance: ProcessInstance) -> None:
    content_of(session, instance).status = "cancelled"
