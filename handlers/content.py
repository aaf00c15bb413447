"""Handlers for content items under three-level review."""

from db.models import ContentItem

from .registry import HandlerContext, handler


@handler("publish_content")
def publish_content(params: dict, ctx: HandlerContext) -> dict:
    """REV-1: mark the item published; only reached after every review passed. Idempotent."""
    item = ctx.session.get(ContentItem, int(params["content_id"]))
    if item is None:
        raise LookupError(f"内容条目 {params['content_id']} 不存在")
    if item.status != "published":
        item.status = "published"
        item.published_at = ctx.now
    return {"content_id": item.id, "published_at": item.published_at.isoformat()}
