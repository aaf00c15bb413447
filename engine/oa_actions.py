"""The actions a Chinese OA gives approvers besides 通过/退回, each one transaction, audited with
its reason: release (退回组内), 转办, 委派, 加签 (before / after me), 撤回, 抄送 and 催办.

| action | who | what changes |
|---|---|---|
| release | the assignee of a group task | back to the group's unclaimed tasks |
| 转办 transfer | whoever may work it | assigned to another holder of the same role in the same unit |
| 委派 delegate | whoever may work it | a colleague works it and gives it back; the owner decides |
| 前加签 sign before | whoever may work it | a signer decides first, then it comes back to the owner |
| 后加签 sign after | whoever may work it | the owner approves now; the added signer decides the step |
| 撤回 withdraw | who completed the previous step | that step reopens for them while the next has not acted |
| 抄送 copy | the starter or whoever may work a step | a reader of the item's unit or above may see it |
| 催办 urge | the starter, or a unit head / district office above | counted on the task; its holders are told |

REV-3 holds throughout: nobody is handed a step of an item they acted on in another lane, and
a 加签 signer's decision counts as an act in the lane (engine/duties.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from db.models import (
    ROLES,
    AuditEvent,
    HumanTask,
    OrgUnit,
    ProcessInstance,
    ServiceJob,
    SignOff,
    TaskCopy,
    User,
)
from db.session import transaction

from . import audit, instances
from .assignment import holds_role, holds_role_at_or_above, may_work
from .commands import Actor, load_actor, lock_ready_task
from .duties import _check_one
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound, SeparationOfDutiesViolation
from .forms import REASON_REQUIRED, check_outcome
from .notifications import holders, notify
from .rewind import reopen

MAX_REASON = 1000
URGE_INTERVAL = timedelta(hours=1)
SUPERVISOR_ROLES = ("unit_head", "district_office")
# What may happen after a step was completed without blocking its withdrawal (撤回).
HARMLESS_AFTER = {"claim", "release", "urge", "cc", "unassigned"}
MAX_CANDIDATES = 300


def _reason(text: str, what_zh: str, what_en: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput(f"{what_zh}时必须填写理由。", f"A reason is required to {what_en}.")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"理由不能超过 {MAX_REASON} 个字。", f"The reason may not exceed {MAX_REASON} characters.")
    return text


def _task_info(rt, session: Session, task: HumanTask) -> dict:
    row = session.get(ProcessInstance, task.instance_id)
    return rt.definitions.get(session, row.definition_id).task_info[task.bpmn_id]


def _open_for_worker(rt, session: Session, actor: Actor, task_id: int):
    """(user, task, instance) for an action by someone who may work the ready task."""
    user = load_actor(session, actor, rt.clock.now())
    task, row = lock_ready_task(session, task_id)
    if not may_work(session, user, task):
        raise Forbidden(f"您不是“{task.name}”的办理人，不能进行此操作。",
                        f"You may not work \"{task.name}\", so you cannot do this.")
    if task.delegate_id is not None:
        who = session.get(User, task.delegate_id).real_name
        raise ConflictError(f"此任务已委派给{who}，待其交回后再办理。",
                            f"This task is with {who} (delegated) until they give it back.")
    return user, task, row


def _target(session: Session, user_id: int | None) -> User:
    target = session.get(User, user_id) if user_id else None
    if target is None or not target.active:
        raise InvalidInput("请选择一位在职的人员。", "Choose an active person.")
    return target


def _check_rev3(session: Session, instance_id: int, target: User, role: str) -> None:
    try:
        _check_one(session, instance_id, target, role)
    except SeparationOfDutiesViolation:
        raise InvalidInput(f"{target.real_name}已在本事项中办理过其他环节（编辑、审核、签发权限相互分离），不能接手此环节。",
                           f"{target.real_name} already acted on this item in another lane (REV-3).") from None


def units_at_or_above(session: Session, unit_id: int) -> list[int]:
    """The unit and its ancestors, nearest first."""
    chain, current = [], session.get(OrgUnit, unit_id)
    while current is not None and len(chain) < 20:
        chain.append(current.id)
        current = session.get(OrgUnit, current.parent_id) if current.parent_id else None
    return chain


def _in_scope(session: Session, target: User, task: HumanTask) -> bool:
    """A colleague for 委派/加签: of the task's unit or a unit above it, or of the requesting unit."""
    return target.org_unit_id in {*units_at_or_above(session, task.org_unit_id), task.request_unit_id}


