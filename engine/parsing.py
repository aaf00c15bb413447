"""Reading untrusted BPMN: hardened XML, structural checks, allow-listed expressions.

A diagram comes from an administrator's browser, so it is hostile until proven otherwise.
Each refusal is one sentence naming the element (DeploymentRejected). The checks here are
the same for the CLI, the admin upload and the seed; nothing is stored until they all pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.parser.process import BpmnValidator, SpiffBpmnParser

from .calendar import CalendarNotCovered
from .exceptions import DeploymentRejected, ExpressionFailed, ExpressionRejected
from .expressions import check_expression, evaluate_expression
from .functions import EXPRESSION_FUNCTIONS
from .multi_instance import FUNCTION_NAMES as LANE_FUNCTION_NAMES
from .multi_instance import check_multi_instance
from .policy import DEFAULT_VALUES

MAX_BYTES = 1_000_000
# SpiffWorkflow's parser recurses along the chain and fails near 487 nodes (ENGINE_NOTES.md).
MAX_FLOW_NODES = 400

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

# Elements SpiffWorkflow would exec or that are unreliable upstream (SpiffWorkflow #419).
FORBIDDEN_ELEMENTS = {
    "scriptTask": ("脚本任务", "script task"),
    "businessRuleTask": ("业务规则任务（DMN）", "business rule task (DMN)"),
    "eventBasedGateway": ("事件网关", "event-based gateway"),
    "script": ("脚本", "script"),
}
ALLOWED_SPIFF_EXTENSIONS = {"properties", "property", "serviceTaskOperator", "parameters", "parameter"}
EXPRESSION_TAGS = {"conditionExpression", "loopCardinality", "completionCondition", "timeDate",
                   "timeDuration", "timeCycle", "formalExpression"}
TIMER_TAGS = {"timeDate", "timeDuration", "timeCycle"}
USER_TASK_PROPERTIES = {"outcomes", "form", "assignee"}

_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                               huge_tree=False, remove_pis=True, dtd_validation=False)


@dataclass
class ParsedDiagram:
    """What deploy learnt about a diagram that passed every check."""

    key: str
    name: str
    root: etree._Element
    task_info: dict[str, dict] = field(default_factory=dict)
    start_role: str = ""


def _reject(zh: str, en: str, element_id: str | None = None) -> DeploymentRejected:
    return DeploymentRejected(zh, en, element_id=element_id)


def parse_safely(data: bytes) -> etree._Element:
    """Parse bytes with entities, DTDs and network off; refuse oversize or DOCTYPE-bearing input."""
    if not isinstance(data, bytes):
        raise TypeError("parse_safely takes bytes")
    if len(data) > MAX_BYTES:
        raise _reject(f"流程图文件过大（{len(data)} 字节），上限为 {MAX_BYTES} 字节。",
                      f"The diagram is too large ({len(data)} bytes); the limit is {MAX_BYTES} bytes.")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise _reject("流程图中不允许包含 DOCTYPE 或实体声明（可能是 XXE 攻击）。",
                      "A diagram may not contain a DOCTYPE or entity declarations (possible XXE).")
    try:
        root = etree.fromstring(data, _SAFE_PARSER)
    except etree.XMLSyntaxError as err:
        raise _reject(f"流程图不是合法的 XML，第 {err.lineno} 行附近有语法错误。",
                      f"The diagram is not well-formed XML: {err.msg} (line {err.lineno}).") from None
    if root.getroottree().docinfo.doctype:
        raise _reject("流程图中不允许包含 DOCTYPE。", "A diagram may not contain a DOCTYPE.")
    if etree.QName(root).namespace != BPMN_NS or etree.QName(root).localname != "definitions":
        raise _reject("文件不是 BPMN 2.0 流程图（根元素应为 bpmn:definitions）。",
                      "The file is not a BPMN 2.0 diagram (the root must be bpmn:definitions).")
    return root


def validate_diagram(data: bytes, roles: dict[str, str], handlers: set[str]) -> ParsedDiagram:
    """Run every deploy check on `data`; return what the engine needs to run it.

    Raises the first DeploymentRejected found (the checks run in a fixed order)."""
    return _validate(data, roles, handlers, _raise)


def find_problems(data: bytes, roles: dict[str, str], handlers: set[str]) -> tuple[ParsedDiagram | None, list]:
    """Run the same checks as `validate_diagram` but collect every problem instead of stopping at
    the first (the editor marks each offending element). Returns (diagram or None, problems).

    A problem that makes the rest meaningless (not XML, no single executable process, too large)
    ends the search; SpiffWorkflow's own structural check runs only when nothing else was found.
    """
    problems: list[DeploymentRejected] = []
    try:
        diagram = _validate(data, roles, handlers, problems.append)
    except DeploymentRejected as err:
        return None, [*problems, err]
    return (None if problems else diagram), problems


def _raise(problem: DeploymentRejected) -> None:
    raise problem


def _validate(data: bytes, roles: dict[str, str], handlers: set[str], report) -> ParsedDiagram:
    root = parse_safely(data)
    process = _single_executable_process(root)
    found: list = []

    def noting(problem: DeploymentRejected) -> None:
        found.append(problem)
        report(problem)

    _refuse_forbidden_elements(root, noting)
    _refuse_unknown_extensions(root, noting)
    _check_size(process)
    lane_roles = _lane_roles(process, roles, noting)
    _check_expressions(root, noting)
    diagram = ParsedDiagram(key=process.get("id"), name=process.get("name") or process.get("id"), root=root)
    _collect_tasks(process, lane_roles, handlers, diagram, noting)
    _check_reachable(process, noting)
    if not found:
        build_parser(root, diagram.key)  # SpiffWorkflow's own checks (XSD and structure) last
    return diagram


def build_parser(root: etree._Element, key: str):
    """Hand an already-vetted tree to SpiffWorkflow; return (spec, subprocess_specs)."""
    parser = SpiffBpmnParser(validator=BpmnValidator())
    try:
        parser.add_bpmn_xml(root, filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except (ValidationException, etree.DocumentInvalid, etree.XMLSchemaError) as err:
        line = getattr(err, "line_number", None)
        element = getattr(err, "id", None) or _element_at_line(root, line)
        where = f"元素 {element} " if element else (f"第 {line} 行的元素" if line else "流程图中的某个元素")
        detail = _first_line(err)[:200]
        raise _reject(f"{where}不符合 BPMN 2.0 规范或无法执行，请检查该元素的类型、位置和连线。",
                      f"{'Element ' + element if element else 'An element'} does not conform to BPMN 2.0 "
                      f"or cannot run: {detail}", element_id=element or None) from None
    return spec, subprocess_specs


def _element_at_line(root: etree._Element, line) -> str | None:
    """The id of the element (or its nearest owner) that starts on `line` of the file."""
    if not isinstance(line, int) or line <= 0:
        return None
    for element in root.iter():
        if isinstance(element.tag, str) and element.sourceline == line:
            return _owner_id(element)
    return None


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _single_executable_process(root) -> etree._Element:
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "false").lower() == "true"]
    if len(executable) != 1:
        raise _reject(f"流程图必须恰好包含一个可执行流程（isExecutable=\"true\"），现有 {len(executable)} 个。",
                      f"A diagram must hold exactly one executable process; it holds {len(executable)}.")
    return executable[0]


def _refuse_forbidden_elements(root, report) -> None:
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element)
        if qname.namespace == BPMN_NS and qname.localname in FORBIDDEN_ELEMENTS:
            zh, en = FORBIDDEN_ELEMENTS[qname.localname]
            owner = element.get("id") or (element.getparent().get("id") if element.getparent() is not None else "")
            report(_reject(f"元素 {owner} 是{zh}，GovFlow 不允许在流程图中使用。",
                           f"Element {owner} is a {en}, which GovFlow does not allow in a diagram.",
                           element_id=owner))


def _refuse_unknown_extensions(root, report) -> None:
    for element in root.iter(f"{{{SPIFF_NS}}}*"):
        name = etree.QName(element).localname
        if name not in ALLOWED_SPIFF_EXTENSIONS:
            owner = _owner_id(element)
            if name in ("preScript", "postScript"):
                report(_reject(f"元素 {owner} 带有前置/后置脚本（{name}），GovFlow 不允许执行脚本。",
                               f"Element {owner} has a {name}; GovFlow does not run scripts.", element_id=owner))
                continue
            report(_reject(f"元素 {owner} 使用了不支持的扩展 spiffworkflow:{name}。",
                           f"Element {owner} uses the unsupported extension spiffworkflow:{name}.",
                           element_id=owner))


def _owner_id(element) -> str:
    """The id an administrator can click on: the nearest enclosing BPMN element that is not an
    event definition (bpmn-js gives those ids too) nor an extension of ours."""
    node = element
    while node is not None:
        qname = etree.QName(node)
        inner = qname.namespace != BPMN_NS or qname.localname.endswith("EventDefinition")
        if node.get("id") and not inner:
            return node.get("id")
        node = node.getparent()
    return "?"


def _is_flow_node(element) -> bool:
    if not isinstance(element.tag, str) or etree.QName(element).namespace != BPMN_NS:
        return False
    local = etree.QName(element).localname
    return (local.endswith(("Task", "Event", "Gateway")) and not local.endswith("EventDefinition")) or local in (
        "task", "subProcess", "callActivity", "transaction")


def _check_size(process) -> None:
    count = sum(1 for el in process.iter() if _is_flow_node(el))
    if count > MAX_FLOW_NODES:
        raise _reject(f"流程包含 {count} 个节点，超过上限 {MAX_FLOW_NODES} 个，请拆分为子流程。",
                      f"The process has {count} elements, over the limit of {MAX_FLOW_NODES}; split it.")


def _lane_roles(process, roles: dict[str, str], report) -> dict[str, str]:
    """Map each flow node id to the role named by its lane's id."""
    mapping = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        role = lane.get("id")
        if role not in roles:
            named = f"（{lane.get('name')}）" if lane.get("name") else ""
            report(_reject(f"泳道 {role}{named}不是已知角色，泳道 id 必须是角色名之一："
                           f"{', '.join(sorted(roles))}。",
                           f"Lane {role} is not a known role; a lane id must be one of: {', '.join(sorted(roles))}.",
                           element_id=role))
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            mapping[(ref.text or "").strip()] = role
    return mapping


