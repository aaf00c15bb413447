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
    # Where and what was published: the annual report (SUP-1) counts items per column from this.
    return {"content_id": item.id, "published_at": item.published_at.isoformat(), "title": item.title,
            "target_kind": item.target_kind, "target_name": item.target_name, "org_unit_id": item.org_unit_id}