def _now(rt):
    return rt.clock.now()


def release_task(rt, task_id: int, actor: Actor, *, reason: str = "") -> None:
    """Give a claimed group task back to the group (退回组内): others may claim it again."""
    with transaction(rt.session_factory) as session:
        user, task, _row = _open_for_worker(rt, session, actor, task_id)
        info = _task_info(rt, session, task)
        if task.assignee_id != user.id:
            raise InvalidInput("此任务尚未签收，无需退回组内。", "The task is not claimed.")
        if info.get("assignee") == "starter" or info.get("multi") or task.added_by_id or \
                not holds_role(session, user, task.role, task.org_unit_id):
            raise InvalidInput("此任务是专门交给您办理的，不能退回组内；如需他人办理请使用转办。",
                               "This task was given to you personally; use 转办 to hand it on.")
        task.assignee_id, task.claimed_at = None, None
        audit.record(session, now=_now(rt), action="release", actor=user, role=task.role, instance_id=task.instance_id,
                     task=task, opinion=(reason or "").strip() or None, client_addr=actor.client_addr)


def transfer_task(rt, task_id: int, actor: Actor, *, to_user_id: int, reason: str) -> None:
    """转办: hand the task to another holder of the same role in the same unit, with a reason."""
    reason = _reason(reason, "转办", "transfer")
    with transaction(rt.session_factory) as session:
        user, task, _row = _open_for_worker(rt, session, actor, task_id)
        target = _target(session, to_user_id)
        if target.id == user.id:
            raise InvalidInput("不能转办给自己。", "You cannot transfer a task to yourself.")
        if not holds_role(session, target, task.role, task.org_unit_id):
            unit = session.get(OrgUnit, task.org_unit_id).name
            raise InvalidInput(f"{target.real_name}在{unit}没有“{ROLES.get(task.role, task.role)}”角色，只能转办给同一角色的人员。",
                               f"{target.real_name} does not hold the {task.role} role in {unit}.")
        _check_rev3(session, task.instance_id, target, task.role)
        if session.scalar(select(exists().where(HumanTask.instance_id == task.instance_id, HumanTask.bpmn_id == task.bpmn_id,
                                                HumanTask.state == "ready", HumanTask.assignee_id == target.id))):
            raise InvalidInput(f"{target.real_name}已有本环节的待办，不能再转给他。",
                               f"{target.real_name} already has this step to do.")
        now = _now(rt)
        task.assignee_id, task.claimed_at, task.added_by_id = target.id, now, None
        audit.record(session, now=now, action="transfer", actor=user, role=task.role, instance_id=task.instance_id,
                     task=task, opinion=reason, client_addr=actor.client_addr,
                     data={"to": target.id, "to_name": target.real_name})
        notify(rt, session, [target.id], kind="transfer", title=f"转办：{task.title or task.name}",
               body=f"{user.real_name}将“{task.name}”转给您办理。理由：{reason}", instance_id=task.instance_id, task_id=task.id)


def delegate_task(rt, task_id: int, actor: Actor, *, to_user_id: int, reason: str, kind: str = "delegate") -> None:
    """委派 (kind "delegate": a colleague works it and gives it back; the owner decides) or
    前加签 (kind "sign_before": an added signer decides first, then it comes back to the owner)."""
    if kind not in ("delegate", "sign_before"):
        raise InvalidInput("未知的操作。", "Unknown action.")
    zh = "委派" if kind == "delegate" else "加签"
    reason = _reason(reason, zh, "delegate" if kind == "delegate" else "add a signer")
    with transaction(rt.session_factory) as session:
        user, task, _row = _open_for_worker(rt, session, actor, task_id)
        target = _target(session, to_user_id)
        if target.id == user.id:
            raise InvalidInput(f"不能{zh}给自己。", "Choose someone else.")
        if not _in_scope(session, target, task):
            raise InvalidInput(f"{target.real_name}不是本事项所属单位或其上级单位的人员，不能{zh}。",
                               f"{target.real_name} is not in the item's unit or a unit above it.")
        _check_rev3(session, task.instance_id, target, task.role)
        now = _now(rt)
        if task.assignee_id is None:
            task.claimed_at = now
        task.assignee_id, task.delegate_id, task.delegate_kind = user.id, target.id, kind
        action = "delegate" if kind == "delegate" else "add_signer_before"
        audit.record(session, now=now, action=action, actor=user, role=task.role, instance_id=task.instance_id,
                     task=task, opinion=reason, client_addr=actor.client_addr,
                     data={"to": target.id, "to_name": target.real_name})
        notify(rt, session, [target.id], kind="delegate", title=f"{zh}：{task.title or task.name}",
               body=f"{user.real_name}请您{'协助办理' if kind == 'delegate' else '先行会签'}“{task.name}”，办理后交回。理由：{reason}",
               instance_id=task.instance_id, task_id=task.id)


