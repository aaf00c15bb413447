"""The engine's commands. Each is one unit of work: it opens the transaction, changes one
instance and commits state, version, inbox rows and audit events together, or nothing."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from uuid import UUID

from SpiffWorkflow.task import TaskState
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from db.models import ROLES, HumanTask, ProcessDefinition, ProcessInstance, User
from db.prepared import Prepared
from db.session import transaction

from . import audit, instances
from .assignment import holds_role_at_or_above, may_start, may_work
from .duties import check_separation_of_duties
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound
from .forms import FORMS, REASON_REQUIRED, check_outcome, clean_values, refuse_typename
from .specs import CompiledDefinition

MAX_TITLE = 300


@dataclass(frozen=True)
class Actor:
    """Who runs a command, and from where (for the audit trail)."""

    user_id: int
    client_addr: str | None = None
    # 委托/代理: the user acts as the stand-in of this person (engine/stand_ins.py checks it).
    on_behalf_of: int | None = None


@dataclass(frozen=True)
class ActingUser:
    """The acting user's identity columns, read with Core: all a command needs of them."""

    id: int
    username: str
    real_name: str
    org_unit_id: int
    active: bool


_ACTOR = Prepared(select(User.id, User.username, User.real_name, User.org_unit_id, User.active).where(
    User.id == bindparam("user_id")))
_LATEST_DEFINITION = Prepared(select(ProcessDefinition.id).where(ProcessDefinition.key == bindparam("key"))
                              .order_by(ProcessDefinition.version.desc()).limit(1))
_INSTANCE_COLUMNS = [f.name for f in fields(instances.InstanceRow) if f.name != "id"]
_NEW_INSTANCE = Prepared(insert(ProcessInstance).returning(ProcessInstance.id), columns=_INSTANCE_COLUMNS)
# The calling system's key for an instance started through the API (see `external_key`).
_EXTERNAL_KEY: ContextVar[str | None] = ContextVar("govflow_external_key", default=None)
_RUNNING_WITH_KEY = Prepared(select(ProcessInstance.id).join(ProcessDefinition).where(
    ProcessInstance.external_key == bindparam("key"), ProcessInstance.status == "running",
    ProcessInstance.org_unit_id == bindparam("unit_id"), ProcessDefinition.key == bindparam("process")).limit(1))
_CLAIM = Prepared(update(HumanTask).where(HumanTask.id == bindparam("task_id")).values(
    assignee_id=bindparam("user_id"), claimed_at=bindparam("now")))


@contextmanager
def external_key(key: str | None):
    """Starts inside this block record `key`, the caller's own key for the item (the API's
    `business_key`); a second running instance of the same process, unit and key is refused."""
    token = _EXTERNAL_KEY.set(key)
    try:
        yield
    finally:
        _EXTERNAL_KEY.reset(token)


def load_actor(session: Session, actor: Actor, now=None) -> ActingUser:
    """The active user behind `actor`; Forbidden for an unknown or deactivated one.

    For a stand-in (委托), the person they stand in for, once the stand-in is checked at `now`
    (commands that do not pass `now` cannot be run by a stand-in).
    """
    if actor.on_behalf_of is not None:
        from .stand_ins import enter_stand_in

        return enter_stand_in(session, actor, now)
    found = _ACTOR.first(session, {"user_id": actor.user_id})
    if found is None or not found[4]:
        raise Forbidden("用户不存在或已停用。", "The user does not exist or has been deactivated.")
    return ActingUser(*found)


def latest_definition(rt, session: Session, key: str) -> CompiledDefinition:
    definition_id = _LATEST_DEFINITION.scalar(session, {"key": key})
    if definition_id is None:
        raise NotFound(f"流程“{key}”尚未部署。", f"Process \"{key}\" has not been deployed.")
    return rt.definitions.get(session, definition_id)


def start_in_session(rt, session: Session, key: str, actor: Actor, *, title: str, business_key: str,
                     data: dict | None = None, opinion: str | None = None,
                     for_unit_id: int | None = None, audit_data: dict | None = None) -> instances.InstanceRow:
    """Start the newest version of `key` inside the caller's transaction (see start_process).

    `for_unit_id`: a supervising office starts a request about a unit below it (e.g. 清理整合),
    so the lanes are resolved from that unit; the caller has checked the office's authority.
    `audit_data`: what the start event should say beyond the process (the trail's reports read it).
    """
    user = load_actor(session, actor)
    definition = latest_definition(rt, session, key)
    if not may_start(session, user, definition.start_role):
        raise Forbidden(f"您在本单位没有“{ROLES.get(definition.start_role, definition.start_role)}”角色，"
                        f"不能发起“{definition.name}”。",
                        f"You hold no {definition.start_role} role in your unit, so you cannot start {definition.key}.")
    return start_instance(rt, session, definition, title=title, business_key=business_key,
                          unit_id=for_unit_id or user.org_unit_id, started_by_id=user.id, actor=user, data=data,
                          opinion=opinion, client_addr=actor.client_addr, audit_data=audit_data)


