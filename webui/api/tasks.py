"""Tasks: my lists (the inbox's 待办 and 已办, same filters), one task with its outcomes and form,
and the actions claim, complete and return. Each action is the engine command the inbox calls."""

from db.models import HumanTask
from db.session import reading
from engine import NotFound, claim_task, complete_task, inbox, queries, return_task
from engine.access import task_access
from engine.calendar import calendar_for
from engine.forms import REASON_REQUIRED

from .common import me, new_blueprint, problems, runtime
from .schemas import CompleteBodySchema, ReturnBodySchema, TaskPageSchema, TaskQuerySchema, TaskSchema
from .security import actor, require_scope
from .views import instance_view, person

blp = new_blueprint("tasks", "/tasks", "My tasks and the actions on them")


def _row(row: inbox.InboxRow) -> dict:
    return {"id": row.id, "instance_id": row.instance_id, "title": row.title, "step": row.step,
            "process_key": row.process_key, "process_name": row.process_name, "engine_key": row.business_key,
            "unit": row.unit, "started_by": row.started_by, "created_at": row.created_at, "due_at": row.due_at,
            "claimed": row.claimed, "completed_at": row.completed_at, "outcome": row.outcome,
            "barred_roles": row.barred_roles}


@blp.route("")
@blp.arguments(TaskQuerySchema, location="query", unknown="raise")
@blp.response(200, TaskPageSchema)
@problems(blp, 400, 422)
def list_tasks(query):
    """待办 (soonest deadline first) or 已办 (newest first), a page at a time: pass `next_cursor` back
    as `cursor` for the next page."""
    rt = runtime()
    filters = inbox.InboxFilter(process=query.get("process"), asset_id=query.get("asset_id"),
                                unit_id=query.get("unit_id"), deadline=query.get("deadline"), q=query.get("q"))
    with reading(rt.session_factory) as session:
        user = me(session)
        if query["list"] == "done":
            page = inbox.done_page(session, user.id, filters=filters, cursor=query.get("cursor"), limit=query["limit"])
        else:
            page = inbox.todo_page(session, user.id, rt.clock.now(), filters=filters, cursor=query.get("cursor"),
                                   limit=query["limit"], calendar=calendar_for(session, rt.roll_calendar_days))
        return {"items": [_row(r) for r in page.rows], "next_cursor": page.next_cursor}


def _task_view(task_id: int) -> dict:
    rt = runtime()
    with reading(rt.session_factory) as session:
        page = queries.task_page(session, task_id, me(session), rt.clock.now())
        task = page.task
        return {"id": task.id, "instance_id": task.instance_id, "name": task.name, "role": task.role,
                "state": task.state, "assignee": person(session, task.assignee_id), "created_at": task.created_at,
                "due_at": task.due_at, "completed_at": task.completed_at,
                "completed_by": person(session, task.completed_by_id), "outcome": task.outcome,
                "outcomes": [{"key": o["key"], "label": o["label"], "reason_required": o["key"] in REASON_REQUIRED}
                             for o in page.outcomes] if task.state == "ready" else [],
                "form_fields": [{"name": f.name, "label": f.label, "max_length": f.max_length, "required": f.required}
                                for f in page.form_fields],
                "refusal": page.refusal.message if page.refusal else None,
                "instance": instance_view(session, page.instance)}


def _scoped(task_id: int, what: str, what_en: str) -> None:
    """A task the owner may not even know of is 404 (as on the task page); then the token must carry
    the task's role. Everything else (claimed by another, REV-3, already completed → 409) is the
    engine command's to say."""
    rt = runtime()
    with reading(rt.session_factory) as session:
        task = session.get(HumanTask, task_id)
        if task is None or task_access(session, me(session), task, rt.clock.now()) is None:
            raise NotFound(f"任务 {task_id} 不存在或您无权查看。", f"Task {task_id} does not exist or is not yours to see.")
        role = task.role
    require_scope(role, what, what_en)


@blp.route("/<int(min=1, max=2147483647):task_id>")
@blp.response(200, TaskSchema)
@problems(blp, 403, 404)
def show(task_id: int):
    """One task: its outcomes (通过, 退回 …), its form fields, and its instance with the history."""
    return _task_view(task_id)


@blp.route("/<int(min=1, max=2147483647):task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
@problems(blp, 403, 404, 409)
def claim(task_id: int):
    """Take a group task so that only you see and work it."""
    _scoped(task_id, "签收此任务", "claim this task")
    claim_task(runtime(), task_id, actor())
    return _task_view(task_id)


@blp.route("/<int(min=1, max=2147483647):task_id>/complete", methods=["POST"])
@blp.arguments(CompleteBodySchema)
@blp.response(200, TaskSchema)
@problems(blp, 400, 403, 404, 409, 422)
def complete(body, task_id: int):
    """Complete the task with an outcome, an opinion and the step's form values. If someone else
    completed it first: 409, naming who and when; nothing is changed."""
    _scoped(task_id, "办理此任务", "complete this task")
    complete_task(runtime(), task_id, actor(), outcome=body["outcome"], opinion=body["opinion"], form=body["form"])
    return _task_view(task_id)


@blp.route("/<int(min=1, max=2147483647):task_id>/return", methods=["POST"])
@blp.arguments(ReturnBodySchema)
@blp.response(200, TaskSchema)
@problems(blp, 400, 403, 404, 409, 422)
def give_back(body, task_id: int):
    """REV-4: return the item to its source with the reason."""
    _scoped(task_id, "退回此任务", "return this task")
    return_task(runtime(), task_id, actor(), reason=body["reason"])
    return _task_view(task_id)
