"""Small readers shared by engine tests (no commits, no engine calls)."""

from sqlalchemy import func, select

from db.models import AuditEvent, ContentItem, HumanTask, ProcessInstance
from db.session import reading
from engine import submit_content


def submit(rt, actor, *, kind="portal_column", title="关于开展校园安全检查的通知") -> int:
    return submit_content(rt, actor, title=title, body="各学校：请于本周完成自查。", target_kind=kind,
                          target_name="通知公告" if kind == "portal_column" else "区教育发布")


def ready(rt, instance_id: int) -> dict[str, HumanTask]:
    """The instance's open tasks by BPMN id."""
    with reading(rt.session_factory) as session:
        return {t.bpmn_id: t for t in session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "ready"))}


def task_id(rt, instance_id: int, bpmn_id: str) -> int:
    return ready(rt, instance_id)[bpmn_id].id


def snapshot(rt, instance_id: int) -> dict:
    """Everything a command may change, to prove a refused or failed one changed nothing."""
    with reading(rt.session_factory) as session:
        row = session.get(ProcessInstance, instance_id)
        item = session.get(ContentItem, int(row.business_key.partition(":")[2]))
        return {
            "state": row.state, "version": row.version, "status": row.status,
            "tasks": sorted((t.id, t.bpmn_id, t.state, t.assignee_id, t.outcome) for t in session.scalars(
                select(HumanTask).where(HumanTask.instance_id == instance_id))),
            "events": session.scalar(select(func.count()).select_from(AuditEvent)
                                     .where(AuditEvent.instance_id == instance_id)),
            "item": (item.title, item.body, item.status, item.published_at),
        }


def item_of(rt, instance_id: int) -> ContentItem:
    with reading(rt.session_factory) as session:
        row = session.get(ProcessInstance, instance_id)
        return session.get(ContentItem, int(row.business_key.partition(":")[2]))


def instance(rt, instance_id: int) -> ProcessInstance:
    with reading(rt.session_factory) as session:
        return session.get(ProcessInstance, instance_id)


def attach(rt, instance_id: int, bpmn_id: str, actor, filename: str = "批复.pdf") -> int:
    """Upload a small document to the open step `bpmn_id` (an external decision is recorded with it)."""
    from engine.attachments import add_attachment

    return add_attachment(rt, actor, task_id(rt, instance_id, bpmn_id), filename, b"%PDF-1.4 test document")


def register_asset(rt, kind: str, name: str, *, unit: str = "区教育局", platform: str | None = None,
                   state: str = "online", attributes: dict | None = None) -> int:
    """Test data straight into the registry (the rules about registering are the processes' business)."""
    from datetime import UTC, datetime

    from db.models import Asset, OrgUnit
    from db.session import transaction

    with transaction(rt.session_factory) as session:
        unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.name == unit))
        now = datetime(2026, 3, 2, tzinfo=UTC)
        asset = Asset(kind=kind, name=name, platform=platform, org_unit_id=unit_id, state=state,
                      attributes=attributes or {}, created_at=now, updated_at=now)
        session.add(asset)
        session.flush()
        return asset.id


def grant(rt, username: str, role: str, unit: str = "区教育局") -> None:
    """Give a demo user one more role (test data; granting roles is the admin console's business)."""
    from db.models import OrgUnit, RoleGrant, User
    from db.session import transaction

    with transaction(rt.session_factory) as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.name == unit))
        session.add(RoleGrant(user_id=user_id, role=role, org_unit_id=unit_id))


def events(rt, instance_id: int, action: str) -> list[AuditEvent]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id,
                                                             AuditEvent.action == action).order_by(AuditEvent.id)))


def task_row(rt, task_id_: int) -> HumanTask:
    with reading(rt.session_factory) as session:
        return session.get(HumanTask, task_id_)