def _check_expressions(root, report) -> None:
    names = set(EXPRESSION_FUNCTIONS) | LANE_FUNCTION_NAMES
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        texts = []
        if local in EXPRESSION_TAGS and (element.text or "").strip():
            texts.append(element.text.strip())
        if local == "parameter" and etree.QName(element).namespace == SPIFF_NS and element.get("value"):
            texts.append(element.get("value"))
        allowed = True
        for text in texts:
            try:
                check_expression(text, names)
            except ExpressionRejected as err:
                owner = _owner_id(element)
                report(_reject(f"元素 {owner} 的表达式不被允许：{err.message}",
                               f"Element {owner} has an expression that is not allowed: {err.message_en}",
                               element_id=owner))
                allowed = False
        if local in TIMER_TAGS and texts and allowed:
            try:
                _check_timer(element, local, texts[0])
            except DeploymentRejected as err:
                report(err)


def _check_timer(element, tag: str, expression: str) -> None:
    """Evaluate a timer once against a sample start so a bad one fails now, not in 30 days."""
    owner = _owner_id(element)
    instant = datetime(2026, 1, 5, 1, 0, tzinfo=UTC).isoformat()
    sample = {"now": instant, "start": instant, "policy": DEFAULT_VALUES}
    try:
        value = evaluate_expression(expression, sample, EXPRESSION_FUNCTIONS)
    except CalendarNotCovered:
        return  # well-formed; whether its year is entered is decided when it runs
    except (ExpressionFailed, ExpressionRejected) as err:
        raise _reject(f"元素 {owner} 的定时器表达式“{expression}”无法计算：{err.message.rstrip('。')}。",
                      f"The timer expression \"{expression}\" of element {owner} cannot be evaluated: "
                      f"{err.message_en}", element_id=owner) from None
    kind = {"timeDate": "日期时间", "timeDuration": "时长", "timeCycle": "循环周期"}[tag]
    try:
        if not isinstance(value, str):
            raise TypeError(type(value).__name__)
        if tag == "timeDate":
            TimerEventDefinition.get_datetime(value)
        elif tag == "timeDuration":
            TimerEventDefinition.parse_time_or_duration(value)
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception as err:  # SpiffWorkflow's ISO parsers raise bare Exception("Invalid duration")
        raise _reject(f"元素 {owner} 的定时器表达式“{expression}”的结果不是合法的 ISO-8601 {kind}"
                      f"（例如 'P30D' 或 add_calendar_days(now, 30)）。",
                      f"The timer expression \"{expression}\" of element {owner} does not yield an ISO-8601 "
                      f"{tag} ({err}).", element_id=owner) from None


