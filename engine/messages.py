"""网民留言办理: accepting a citizen's message and forwarding it to the responsible unit (MSG-1…MSG-3).

The diagram (processes/citizen_message.bpmn, key `citizen_message`) carries the deadlines, the
urging, the initial review and the report; this module owns the message itself, accepted,
forwarded and (for an error report) put in the named person's hands in one transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import MESSAGE_TYPES, Asset, CitizenMessage, HumanTask, OrgUnit, ProcessInstance, User
from db.session import transaction

from . import audit
from .assignment import holds_role_at_or_above
from .calendar import calendar_for
from .clock import to_shanghai
from .commands import Actor, load_actor, start_in_session
from .exceptions import Forbidden, InvalidInput, NotFound
from .forms import Field, Form, clean_values, register_form

PROCESS_KEY = "citizen_message"
# MSG-1: the policy value holding each type's working days.
TYPE_DAYS = {"consultation": "message_consultation_working_days", "suggestion": "message_other_working_days",
             "complaint": "message_other_working_days", "other": "message_other_working_days",
             "simple": "message_simple_working_days", "error_report": "error_report_reply_working_days"}
MESSAGE_FIELDS = [
    Field("subject", "留言标题", "Subject", 200),
    Field("body", "留言内容", "Message", 5000, multiline=True),
    Field("citizen_name", "留言人", "From", 50),
    Field("citizen_contact", "联系方式", "Contact", 100),
]


def message_of(session: Session, instance: ProcessInstance) -> CitizenMessage | None:
    kind, _, ident = (instance.business_key or "").partition(":")
    return session.get(CitizenMessage, int(ident)) if kind == "message" and ident.isdigit() else None


def _apply_reply(session: Session, instance: ProcessInstance, values: dict) -> None:
    message = message_of(session, instance)
    message.reply, message.reply_public, message.status = values["reply"], values["reply_public"], "replied"


def _prefill_reply(session: Session, instance: ProcessInstance) -> dict:
    message = message_of(session, instance)
    return {"reply": message.reply or "", "reply_public": message.reply_public or ""}


# MSG-2: the unit's answer (答复口径) and what may be made public (公开意见).
register_form(Form("message_reply", [
    Field("reply", "答复口径", "Reply", 5000, multiline=True),
    Field("reply_public", "公开意见（是否公开及理由）", "Publication (whether, and why)", 200),
], apply=_apply_reply, prefill=_prefill_reply))


def accept_message(rt, actor: Actor, *, message_type: str, unit_id: int, asset_id: int | None = None,
                   **fields) -> int:
    """MSG-2: the operator accepts (受理) a message and forwards (转办) it to the responsible unit,
    which is notified; MSG-1: its deadline is the type's working days from the profile;
    MSG-3: an error report goes to the unit's named person of the day. Returns the instance id."""
    from .notifications import holders, nearest_holders, notify

    if message_type not in MESSAGE_TYPES:
        raise InvalidInput(f"请选择留言类型：{'、'.join(MESSAGE_TYPES.values())}。", "Choose the message type.")
    values = clean_values(Form("citizen_message", MESSAGE_FIELDS, apply=lambda *a: None), fields)
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        unit = session.get(OrgUnit, unit_id) if isinstance(unit_id, int) else None
        if unit is None:
            raise InvalidInput("请选择承办单位。", "Choose the responsible unit.")
        if not holds_role_at_or_above(session, user, "egov_center", unit.id):
            raise Forbidden("网民留言由门户网站运维单位受理，并只能转办给其下属单位（MSG-2）。",
                            "The portal operator accepts messages for the units below it (MSG-2).")
        asset = None
        if asset_id:
            asset = session.get(Asset, asset_id)
            if asset is None or not holds_role_at_or_above(session, user, "egov_center", asset.org_unit_id):
                raise InvalidInput("请选择留言所在的网站或账号。", "Choose the site or account the message came in on.")
        now = rt.clock.now()
        days = rt.policy.values[TYPE_DAYS[message_type]]
        due = calendar_for(session, rt.roll_calendar_days).add_working_days(now, days)  # fails loudly in an unentered year
        message = CitizenMessage(message_type=message_type, org_unit_id=unit.id, asset_id=asset.id if asset else None,
                                 accepted_by_id=user.id, received_at=now, due_at=due, status="handling", **values)
        session.add(message)
        session.flush()
        row = start_in_session(rt, session, PROCESS_KEY, actor,
                               title=f"网民留言（{MESSAGE_TYPES[message_type]}）：{values['subject']}",
                               business_key=f"message:{message.id}", for_unit_id=unit.id,
                               opinion=f"受理并转办{unit.name}，{days} 个工作日内办结（{to_shanghai(due):%Y-%m-%d}）",
                               data={"message_id": message.id, "message_type": message_type},
                               audit_data={"message_type": message_type})  # SUP-1 counts messages by type
        task = session.scalar(select(HumanTask).where(HumanTask.instance_id == row.id, HumanTask.state == "ready"))
        audit.record(session, now=now, action="forward", actor=user, role="egov_center", instance_id=row.id,
                     opinion=f"转办{unit.name}", data={"unit_id": unit.id, "unit": unit.name})
        if message_type == "error_report":
            _hand_to_named_person(rt, session, row, task, message, unit)
        recipients = [task.assignee_id] if task.assignee_id else holders(session, task.role, task.org_unit_id)
        notify(rt, session, recipients, kind="forwarded", title=f"转办网民留言：{values['subject']}",
               body=f"{MESSAGE_TYPES[message_type]}类留言已转办贵单位，请于 {to_shanghai(due):%Y-%m-%d %H:%M} 前答复。",
               instance_id=row.id, task_id=task.id)
        if message_type == "error_report" and task.assignee_id is None:
            notify(rt, session, nearest_holders(session, "unit_head", unit.id), kind="forwarded",
                   title=f"未指定处理网民找错的专人：{unit.name}",
                   body="今日值班表无人，也未登记联络员；网民找错留言已转给本单位全体编辑，请指定专人（MSG-3）。",
                   instance_id=row.id, task_id=task.id)
        return row.id