def start_instance(rt, session: Session, definition: CompiledDefinition, *, title: str, business_key: str,
                   unit_id: int, started_by_id: int, actor=None, data: dict | None = None,
                   opinion: str | None = None, client_addr: str | None = None,
                   audit_data: dict | None = None) -> instances.InstanceRow:
    """Create and run an instance of `definition` for `unit_id` (the caller has checked who may).

    `actor` is who started it for the trail; None when a periodic duty or the calendar did (the trail
    says 系统, while the row names `started_by_id`, the accountable person).
    """
    title = (title or "").strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput(f"标题不能为空，且不超过 {MAX_TITLE} 个字。", f"A title of 1–{MAX_TITLE} characters is required.")
    data = dict(data or {})
    refuse_typename(data)
    now = rt.clock.now()
    outside_key = _EXTERNAL_KEY.get()
    if outside_key is not None:
        existing = _RUNNING_WITH_KEY.scalar(session, {"key": outside_key, "unit_id": unit_id, "process": definition.key})
        if existing is not None:
            raise ConflictError(f"业务编号“{outside_key}”已有进行中的事项（编号 {existing}），未重复发起。",
                                f"A running item (#{existing}) already has the business key \"{outside_key}\"; "
                                "nothing was started.", details={"instance_id": existing})
    # Inserted at version 0; the save below moves it to 1 under the same optimistic check.
    values = {"definition_id": definition.id, "status": "running", "state": "", "version": 0,
              "business_key": business_key, "title": title, "org_unit_id": unit_id,
              "started_by_id": started_by_id, "started_at": now, "ended_at": None, "end_reason": None,
              "next_timer_at": None, "has_incident": False, "suspended": False,
              "external_key": outside_key}
    session.flush()  # rows the instance points at (a content item, an asset) exist first
    row = instances.InstanceRow(id=_NEW_INSTANCE.scalar(session, values), **values)
    workflow = instances.new_workflow(rt, session, definition, row)
    workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
    # The starter's act counts as the first lane's act for separation of duties (REV-3).
    audit.record(session, now=now, action="start", actor=actor, role=definition.start_role, instance_id=row.id,
                 opinion=opinion, client_addr=client_addr, org_unit_id=None if actor else unit_id,
                 data={"definition": definition.key, "version": definition.version, "business_key": business_key,
                       **(audit_data or {})})
    workflow.do_engine_steps()
    loaded = instances.Loaded(row=row, definition=definition, workflow=workflow, version=0)
    instances.save(rt, session, loaded)
    return loaded.row


def start_process(rt, key: str, actor: Actor, *, title: str, business_key: str,
                  data: dict | None = None) -> int:
    """Start the newest version of process `key` for the actor's unit; returns the instance id."""
    with transaction(rt.session_factory) as session:
        return start_in_session(rt, session, key, actor, title=title, business_key=business_key, data=data).id


def _ready_task(session: Session, task_id: int) -> tuple[instances.TaskRow, instances.InstanceRow]:
    """The locked task and its instance; ConflictError if someone already finished the task."""
    row, task = instances.lock_task(session, task_id)
    if task.state != "ready":
        message = instances.describe_completion(session, task)
        raise ConflictError(f"{message}，您的操作未执行。", f"{message}; your action was not carried out.",
                            details=instances.completion_details(session, task))
    if row.suspended:
        raise ConflictError("此事项已被系统管理员挂起，恢复之前不能办理，您的操作未执行。",
                            "An administrator has suspended this item; it cannot be worked until it is resumed.")
    return task, row


def lock_ready_task(session: Session, task_id: int) -> tuple[HumanTask, ProcessInstance]:
    """The mapped rows of a ready task, locked and checked as `_ready_task` does, for the commands
    that change the inbox row itself through the ORM (转办, 委派, 加签, 催办 in engine/oa_actions.py)."""
    task, row = _ready_task(session, task_id)
    return session.get(HumanTask, task.id), session.get(ProcessInstance, row.id)


def _authorize(session: Session, user, task) -> None:
    if task.assignee_id is not None and task.assignee_id != user.id:
        holder = session.get(User, task.assignee_id)
        raise Forbidden(f"此任务已由{holder.real_name if holder else '他人'}签收，您不能办理。",
                        "This task has been claimed by someone else.")
    if not may_work(session, user, task):
        raise Forbidden(f"您不是“{task.name}”的办理人：此环节需要“{ROLES.get(task.role, task.role)}”角色。",
                        f"You may not work \"{task.name}\": it needs the {task.role} role.")
    check_separation_of_duties(session, task.instance_id, user, task.role)


