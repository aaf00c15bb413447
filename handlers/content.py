"""Handlers for content items under three-level review."""

from sqlalchemy import bindparam, select, update

from db.models import ContentItem
from db.prepared import Prepared

from .registry import HandlerContext, handler

_PUBLISH = Prepared(update(ContentItem)
                    .where(ContentItem.id == bindparam("content_id"), ContentItem.status != "published")
                    .values(status="published", published_at=bindparam("now")).returning(ContentItem.published_at))
_PUBLISHED_AT = Prepared(select(ContentItem.published_at).where(ContentItem.id == bindparam("content_id")))


@handler("publish_content")
def publish_content(params: dict, ctx: HandlerContext) -> dict:
    """REV-1: mark the item published; only reached after every review passed. Idempotent."""
    content_id = int(params["content_id"])
    published_at = _PUBLISH.scalar(ctx.session, {"content_id": content_id, "now": ctx.now})
    if published_at is None:  # already published by an earlier run of this job, or no such item
        published_at = _PUBLISHED_AT.scalar(ctx.session, {"content_id": content_id})
        if published_at is None:
            raise LookupError(f"内容条目 {params['content_id']} 不存在或未能发布")
    return {"content_id": content_id, "published_at": published_at.isoformat()}