def _collect_tasks(process, lane_roles, handlers: set[str], diagram: ParsedDiagram, report) -> None:
    for element in process.iter():
        if not isinstance(element.tag, str) or etree.QName(element).namespace != BPMN_NS:
            continue
        local, node_id = etree.QName(element).localname, element.get("id")
        if local in ("multiInstanceLoopCharacteristics", "standardLoopCharacteristics") and etree.QName(
                element.getparent()).localname not in ("userTask", "manualTask"):
            owner = _owner_id(element)
            report(_reject(f"元素 {owner} 不是用户任务，不能设置多实例或循环。",
                           f"Element {owner} is not a user task and cannot be multi-instance or loop.", element_id=owner))
            continue
        if local == "startEvent" and element.getparent() is process:
            if node_id not in lane_roles:
                report(_reject(f"开始事件 {node_id} 不在任何泳道中，无法确定谁可以发起流程。",
                               f"Start event {node_id} is in no lane, so nobody may start the process.",
                               element_id=node_id))
                continue
            diagram.start_role = lane_roles[node_id]
        elif local in ("userTask", "manualTask"):
            if node_id not in lane_roles:
                report(_reject(f"用户任务 {node_id}（{element.get('name') or ''}）不在任何泳道中，无法分配办理人。",
                               f"User task {node_id} is in no lane, so it cannot be assigned.", element_id=node_id))
                continue
            try:
                diagram.task_info[node_id] = _user_task_info(element, lane_roles[node_id])
            except DeploymentRejected as err:
                report(err)
        elif local == "serviceTask":
            operator = element.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
            name = operator.get("id") if operator is not None else None
            if name not in handlers:
                report(_reject(f"服务任务 {node_id} 的处理程序“{name or ''}”未注册。",
                               f"Service task {node_id} names the handler \"{name or ''}\", which is not registered.",
                               element_id=node_id))
    if not diagram.start_role and not any(
            etree.QName(el).localname == "startEvent" for el in process if isinstance(el.tag, str)):
        report(_reject("流程没有开始事件。", "The process has no start event."))


