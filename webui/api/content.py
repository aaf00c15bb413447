"""POST /content: a CMS submits an article into 三审三校 (REV-1) under its own article number."""

from engine import submit_content
from engine.commands import external_key

from .common import new_blueprint, problems, runtime
from .instances import started_view
from .schemas import ContentBodySchema, InstanceSchema
from .security import actor, require_scope

blp = new_blueprint("content", "/content", "Content items into three-level review (三审三校)")


@blp.route("", methods=["POST"])
@blp.arguments(ContentBodySchema)
@blp.response(201, InstanceSchema)
@problems(blp, 400, 403, 404, 409, 422)
def submit(body):
    """Submit an article as the token's owner (an editor); answers the review instance. Follow it
    with GET /instances/{id}, or find it by your key with GET /instances?business_key=…"""
    require_scope("editor", "提交稿件", "submit content")
    with external_key(body["business_key"]):
        instance_id = submit_content(runtime(), actor(), title=body["title"], body=body["body"],
                                     target_kind=body["target_kind"], target_name=body["target_name"],
                                     mode=body["mode"])
    return started_view(instance_id)