def resolve_delegation(rt, task_id: int, actor: Actor, *, opinion: str, outcome: str | None = None) -> None:
    """The delegate gives the task back: 委派 with their opinion, 前加签 with their decision."""
    with transaction(rt.session_factory) as session:
        now = _now(rt)
        user = load_actor(session, actor, now)
        task, row = lock_ready_task(session, task_id)
        if task.delegate_id != user.id:
            raise Forbidden("此任务没有委派给您，不能交回。", "This task was not delegated to you.")
        owner = session.get(User, task.assignee_id)
        opinion = (opinion or "").strip()
        if task.delegate_kind == "sign_before":
            info = _task_info(rt, session, task)
            chosen = check_outcome(info, outcome or "", opinion)
            from .duties import check_separation_of_duties

            check_separation_of_duties(session, task.instance_id, user, task.role)
            audit.record(session, now=now, action="countersign", actor=user, role=task.role, instance_id=task.instance_id,
                         task=task, opinion=opinion, client_addr=actor.client_addr,
                         data={"outcome": outcome, "outcome_label": chosen["label"], "kind": "before"})
            from .review_integrity import record_countersign

            record_countersign(session, row, task, user, outcome, now)
        else:
            if not opinion:
                raise InvalidInput("交回时必须填写办理意见。", "Give your opinion when you hand it back.")
            audit.record(session, now=now, action="delegate_resolve", actor=user, role=task.role,
                         instance_id=task.instance_id, task=task, opinion=opinion, client_addr=actor.client_addr)
        task.delegate_id, task.delegate_kind = None, None
        notify(rt, session, [owner.id], kind="delegate", title=f"已交回：{task.title or task.name}",
               body=f"{user.real_name}已办理您委派的“{task.name}”并交回，请您决定。意见：{opinion}",
               instance_id=task.instance_id, task_id=task.id)


def add_signer_after(rt, task_id: int, actor: Actor, *, to_user_id: int, opinion: str) -> None:
    """后加签: the owner approves now, and the added signer decides this step after them."""
    opinion = _reason(opinion, "加签", "add a signer")
    with transaction(rt.session_factory) as session:
        user, task, row = _open_for_worker(rt, session, actor, task_id)
        from .duties import check_separation_of_duties

        check_separation_of_duties(session, task.instance_id, user, task.role)
        target = _target(session, to_user_id)
        if target.id == user.id:
            raise InvalidInput("不能加签给自己。", "Choose someone else.")
        if not _in_scope(session, target, task):
            raise InvalidInput(f"{target.real_name}不是本事项所属单位或其上级单位的人员，不能加签。",
                               f"{target.real_name} is not in the item's unit or a unit above it.")
        _check_rev3(session, task.instance_id, target, task.role)
        info = _task_info(rt, session, task)
        approve = next((o for o in info["outcomes"] if o["key"] not in REASON_REQUIRED), None)
        if approve is None:
            raise InvalidInput("此环节没有“同意”类的办理结果，不能后加签。", "This step has no approving outcome.")
        now = _now(rt)
        audit.record(session, now=now, action="countersign", actor=user, role=task.role, instance_id=task.instance_id,
                     task=task, opinion=opinion, client_addr=actor.client_addr,
                     data={"outcome": approve["key"], "outcome_label": approve["label"], "kind": "after",
                           "to": target.id, "to_name": target.real_name})
        from .review_integrity import record_countersign

        record_countersign(session, row, task, user, approve["key"], now)
        task.assignee_id, task.claimed_at, task.added_by_id = target.id, now, user.id
        notify(rt, session, [target.id], kind="delegate", title=f"加签：{task.title or task.name}",
               body=f"{user.real_name}已同意“{task.name}”并请您加签决定。意见：{opinion}",
               instance_id=task.instance_id, task_id=task.id)