def claim_task(rt, task_id: int, actor: Actor) -> None:
    """Take a group task so that only the actor sees and works it."""
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor, rt.clock.now())
        task, _row = _ready_task(session, task_id)
        _authorize(session, user, task)
        if task.assignee_id == user.id:
            return
        now = rt.clock.now()
        _CLAIM.execute(session, {"task_id": task.id, "user_id": user.id, "now": now})
        audit.record(session, now=now, action="claim", actor=user, role=task.role, instance_id=task.instance_id,
                     task=task, client_addr=actor.client_addr)


def complete_task(rt, task_id: int, actor: Actor, *, outcome: str, opinion: str = "",
                  form: dict | None = None) -> None:
    """Complete a task with an outcome (通过/退回…), an opinion and the step's form values."""
    opinion = (opinion or "").strip()
    form = dict(form or {})
    refuse_typename(form)
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor, rt.clock.now())
        task, row = _ready_task(session, task_id)
        _authorize(session, user, task)
        # Only now, with the lock held and the actor allowed, pay for rebuilding the workflow.
        loaded = instances.rebuild(rt, session, row)
        info = loaded.definition.task_info[task.bpmn_id]
        chosen = check_outcome(info, outcome, opinion)
        values = {}
        if task.form_key:
            form_def = FORMS[task.form_key]
            values = clean_values(form_def, form)
            if form_def.requires_attachment and outcome not in REASON_REQUIRED and not _has_attachment(session, task.id):
                raise InvalidInput("请先上传批复文件或证明材料，再办理此环节。",
                                   "Upload the decision document first, then complete this step.")
            # Forms change business objects through the ORM (rare path): hand them the mapped row.
            form_def.apply(session, session.get(ProcessInstance, loaded.row.id), values)
        elif form:
            raise InvalidInput("此环节没有需要填写的表单，不能提交表单数据。",
                               "This step has no form; form data cannot be submitted.")
        spiff_task = loaded.workflow.get_task_from_id(_uuid(task.spiff_task_id))
        if spiff_task is None or spiff_task.state != TaskState.READY:
            raise ConflictError("此任务在流程中已不可办理，请刷新。", "This task can no longer be worked; reload.")
        spiff_task.data["outcome"] = outcome
        spiff_task.run()
        loaded.workflow.do_engine_steps()
        now = rt.clock.now()
        instances.finish_task(session, task, now=now, user_id=user.id, outcome=outcome)
        audit.record(session, now=now, action="complete", actor=user, role=task.role, instance_id=task.instance_id,
                     task=task, opinion=opinion, client_addr=actor.client_addr,
                     data={"outcome": outcome, "outcome_label": chosen["label"], **({"form": values} if values else {})})
        for hook in rt.on_complete:  # e.g. binding the sign-off to the content version (issue 8)
            hook(rt, session, row, task, user, outcome)
        instances.save(rt, session, loaded)


def return_task(rt, task_id: int, actor: Actor, *, reason: str) -> None:
    """REV-4: stop the flow and send the item back to its source with the reason."""
    complete_task(rt, task_id, actor, outcome="return", opinion=reason)


def cancel_instance(rt, instance_id: int, actor: Actor, *, reason: str) -> None:
    """Withdraw a running instance (by whoever started it, or an administrator), with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("撤销时必须填写理由。", "A reason is required to cancel.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        loaded = instances.load(rt, session, instance_id)
        row = loaded.row
        # Who may ask comes before what state it is in: an outsider learns nothing about the item.
        is_admin = holds_role_at_or_above(session, user, "admin", row.org_unit_id)
        if row.started_by_id != user.id and not is_admin:
            raise Forbidden("只有发起人或本单位及上级单位的系统管理员可以撤销此事项。",
                            "Only the starter or an administrator of the item's unit or above may cancel.")
        if row.status != "running":
            raise ConflictError("此事项已结束，不能撤销。", "This item has already ended and cannot be cancelled.")
        loaded.workflow.cancel()
        now = rt.clock.now()
        audit.record(session, now=now, action="cancel", actor=user, role="admin" if is_admin else None,
                     instance_id=row.id, opinion=reason, client_addr=actor.client_addr)
        instances.save(rt, session, loaded, status="cancelled", ended_at=now, end_reason=reason)
        hook = rt.on_cancel.get(row.business_key.partition(":")[0])
        if hook:
            hook(session, row)


def _has_attachment(session: Session, task_id: int) -> bool:
    from .attachments import has_attachment

    return has_attachment(session, task_id)


def _uuid(value: str) -> UUID:
    return UUID(value)
