"""GET /audit/events: the audit trail searched as on the auditors' page (auditors and
administrators; their unit and those below)."""

from db.session import reading
from engine.audit_search import EventFilter, search_events

from .common import me, new_blueprint, problems, runtime
from .schemas import AuditPageSchema, AuditQuerySchema
from .security import require_scope

blp = new_blueprint("audit", "/audit", "The audit trail (auditors)")


@blp.route("/events")
@blp.arguments(AuditQuerySchema, location="query", unknown="raise")
@blp.response(200, AuditPageSchema)
@problems(blp, 400, 403, 422)
def search(query):
    """Events newest first, a page at a time (`next_cursor` → `cursor`)."""
    require_scope("auditor", "查阅审计记录", "read the audit trail")
    flt = EventFilter(**{k: query.get(k) for k in ("asset_id", "actor_id", "unit_id", "process_key", "action",
                                                    "date_from", "date_to")})
    with reading(runtime().session_factory) as session:
        page = search_events(session, me(session), flt, cursor=query.get("cursor"), limit=query["limit"])
        return {"items": [{"id": r.id, "occurred_at": r.occurred_at, "actor_id": r.actor_id, "actor_name": r.actor_name,
                           "role": r.role, "unit": r.unit_name, "action": r.action, "instance_id": r.instance_id,
                           "instance_title": r.instance_title, "process_name": r.process_name,
                           "task_name": r.task_name, "opinion": r.opinion, "data": r.data,
                           "client_addr": r.client_addr} for r in page.rows],
                "next_cursor": page.next_cursor}