def withdraw_task(rt, task_id: int, actor: Actor, *, reason: str) -> int:
    """撤回: who completed a step takes it back while the next step has not acted; returns the
    reopened task's id (assigned to them)."""
    reason = _reason(reason, "撤回", "withdraw")
    with transaction(rt.session_factory) as session:
        now = _now(rt)
        user = load_actor(session, actor, now)
        done = session.get(HumanTask, task_id)
        if done is None:
            raise NotFound(f"任务 {task_id} 不存在。", f"Task {task_id} does not exist.")
        loaded = instances.load(rt, session, done.instance_id)
        row = loaded.row
        session.refresh(done)
        if done.state != "completed":
            raise InvalidInput("此环节尚未办理，无需撤回。", "This step has not been completed.")
        if done.completed_by_id != user.id:
            raise Forbidden("只有办理此环节的人可以撤回。", "Only who completed this step may withdraw it.")
        if row.status != "running":
            raise ConflictError("事项已经办结，不能撤回。", "The item has ended and cannot be withdrawn.")
        if loaded.definition.task_info[done.bpmn_id].get("multi"):
            raise InvalidInput("会签/或签环节不能撤回。", "A 会签/或签 step cannot be withdrawn.")
        later = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == row.id, HumanTask.state == "completed", HumanTask.id != done.id,
            HumanTask.completed_at >= done.completed_at).limit(1))
        completion = session.scalar(select(AuditEvent.id).where(
            AuditEvent.task_id == done.id, AuditEvent.action == "complete").order_by(AuditEvent.id.desc()).limit(1))
        acted_since = session.scalar(select(AuditEvent.action).where(
            AuditEvent.instance_id == row.id, AuditEvent.id > (completion or 0),
            AuditEvent.action.not_in(HARMLESS_AFTER)).limit(1))
        jobs_since = session.scalar(select(ServiceJob.id).where(ServiceJob.instance_id == row.id,
                                                                ServiceJob.created_at >= done.completed_at).limit(1))
        open_now = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == row.id,
                                                             HumanTask.state == "ready").limit(1))
        if later is not None or acted_since is not None or jobs_since is not None or open_now is None:
            raise ConflictError("下一环节已经办理（或流程已继续），不能撤回。",
                                "The next step has already acted (or the process moved on); it cannot be withdrawn.")
        reopened = reopen(rt, session, loaded, done.spiff_task_id)
        reopened.assignee_id, reopened.claimed_at = user.id, now
        for sign_off in session.scalars(select(SignOff).where(SignOff.task_id == done.id, SignOff.voided_at.is_(None))):
            sign_off.voided_at, sign_off.void_reason = now, f"已撤回：{reason}"
        audit.record(session, now=now, action="withdraw", actor=user, role=done.role, instance_id=row.id, task=done,
                     opinion=reason, client_addr=actor.client_addr, data={"reopened": reopened.id})
        session.flush()
        return reopened.id


def copy_item(rt, instance_id: int, actor: Actor, *, to_user_ids: list[int], note: str,
              task_id: int | None = None) -> int:
    """抄送: copy the item to readers of its unit or a unit above; returns how many were copied."""
    note = _reason(note, "抄送", "copy")
    with transaction(rt.session_factory) as session:
        now = _now(rt)
        user = load_actor(session, actor, now)
        row = session.get(ProcessInstance, instance_id)
        if row is None:
            raise NotFound(f"事项 {instance_id} 不存在。", f"Item {instance_id} does not exist.")
        open_tasks = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id,
                                                                 HumanTask.state == "ready")))
        works = any(may_work(session, user, t) or t.delegate_id == user.id for t in open_tasks)
        if row.started_by_id != user.id and not works:
            raise Forbidden("只有发起人或当前环节的办理人可以抄送。", "Only the starter or a current worker may copy the item.")
        if not to_user_ids:
            raise InvalidInput("请选择抄送对象。", "Choose whom to copy.")
        scope = set(units_at_or_above(session, row.org_unit_id))
        targets = []
        for user_id in dict.fromkeys(to_user_ids):
            target = _target(session, user_id)
            if target.org_unit_id not in scope:
                raise InvalidInput(f"{target.real_name}不是本事项所属单位或其上级单位的人员，不能抄送。",
                                   f"{target.real_name} is not in the item's unit or a unit above it.")
            if target.id != user.id:
                targets.append(target)
        if not targets:
            raise InvalidInput("不能抄送给自己。", "You cannot copy the item to yourself.")
        task = session.get(HumanTask, task_id) if task_id else None
        if task is not None and task.instance_id != row.id:
            raise NotFound(f"任务 {task_id} 不存在。", f"Task {task_id} does not exist.")
        for target in targets:
            session.add(TaskCopy(instance_id=row.id, task_id=task.id if task else None, from_user_id=user.id,
                                 to_user_id=target.id, note=note, created_at=now))
        audit.record(session, now=now, action="cc", actor=user, role=task.role if task else None, instance_id=row.id,
                     task=task, opinion=note, client_addr=actor.client_addr,
                     data={"to": [t.id for t in targets], "to_names": [t.real_name for t in targets]})
        notify(rt, session, [t.id for t in targets], kind="cc", title=f"抄送：{row.title}",
               body=f"{user.real_name}将“{row.title}”抄送给您阅知。{note}", instance_id=row.id)
        return len(targets)


