"""会签 / 或签: one user task worked by every member of a lane (all of / any of the group).

A diagram marks a user task with `multiInstanceLoopCharacteristics` (parallel only):

    <bpmn:multiInstanceLoopCharacteristics>
      <bpmn:loopCardinality>lane_member_count('district_office')</bpmn:loopCardinality>
      <bpmn:completionCondition>outcome != 'pass'</bpmn:completionCondition>   <!-- 会签: one veto ends it -->
    </bpmn:multiInstanceLoopCharacteristics>

`completionCondition` `True` makes it 或签 (the first member to act decides, the others' tasks
are withdrawn). Members are the holders of the lane's role in the nearest unit at or above the
requesting unit — the same people a group task would go to — minus anyone REV-3 excludes
(they acted in another lane of this item), each with a `human_task` row of their own.
With nobody eligible there is one task for the group, as for any lane without a holder.
The decision the next gateway reads is `outcome` of the last member who acted: with the veto
condition that is the rejection if there was one, otherwise everyone passed.
"""

from __future__ import annotations

import ast

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuditEvent, ProcessInstance, RoleGrant, User

from . import audit
from .assignment import resolve_scope
from .duties import ACTING

COUNT_FUNCTION = "lane_member_count"
FUNCTION_NAMES = frozenset({COUNT_FUNCTION})
# Names a completion condition may read: the decision of the member who just acted.
CONDITION_NAMES = frozenset({"outcome"})
MODES = {"all": ("会签", "all of"), "any": ("或签", "any of")}


def lane_members(session: Session, role: str, row: ProcessInstance) -> list[int]:
    """User ids of the lane's holders for this item, in a stable order, REV-3 exclusions removed."""
    scope = resolve_scope(session, role, row.org_unit_id)
    if scope is None:
        return []
    holders = list(session.scalars(
        select(User.id).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == role, RoleGrant.org_unit_id == scope, User.active.is_(True)).order_by(User.id)))
    acted = _roles_acted_by_user(session, row.id)
    return [user_id for user_id in holders if not (acted.get(user_id, set()) - {role})]


def _roles_acted_by_user(session: Session, instance_id: int) -> dict[int, set[str]]:
    """Who acted in which lane of this item, including this command's events not yet written."""
    acted: dict[int, set[str]] = {}
    rows = session.execute(select(AuditEvent.actor_id, AuditEvent.on_behalf_of_id, AuditEvent.role).where(
        AuditEvent.instance_id == instance_id, AuditEvent.action.in_(ACTING))).all()
    staged = [(e["actor_id"], e.get("on_behalf_of_id"), e["role"]) for e in session.info.get(audit.STAGED, [])
              if e["instance_id"] == instance_id and e["action"] in ACTING]
    for actor_id, behalf_id, role in [*rows, *staged]:
        for user_id in (actor_id, behalf_id):
            if user_id is not None and role:
                acted.setdefault(user_id, set()).add(role)
    return acted


def lane_functions(session: Session, row: ProcessInstance) -> dict:
    """The expression vocabulary a multi-instance cardinality uses, bound to one instance."""

    def lane_member_count(role):
        # At least one: with nobody eligible the single task goes to the group (and is flagged).
        return max(1, len(lane_members(session, str(role), row)))

    return {COUNT_FUNCTION: lane_member_count}


def member_for(session: Session, row: ProcessInstance, role: str, spiff_task, cache: dict) -> int | None:
    """The member whose task this multi-instance child is (its index into lane_members)."""
    if role not in cache:
        cache[role] = lane_members(session, role, row)
    index = spiff_task.internal_data.get("key_or_index")
    members = cache[role]
    return members[index] if isinstance(index, int) and 0 <= index < len(members) else None


def check_multi_instance(element, characteristics, role: str, reject) -> str:
    """Deploy checks for a user task's multiInstanceLoopCharacteristics; returns "all" or "any".

    `reject(zh, en)` builds the DeploymentRejected naming the element.
    """
    ns = {"bpmn": characteristics.nsmap.get("bpmn") or "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    if characteristics.get("isSequential", "false").lower() == "true":
        raise reject("会签/或签只支持并行多实例（isSequential 不能为 true）。",
                     "会签/或签 supports parallel multi-instance only (isSequential must not be true).")
    for tag in ("loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem"):
        if characteristics.find(f"bpmn:{tag}", ns) is not None:
            raise reject(f"会签/或签的成员由泳道角色确定，不能使用 {tag}。",
                         f"The members of 会签/或签 come from the lane's role; {tag} is not allowed.")
    cardinality = characteristics.find("bpmn:loopCardinality", ns)
    expected = f"{COUNT_FUNCTION}('{role}')"
    if cardinality is None or not _is_count_call(cardinality.text or "", role):
        raise reject(f"会签/或签的人数只能写作 {expected}（本泳道角色的成员数）。",
                     f"The cardinality must be {expected} (the members of this lane's role).")
    condition = characteristics.find("bpmn:completionCondition", ns)
    text = (condition.text or "").strip() if condition is not None else ""
    if not text:
        raise reject("会签/或签必须写明完成条件：True 为或签（一人办理即完成），outcome != 'pass' 为会签（全部同意，一票否决）。",
                     "A completion condition is required: True (any of) or outcome != 'pass' (all of, one veto ends it).")
    names = {node.id for node in ast.walk(ast.parse(text, mode="eval")) if isinstance(node, ast.Name)}
    if names - CONDITION_NAMES:
        raise reject(f"会签/或签的完成条件只能读取 outcome，不能读取 {'、'.join(sorted(names - CONDITION_NAMES))}。",
                     f"A completion condition may read only outcome, not {', '.join(sorted(names - CONDITION_NAMES))}.")
    return "any" if text == "True" else "all"


def _is_count_call(text: str, role: str) -> bool:
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return False
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == COUNT_FUNCTION
            and not node.keywords and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == role)