def _user_task_info(element, role: str) -> dict:
    props = {p.get("name"): p.get("value") or ""
             for p in element.findall("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}
    unknown = set(props) - USER_TASK_PROPERTIES
    node_id = element.get("id")
    if unknown:
        raise _reject(f"用户任务 {node_id} 有未知属性：{', '.join(sorted(unknown))}。",
                      f"User task {node_id} has unknown properties: {', '.join(sorted(unknown))}.",
                      element_id=node_id)
    outcomes = []
    for item in filter(None, (part.strip() for part in props.get("outcomes", "done:完成").split(","))):
        key, _, label = item.partition(":")
        if not key.isidentifier():
            raise _reject(f"用户任务 {node_id} 的办理结果“{key}”不是合法的标识符。",
                          f"User task {node_id} has an invalid outcome key \"{key}\".", element_id=node_id)
        outcomes.append({"key": key, "label": label or key})
    assignee = props.get("assignee") or None
    if assignee not in (None, "starter"):
        raise _reject(f"用户任务 {node_id} 的 assignee 只能是 starter。",
                      f"User task {node_id}: assignee may only be \"starter\".", element_id=node_id)
    info = {"name": element.get("name") or node_id, "role": role, "outcomes": outcomes,
            "form": props.get("form") or None, "assignee": assignee}
    characteristics = element.find("bpmn:multiInstanceLoopCharacteristics", NS)
    if characteristics is not None:  # 会签/或签 (engine/multi_instance.py)
        if assignee:
            raise _reject(f"用户任务 {node_id} 是会签/或签，不能同时指定 assignee。",
                          f"User task {node_id} is a multi-instance task and cannot name an assignee.", element_id=node_id)
        info["multi"] = check_multi_instance(
            element, characteristics, role,
            lambda zh, en: _reject(f"用户任务 {node_id}：{zh}", f"User task {node_id}: {en}", element_id=node_id))
    if element.find("bpmn:standardLoopCharacteristics", NS) is not None:
        raise _reject(f"用户任务 {node_id} 不能设置循环（standardLoopCharacteristics）。",
                      f"User task {node_id} may not loop (standardLoopCharacteristics).", element_id=node_id)
    return info


def _check_reachable(process, report) -> None:
    """Every flow node must be reachable from a start event along sequence flows.

    Boundary events are reached with the activity they are attached to, a sub-process's inner
    start events with the sub-process; event sub-processes and link catch events are entered by
    events, not flows, so they count as entry points.
    """
    nodes = {el.get("id"): el for el in process.iter() if _is_flow_node(el) and el.get("id")}
    successors: dict[str, list[str]] = {}
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        successors.setdefault(flow.get("sourceRef") or "", []).append(flow.get("targetRef") or "")
    for node_id, el in nodes.items():
        if etree.QName(el).localname == "boundaryEvent":
            successors.setdefault(el.get("attachedToRef") or "", []).append(node_id)
        parent = el.getparent()
        if etree.QName(el).localname == "startEvent" and parent is not None and parent is not process:
            successors.setdefault(parent.get("id") or "", []).append(node_id)
    entries = [node_id for node_id, el in nodes.items() if _is_entry(el, process)]
    reached, stack = set(), list(entries)
    while stack:
        node_id = stack.pop()
        if node_id in reached or node_id not in nodes:
            continue
        reached.add(node_id)
        stack.extend(successors.get(node_id, ()))
    for node_id, el in nodes.items():
        if node_id not in reached:
            name = el.get("name")
            report(_reject(f"元素 {node_id}{f'（{name}）' if name else ''}无法从开始事件到达，请用连线把它接入流程或删除它。",
                           f"Element {node_id} cannot be reached from a start event; connect it or remove it.",
                           element_id=node_id))


def _is_entry(element, process) -> bool:
    local = etree.QName(element).localname
    if local == "startEvent" and element.getparent() is process:
        return True
    if local in ("subProcess", "transaction") and element.get("triggeredByEvent", "false").lower() == "true":
        return True
    return local == "intermediateCatchEvent" and element.find("bpmn:linkEventDefinition", NS) is not None
