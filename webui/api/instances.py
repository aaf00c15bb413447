"""Instances: start one with your business key, find it by that key, read its state and history,
cancel it."""

from sqlalchemy import select

from db.models import ProcessDefinition, ProcessInstance
from db.session import reading
from engine import cancel_instance, queries
from engine.commands import external_key

from .common import me, new_blueprint, problems, runtime
from .schemas import (
    CancelBodySchema,
    InstanceListSchema,
    InstanceQuerySchema,
    InstanceSchema,
    StartBodySchema,
)
from .security import actor, require_scope
from .starters import check_startable, start
from .views import instance_view, visible_instance

blp = new_blueprint("instances", "/instances", "Process instances: start, state and history, cancel")


def _start_role(session, key: str) -> str | None:
    return session.scalar(select(ProcessDefinition.start_role).where(ProcessDefinition.key == key)
                          .order_by(ProcessDefinition.version.desc()).limit(1))


def started_view(instance_id: int) -> dict:
    rt = runtime()
    with reading(rt.session_factory) as session:
        return instance_view(session, session.get(ProcessInstance, instance_id))


@blp.route("", methods=["POST"])
@blp.arguments(StartBodySchema)
@blp.response(201, InstanceSchema)
@problems(blp, 400, 403, 404, 409, 422)
def start_instance(body):
    """Start the newest version of a process for your unit. `business_key` is your own key for the
    item: a second start with the same key while the first is running answers 409 with its id."""
    rt = runtime()
    check_startable(body["process_key"])
    with reading(rt.session_factory) as session:
        role = _start_role(session, body["process_key"])
    require_scope(role, "发起此流程", "start this process")
    with external_key(body["business_key"]):
        instance_id = start(rt, actor(), body["process_key"], body["data"])
    return started_view(instance_id)


@blp.route("")
@blp.arguments(InstanceQuerySchema, location="query", unknown="raise")
@blp.response(200, InstanceListSchema)
@problems(blp, 422)
def find_instances(query):
    """The instances started with `business_key` that you may see, newest first."""
    rt = runtime()
    with reading(rt.session_factory) as session:
        user, now = me(session), rt.clock.now()
        statement = select(ProcessInstance).where(ProcessInstance.external_key == query["business_key"])
        if query.get("process_key"):
            statement = statement.join(ProcessDefinition).where(ProcessDefinition.key == query["process_key"])
        found = session.scalars(statement.order_by(ProcessInstance.id.desc()).limit(50))
        return {"items": [instance_view(session, i) for i in found if queries.may_view_instance(session, user, i, now)]}


@blp.route("/<int(min=1, max=2147483647):instance_id>")
@blp.response(200, InstanceSchema)
@problems(blp, 404)
def show(instance_id: int):
    """State, open tasks, the content item (for 三审三校) and the history: who did what, when, why."""
    rt = runtime()
    with reading(rt.session_factory) as session:
        return instance_view(session, visible_instance(session, instance_id, me(session), rt.clock.now()))


@blp.route("/<int(min=1, max=2147483647):instance_id>/cancel", methods=["POST"])
@blp.arguments(CancelBodySchema)
@blp.response(200, InstanceSchema)
@problems(blp, 403, 404, 409, 422)
def cancel(body, instance_id: int):
    """Withdraw a running instance (its starter, or an administrator of its unit or above)."""
    rt = runtime()
    with reading(rt.session_factory) as session:
        visible_instance(session, instance_id, me(session), rt.clock.now())
    cancel_instance(rt, instance_id, actor(), reason=body["reason"])
    return started_view(instance_id)
