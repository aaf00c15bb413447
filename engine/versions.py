"""Process versions as the console sees them: drafts, deploying a draft, comparing two versions.

A draft is what an administrator is editing (one per process key); it is stored only after the
hardened XML parse, so it is always well-formed BPMN without a DOCTYPE, and it is validated in
full when it is deployed. Deploying changes the process library of the whole deployment, so
only an administrator of a top-level unit may do it (as for the working calendar); any
administrator may edit, validate and save drafts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import OrgUnit, ProcessDefinition, ProcessDraft, RoleGrant, User
from db.session import transaction

from . import audit
from .deploy import DeployResult, deploy
from .exceptions import DeploymentRejected, Forbidden, InvalidInput, NotFound
from .parsing import BPMN_NS, NS, SPIFF_NS, _single_executable_process, parse_safely
from .people import load_admin

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,119}$")
MAX_NOTE = 1000


def is_top_admin(session: Session, user: User) -> bool:
    return session.scalar(select(RoleGrant.id).join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
                          .where(RoleGrant.user_id == user.id, RoleGrant.role == "admin",
                                 OrgUnit.parent_id.is_(None)).limit(1)) is not None


def process_key_of(data: bytes) -> str:
    """The id of the diagram's one executable process, after the hardened parse (DeploymentRejected)."""
    root = parse_safely(data)
    key = _single_executable_process(root).get("id") or ""
    if not KEY.match(key):
        raise DeploymentRejected(f"流程 id“{key[:60]}”不合规：只能用字母、数字、下划线和连字符，并以字母开头。",
                                 "The process id must be letters, digits, _ or -, starting with a letter.")
    return key


def save_draft(rt, actor_id: int, data: bytes, *, source: str = "editor", key: str | None = None) -> str:
    """Keep `data` as the draft of its process; returns the key. `key`, when given, must match."""
    found = process_key_of(data)
    if key is not None and found != key:
        raise DeploymentRejected(f"流程图中的流程 id 是“{found}”，与正在编辑的“{key}”不一致。",
                                 f"The diagram's process id is {found}, not {key}.")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        latest = latest_version(session, found)
        draft = session.scalar(select(ProcessDraft).where(ProcessDraft.key == found)) or ProcessDraft(key=found)
        draft.bpmn_xml, draft.source = data.decode("utf-8"), source
        draft.base_version = latest.version if latest else None
        draft.saved_by_id, draft.saved_at = admin.id, rt.clock.now()
        session.add(draft)
        audit.record(session, now=rt.clock.now(), action="draft_saved", actor=admin, role="admin",
                     data={"definition": found, "source": source, "bytes": len(data)})
        return found


def discard_draft(rt, actor_id: int, key: str) -> None:
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        draft = session.scalar(select(ProcessDraft).where(ProcessDraft.key == key))
        if draft is None:
            raise NotFound("没有可放弃的草稿。", "There is no draft to discard.")
        session.delete(draft)
        audit.record(session, now=rt.clock.now(), action="draft_discarded", actor=admin, role="admin",
                     data={"definition": key})