def _hand_to_named_person(rt, session: Session, row: ProcessInstance, task: HumanTask, message: CitizenMessage,
                          unit: OrgUnit) -> None:
    """MSG-3: error reports are handled every day by a named person: today's roster, else the liaison."""
    from .duty import duty_person

    person, source = duty_person(session, unit.id, to_shanghai(rt.clock.now()).date())
    now = rt.clock.now()
    if person is None:
        audit.record(session, now=now, action="unassigned", instance_id=row.id, role=task.role, org_unit_id=unit.id,
                     opinion="未指定处理网民找错的专人（MSG-3）", data={"task": task.bpmn_id})
        return
    task.assignee_id, task.claimed_at = person.id, now
    message.handler_id = person.id
    audit.record(session, now=now, action="assign", instance_id=row.id, role=task.role, task=task,
                 org_unit_id=unit.id, opinion=f"按{'值班表' if source == 'roster' else '登记的联络员'}交{person.real_name}处理",
                 data={"assignee": person.real_name, "source": source})


def on_message_cancelled(session: Session, instance: ProcessInstance) -> None:
    """A withdrawn message instance (wrongly accepted, a duplicate) leaves the message withdrawn too."""
    message = message_of(session, instance)
    if message is not None and message.status != "reported":
        message.status = "cancelled"


def visible_messages(session: Session, user: User, limit: int = 200) -> list[CitizenMessage]:
    """The operator's accepted messages and those forwarded to the user's own unit, newest first."""
    units = {user.org_unit_id} | {u.id for u in session.scalars(select(OrgUnit)) if any(
        holds_role_at_or_above(session, user, role, u.id) for role in ("egov_center", "district_office"))}
    return list(session.scalars(select(CitizenMessage).where(CitizenMessage.org_unit_id.in_(units))
                                .order_by(CitizenMessage.id.desc()).limit(limit)))


def units_for_operator(session: Session, user: User) -> list[OrgUnit]:
    """The units an operator may forward a message to (at or below a unit where they hold egov_center)."""
    return [u for u in session.scalars(select(OrgUnit).order_by(OrgUnit.id))
            if holds_role_at_or_above(session, user, "egov_center", u.id)]


def instance_of_message(session: Session, message_id: int) -> ProcessInstance | None:
    return session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == f"message:{message_id}"))


# --- MSG-3: comment and message functions of new-media accounts -------------------------------------

INTERACTION_FUNCTIONS = {"comments": "留言评论", "messages": "留言", "private_messages": "私信"}


def record_interaction(rt, actor: Actor, asset_id: int, *, open_functions, reason: str = "") -> None:
    """MSG-3: the host unit records, per account, which interaction functions are open; they stay
    open 原则上 (003 三(二)), so closing one needs a stated reason. Kept on the asset and audited."""
    open_set = set(open_functions or ())
    unknown = open_set - set(INTERACTION_FUNCTIONS)
    if unknown:
        raise InvalidInput("未知的互动功能。", "Unknown interaction function.")
    reason = (reason or "").strip()
    closed = [label for key, label in INTERACTION_FUNCTIONS.items() if key not in open_set]
    if closed and not reason:
        raise InvalidInput(f"政务新媒体原则上不得关闭留言、评论和私信功能；关闭{'、'.join(closed)}须说明理由（MSG-3）。",
                           "Comment, message and private-message functions stay open unless a reason is given (MSG-3).")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = session.scalar(select(Asset).where(Asset.id == asset_id).with_for_update())
        if asset is None or asset.kind != "new_media":
            raise NotFound("只有政务新媒体账号登记互动功能。", "Only new-media accounts record interaction functions.")
        if asset.org_unit_id != user.org_unit_id:
            raise Forbidden("互动功能由账号主办单位登记。", "The host unit records its account's functions.")
        now = rt.clock.now()
        state = {key: key in open_set for key in INTERACTION_FUNCTIONS}
        asset.attributes = {**(asset.attributes or {}), "interaction": {
            **state, "reason": reason[:500], "recorded_by": user.real_name,
            "recorded_at": to_shanghai(now).isoformat(timespec="minutes")}}
        asset.updated_at = now
        audit.record(session, now=now, action="interaction_recorded", actor=user, org_unit_id=asset.org_unit_id,
                     opinion=reason or "留言、评论、私信功能均已开通",
                     data={"asset_id": asset.id, **state})