def urge_task(rt, task_id: int, actor: Actor, *, message: str) -> int:
    """催办: the starter, or a unit head / district office above the item, urges an open step.

    Counted on the task (shown in the lists); its holders are told. Returns the new count."""
    message = _reason(message, "催办", "urge")
    with transaction(rt.session_factory) as session:
        now = _now(rt)
        user = load_actor(session, actor, now)
        task, row = lock_ready_task(session, task_id)
        if may_work(session, user, task):
            raise InvalidInput("您就是此环节的办理人，无需催办。", "You are this step's holder yourself.")
        supervisor = next((r for r in SUPERVISOR_ROLES if holds_role_at_or_above(session, user, r, row.org_unit_id)), None)
        if row.started_by_id != user.id and supervisor is None:
            raise Forbidden("只有发起人、本单位负责人或上级政府办公室可以催办。",
                            "Only the starter, the unit head or the supervising office may urge.")
        recent = session.scalar(select(AuditEvent.occurred_at).where(
            AuditEvent.task_id == task.id, AuditEvent.action == "urge", AuditEvent.actor_id == user.id)
            .order_by(AuditEvent.id.desc()).limit(1))
        if recent is not None and now - recent < URGE_INTERVAL:
            raise InvalidInput("您在 1 小时内已催办过此环节，请稍后再催。", "You urged this step less than an hour ago.")
        task.urge_count = (task.urge_count or 0) + 1
        task.last_urged_at = now
        audit.record(session, now=now, action="urge", actor=user, role=supervisor, instance_id=row.id, task=task,
                     opinion=message, client_addr=actor.client_addr, data={"count": task.urge_count})
        recipients = [task.assignee_id] if task.assignee_id else holders(session, task.role, task.org_unit_id)
        if task.delegate_id:
            recipients.append(task.delegate_id)
        notify(rt, session, recipients, kind="urge", title=f"催办：{row.title}",
               body=f"{user.real_name}催办“{task.name}”（第 {task.urge_count} 次）：{message}",
               instance_id=row.id, task_id=task.id)
        return task.urge_count


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    unit: str


def _people(session: Session, query) -> list[Person]:
    return [Person(u.id, u.real_name, unit) for u, unit in session.execute(
        query.join(OrgUnit, OrgUnit.id == User.org_unit_id).add_columns(OrgUnit.name)
        .order_by(User.org_unit_id, User.id).limit(MAX_CANDIDATES))]


def transfer_candidates(session: Session, task: HumanTask, user: User) -> list[Person]:
    """Who may be handed the task by 转办: the other holders of its role in its unit (REV-3 checked)."""
    from db.models import RoleGrant

    people = _people(session, select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
        RoleGrant.role == task.role, RoleGrant.org_unit_id == task.org_unit_id, User.active.is_(True), User.id != user.id))
    return [p for p in people if _rev3_ok(session, task, p.id)]


def colleague_candidates(session: Session, task: HumanTask, user: User) -> list[Person]:
    """Who may be delegated to or added as a signer: people of the task's unit, the units above it
    and the requesting unit (REV-3 checked)."""
    units = {*units_at_or_above(session, task.org_unit_id), task.request_unit_id}
    people = _people(session, select(User).where(User.org_unit_id.in_(units), User.active.is_(True), User.id != user.id))
    return [p for p in people if _rev3_ok(session, task, p.id)]


def copy_candidates(session: Session, row: ProcessInstance, user: User) -> list[Person]:
    """Who may receive a copy: people of the item's unit and the units above it."""
    units = units_at_or_above(session, row.org_unit_id)
    return _people(session, select(User).where(User.org_unit_id.in_(units), User.active.is_(True), User.id != user.id))


def _rev3_ok(session: Session, task: HumanTask, user_id: int) -> bool:
    try:
        _check_one(session, task.instance_id, session.get(User, user_id), task.role)
    except SeparationOfDutiesViolation:
        return False
    return True