def deploy_draft(rt, actor_id: int, key: str, data: bytes, *, note: str,
                 client_addr: str | None = None) -> DeployResult:
    """Deploy `data` as the next version of `key` with a change note; the draft goes with it."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("请填写变更说明（例如依据的文件和改了什么）。", "A change note is required.")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"变更说明不能超过 {MAX_NOTE} 个字。", f"The note may not exceed {MAX_NOTE} characters.")
    found = process_key_of(data)
    if found != key:
        raise DeploymentRejected(f"流程图中的流程 id 是“{found}”，与正在编辑的“{key}”不一致。",
                                 f"The diagram's process id is {found}, not {key}.")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        if not is_top_admin(session, admin):
            raise Forbidden("部署流程会改变全部单位的办理流程，只有最上级单位的系统管理员可以部署；您可以保存草稿。",
                            "Only an administrator of the top-level unit may deploy; you may save a draft.")
        name = admin.real_name

    def drop_draft(session, result):
        if result.created:
            draft = session.scalar(select(ProcessDraft).where(ProcessDraft.key == key))
            if draft is not None:
                session.delete(draft)

    return deploy(rt, data, deployed_by=name, note=note, actor=actor_id, client_addr=client_addr,
                  session_hook=drop_draft)


def draft_of(session: Session, key: str) -> ProcessDraft | None:
    return session.scalar(select(ProcessDraft).where(ProcessDraft.key == key))


def latest_version(session: Session, key: str) -> ProcessDefinition | None:
    return session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key)
                          .order_by(ProcessDefinition.version.desc()).limit(1))


def version(session: Session, key: str, number: int) -> ProcessDefinition:
    row = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                         ProcessDefinition.version == number))
    if row is None:
        raise NotFound(f"流程“{key}”没有版本 {number}。", f"{key} has no version {number}.")
    return row


def versions_of(session: Session, key: str) -> list[ProcessDefinition]:
    return list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                                .order_by(ProcessDefinition.version.desc())))


@dataclass
class ProcessSummary:
    key: str
    name: str
    latest: int
    deployed_at: object
    deployed_by: str
    draft: ProcessDraft | None


def process_library(session: Session) -> list[ProcessSummary]:
    """Every process key with its newest version and draft, plus drafts of processes never deployed."""
    newest: dict[str, ProcessDefinition] = {}
    for row in session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)):
        newest[row.key] = row
    drafts = {d.key: d for d in session.scalars(select(ProcessDraft))}
    rows = [ProcessSummary(k, r.name, r.version, r.deployed_at, r.deployed_by, drafts.get(k)) for k, r in newest.items()]
    rows += [ProcessSummary(k, k, 0, None, "", d) for k, d in drafts.items() if k not in newest]
    return sorted(rows, key=lambda r: r.key)


def new_process_xml(key: str, name: str) -> bytes:
    """A minimal diagram to start from: one editor lane, start → task → end, with its layout."""
    if not KEY.match(key or ""):
        raise InvalidInput("流程 id 只能用字母、数字、下划线和连字符，并以字母开头。", "Invalid process id.")
    name = (name or "").strip() or key
    escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="{SPIFF_NS}" id="Definitions_{key}" targetNamespace="http://govflow.local/bpmn">
  <bpmn:collaboration id="Collaboration_{key}"><bpmn:participant id="Participant_{key}" name="{escaped}" processRef="{key}" /></bpmn:collaboration>
  <bpmn:process id="{key}" name="{escaped}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{key}"><bpmn:lane id="editor" name="内容编辑"><bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>first_step</bpmn:flowNodeRef><bpmn:flowNodeRef>done</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start" name="发起"><bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="first_step" name="办理"><bpmn:incoming>f_start</bpmn:incoming><bpmn:outgoing>f_done</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="done" name="办结"><bpmn:incoming>f_done</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="first_step" />
    <bpmn:sequenceFlow id="f_done" sourceRef="first_step" targetRef="done" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_{key}"><bpmndi:BPMNPlane id="BPMNPlane_{key}" bpmnElement="Collaboration_{key}">
    <bpmndi:BPMNShape id="Participant_{key}_di" bpmnElement="Participant_{key}" isHorizontal="true"><dc:Bounds x="120" y="80" width="600" height="200" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="editor_di" bpmnElement="editor" isHorizontal="true"><dc:Bounds x="150" y="80" width="570" height="200" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="202" y="162" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="first_step_di" bpmnElement="first_step"><dc:Bounds x="330" y="140" width="120" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="done_di" bpmnElement="done"><dc:Bounds x="552" y="162" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f_start_di" bpmnElement="f_start"><di:waypoint x="238" y="180" /><di:waypoint x="330" y="180" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f_done_di" bpmnElement="f_done"><di:waypoint x="450" y="180" /><di:waypoint x="552" y="180" /></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
'''.encode()


# --- comparing versions --------------------------------------------------------------------------

KIND_LABELS = {
    "userTask": "用户任务", "manualTask": "人工任务", "serviceTask": "服务任务", "task": "任务", "sendTask": "发送任务",
    "receiveTask": "接收任务", "startEvent": "开始事件", "endEvent": "结束事件", "boundaryEvent": "边界事件",
    "intermediateCatchEvent": "中间事件", "intermediateThrowEvent": "中间抛出事件", "exclusiveGateway": "排他网关",
    "parallelGateway": "并行网关", "inclusiveGateway": "包容网关", "sequenceFlow": "连线", "lane": "泳道",
    "subProcess": "子流程", "callActivity": "调用活动", "process": "流程",
}


@dataclass
class ElementChange:
    element_id: str
    kind: str
    name: str
    changes: list[str] = field(default_factory=list)


@dataclass
class VersionDiff:
    added: list[ElementChange]
    removed: list[ElementChange]
    changed: list[ElementChange]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _text(element, path: str) -> str:
    found = element.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def _signature(element, lane_of: dict[str, str]) -> dict[str, str]:
    """What the engine reads from an element, as comparable text (the layout is left out)."""
    local = etree.QName(element).localname
    sig = {"类型": KIND_LABELS.get(local, local), "名称": element.get("name") or "",
           "说明": _text(element, "bpmn:documentation")}
    if local == "sequenceFlow":
        sig["连接"] = f"{element.get('sourceRef')} → {element.get('targetRef')}"
        sig["条件"] = _text(element, "bpmn:conditionExpression")
    if local == "boundaryEvent":
        sig["附着于"] = element.get("attachedToRef") or ""
        sig["到期中断任务"] = element.get("cancelActivity", "true")
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        value = _text(element, f"bpmn:timerEventDefinition/bpmn:{tag}")
        if value:
            sig["定时器"] = f"{tag}: {value}"
    for prop in element.findall("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
        sig[f"属性 {prop.get('name')}"] = prop.get("value") or ""
    operator = element.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    if operator is not None:
        sig["处理程序"] = operator.get("id") or ""
        params = operator.findall("spiffworkflow:parameters/spiffworkflow:parameter", NS)
        sig["参数"] = ", ".join(f"{p.get('id')}={p.get('value')}" for p in params)
    if element.get("id") in lane_of:
        sig["泳道"] = lane_of[element.get("id")]
    return {k: v for k, v in sig.items() if v}


def _elements(xml: str) -> dict[str, tuple[str, str, dict]]:
    root = parse_safely(xml.encode("utf-8"))
    process = _single_executable_process(root)
    lane_of = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            lane_of[(ref.text or "").strip()] = lane.get("id")
    found = {}
    for element in process.iter():
        if not isinstance(element.tag, str) or etree.QName(element).namespace != BPMN_NS or not element.get("id"):
            continue
        local = etree.QName(element).localname
        if local in KIND_LABELS and local != "process":
            found[element.get("id")] = (KIND_LABELS[local], element.get("name") or "", _signature(element, lane_of))
    return found


def diff_versions(old_xml: str, new_xml: str) -> VersionDiff:
    """Which elements the newer diagram added, removed or changed (by element id)."""
    old, new = _elements(old_xml), _elements(new_xml)
    added = [ElementChange(i, new[i][0], new[i][1]) for i in new if i not in old]
    removed = [ElementChange(i, old[i][0], old[i][1]) for i in old if i not in new]
    changed = []
    for element_id in old.keys() & new.keys():
        before, after = old[element_id][2], new[element_id][2]
        lines = [f"{key}：{before.get(key, '（无）')} → {after.get(key, '（无）')}"
                 for key in sorted(before.keys() | after.keys()) if before.get(key) != after.get(key)]
        if lines:
            changed.append(ElementChange(element_id, new[element_id][0], new[element_id][1], lines))
    order = list(new) + [i for i in old if i not in new]
    def by_position(change):
        return order.index(change.element_id)
    return VersionDiff(sorted(added, key=by_position), sorted(removed, key=by_position),
                       sorted(changed, key=by_position))
