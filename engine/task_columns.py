"""What a new inbox row copies from its instance, so the inbox filters read `human_task` only.

Called by `instances.sync_human_tasks` for the rows it is about to insert (one call per command,
no extra statement): process key, title, business key, requesting unit and asset, and for a
会签/或签 child the member whose task it is (engine/multi_instance.py).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from db.models import ProcessInstance

from .multi_instance import member_for


def asset_of(business_key: str) -> int | None:
    """"asset:12" and "asset:12:correction:3" → 12; other keys → None."""
    kind, _, rest = (business_key or "").partition(":")
    ident = rest.partition(":")[0]
    return int(ident) if kind == "asset" and ident.isdigit() else None


def fill_task_columns(rt, session: Session, row: ProcessInstance, info: dict, ready: dict, new_rows: list[dict]) -> None:
    key = rt.definitions.get(session, row.definition_id).key  # cached: no query after the first
    listing = {"process_key": key, "title": row.title, "business_key": row.business_key,
               "request_unit_id": row.org_unit_id, "asset_id": asset_of(row.business_key)}
    members: dict[str, list[int]] = {}
    for values in new_rows:
        values.update(listing)
        task_info = info[values["bpmn_id"]]
        if task_info.get("multi") and values["assignee_id"] is None:
            values["assignee_id"] = member_for(session, row, task_info["role"], ready[values["spiff_task_id"]], members)
