"""Deploy refuses every hostile or broken diagram with one Chinese sentence and stores nothing;
a changed diagram becomes the next version, and running instances keep the version they started on.

Hostile diagrams are small text edits of the real processes/content_review.bpmn, so each one
differs from a diagram that passes in exactly one way.
"""

import dataclasses
import hashlib
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import HumanTask, ProcessDefinition, ProcessInstance
from db.session import reading
from engine import DeploymentRejected, check_diagram, complete_task, deploy, submit_content
from engine.parsing import MAX_BYTES, MAX_FLOW_NODES, parse_safely

PROCESSES = Path(__file__).resolve().parent.parent / "processes"
BASE = (PROCESSES / "content_review.bpmn").read_bytes()
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
PROCESS_DOCUMENTATION = ("REV-1 REV-2 REV-3 REV-4 REV-5: three-level review (三审三校) of a content item "
                         "before it goes online. Lane ids name the roles of RULES.md.")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# A sentence an administrator can read at a glance (the longest good one, the lane list, is ~170).
MAX_SENTENCE = 300


# --- building hostile diagrams -------------------------------------------------------------

def _edit(old: str, new: str, data: bytes = BASE) -> bytes:
    """Replace the one occurrence of `old` (the edit must hit exactly one place)."""
    assert data.decode().count(old) == 1, f"{old!r} is not unique in the diagram"
    return data.decode().replace(old, new).encode()


def _retag(element_id: str, new_tag: str, inside: str = "", data: bytes = BASE) -> bytes:
    """Turn the element `element_id` into a `bpmn:new_tag`, keeping its id, name and children."""
    text = data.decode()
    opening = re.search(rf'<bpmn:(\w+) id="{element_id}"', text)
    old_tag = opening.group(1)
    closing = text.index(f"</bpmn:{old_tag}>", opening.end())
    return (text[:opening.start()] + f'<bpmn:{new_tag} id="{element_id}"' + text[opening.end():closing]
            + inside + f"</bpmn:{new_tag}>" + text[closing + len(f"</bpmn:{old_tag}>"):]).encode()


def _in_process(fragment: str, data: bytes = BASE) -> bytes:
    """Add flow elements to the content_review process."""
    anchor = '<bpmn:sequenceFlow id="f_start_review"'
    return _edit(anchor, fragment + anchor, data)


def _in_lane(after_node: str, *node_ids: str, data: bytes = BASE) -> bytes:
    ref = f"<bpmn:flowNodeRef>{after_node}</bpmn:flowNodeRef>"
    return _edit(ref, ref + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in node_ids), data)


def _with_doctype(doctype: str, data: bytes = BASE) -> bytes:
    return _edit(XML_DECLARATION, XML_DECLARATION + "\n" + doctype, data)


def _as_utf16(data: bytes) -> bytes:
    return data.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")


def _condition(expression: str) -> bytes:
    return _edit("<bpmn:conditionExpression>target_kind == 'wechat'</bpmn:conditionExpression>",
                 f"<bpmn:conditionExpression>{expression}</bpmn:conditionExpression>")


def _boundary_timer(tag: str, expression: str) -> bytes:
    """A non-interrupting reminder on the signer's task (the timer definition has an id, as bpmn-js writes)."""
    data = _in_process(
        '<bpmn:boundaryEvent id="sign_overdue" name="签发超时提醒" attachedToRef="sign" cancelActivity="false">'
        '<bpmn:outgoing>f_sign_overdue</bpmn:outgoing>'
        f'<bpmn:timerEventDefinition id="sign_overdue_timer"><bpmn:{tag}>{expression}</bpmn:{tag}>'
        '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="sign_overdue_end" name="已提醒"><bpmn:incoming>f_sign_overdue</bpmn:incoming>'
        '</bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f_sign_overdue" sourceRef="sign_overdue" targetRef="sign_overdue_end" />')
    return _in_lane("sign", "sign_overdue", "sign_overdue_end", data=data)


def _intermediate_timer(tag: str, expression: str) -> bytes:
    """A wait between publishing and the end event."""
    data = _edit(
        '<bpmn:sequenceFlow id="f_publish_end" sourceRef="publish" targetRef="published" />',
        '<bpmn:sequenceFlow id="f_publish_end" sourceRef="publish" targetRef="cool_off" />'
        '<bpmn:intermediateCatchEvent id="cool_off" name="发布后观察期">'
        '<bpmn:incoming>f_publish_end</bpmn:incoming><bpmn:outgoing>f_cool_off_end</bpmn:outgoing>'
        f'<bpmn:timerEventDefinition id="cool_off_timer"><bpmn:{tag}>{expression}</bpmn:{tag}>'
        '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
        '<bpmn:sequenceFlow id="f_cool_off_end" sourceRef="cool_off" targetRef="published" />')
    return _in_lane("publish", "cool_off", data=data)


def _long_chain(task_count: int) -> bytes:
    """start → task_1 → … → task_N → end, all in the editor's lane."""
    nodes = ["start", *(f"task_{i}" for i in range(1, task_count + 1)), "end"]
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    tasks = "".join(f'<bpmn:userTask id="{n}" name="步骤 {n}" />' for n in nodes[1:-1])
    flows = "".join(f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}" />'
                    for a, b in zip(nodes, nodes[1:], strict=False))
    return (f'{XML_DECLARATION}<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="Definitions_long" '
            'targetNamespace="http://govflow.local/bpmn">'
            '<bpmn:process id="long_chain" name="超长流程" isExecutable="true">'
            f'<bpmn:laneSet id="LaneSet_long"><bpmn:lane id="editor" name="内容编辑">{refs}</bpmn:lane></bpmn:laneSet>'
            f'<bpmn:startEvent id="start" />{tasks}<bpmn:endEvent id="end" />{flows}'
            "</bpmn:process></bpmn:definitions>").encode()


XXE_FILE = _edit(PROCESS_DOCUMENTATION, "&xxe;",
                 _with_doctype('<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'))
XXE_PARAMETER = _with_doctype('<!DOCTYPE bpmn:definitions [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]>')
_LAUGHS = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
BILLION_LAUGHS = _edit(PROCESS_DOCUMENTATION, "&lol9;",
                       _with_doctype(f"<!DOCTYPE bpmn:definitions [{''.join(_LAUGHS)}]>"))


# --- checking a refusal ----------------------------------------------------------------------

def _definition_count(rt) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(func.count()).select_from(ProcessDefinition))


def _assert_one_chinese_sentence(message: str) -> None:
    assert re.search(r"[\u4e00-\u9fff]", message), message
    assert len(message) <= MAX_SENTENCE, f"{len(message)} characters: {message}"
    assert message.endswith("。"), message
    assert message.count("。") == 1, message
    assert "\n" not in message and "Traceback" not in message, message


def _refused(rt, data: bytes) -> DeploymentRejected:
    """Both the editor's check and deploy refuse `data` with the same sentence; nothing is stored."""
    before = _definition_count(rt)
    with pytest.raises(DeploymentRejected) as checked:
        check_diagram(rt, data)
    with pytest.raises(DeploymentRejected) as deployed:
        deploy(rt, data, deployed_by="tests", note="hostile")
    error = deployed.value
    assert error.message == checked.value.message
    assert error.message_en
    _assert_one_chinese_sentence(error.message)
    assert _definition_count(rt) == before
    return error


def _assert_names(error: DeploymentRejected, element_id: str) -> None:
    """The message names the element itself (`sign_overdue`, not merely `sign_overdue_timer`)."""
    named = re.search(rf"(?<![\w]){re.escape(element_id)}(?![\w])", error.message)
    assert named or error.element_id == element_id, (error.message, error.element_id)


# --- refusals ----------------------------------------------------------------------------------

def test_the_unmodified_diagram_passes_every_check(sqlite_rt):
    diagram = check_diagram(sqlite_rt, BASE)
    assert diagram.key == "content_review"
    assert diagram.start_role == "editor"


REFUSALS = [
    # Not a BPMN diagram at all.
    pytest.param(_edit("</bpmn:process>", ""), None, id="an unclosed tag"),
    pytest.param(BASE[: len(BASE) // 2], None, id="a file cut off halfway"),
    pytest.param(b"", None, id="an empty file"),
    pytest.param(_with_doctype("<!DOCTYPE bpmn:definitions>"), None, id="a DOCTYPE without entities"),
    pytest.param(_with_doctype('<!DOCTYPE bpmn:definitions SYSTEM "http://attacker.example/bpmn.dtd">'), None,
                 id="a DOCTYPE naming an external DTD"),
    pytest.param(b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body /></html>', None,
                 id="an HTML page"),
    pytest.param(BASE.replace(b"bpmn:definitions", b"bpmn:collaboration"), None,
                 id="a root that is a BPMN element other than definitions"),
    pytest.param(_edit(f'xmlns:bpmn="{BPMN_NS}"', 'xmlns:bpmn="http://example.com/not-bpmn"'), None,
                 id="definitions in a foreign namespace"),
    # Process count.
    pytest.param(_edit('isExecutable="true"', 'isExecutable="false"'), None, id="no executable process"),
    pytest.param(_edit("<bpmndi:BPMNDiagram", '<bpmn:process id="second_process" isExecutable="true">'
                       '<bpmn:startEvent id="second_start" /></bpmn:process><bpmndi:BPMNDiagram'), None,
                 id="two executable processes"),
    # Elements that would run code or are unreliable upstream.
    pytest.param(_retag("publish", "scriptTask", "<bpmn:script>__import__('os').system('id')</bpmn:script>"),
                 "publish", id="a script task"),
    pytest.param(_retag("publish", "businessRuleTask"), "publish", id="a business rule task"),
    pytest.param(_retag("target_gateway", "eventBasedGateway"), "target_gateway", id="an event-based gateway"),
    pytest.param(_edit('value="pass:通过,return:退回修改" /></spiffworkflow:properties>',
                       'value="pass:通过,return:退回修改" /></spiffworkflow:properties>'
                       "<spiffworkflow:preScript>import os; os.system('id')</spiffworkflow:preScript>"),
                 "review", id="a preScript on a user task"),
    pytest.param(_edit('value="pass:签发,return:退回修改" /></spiffworkflow:properties>',
                       'value="pass:签发,return:退回修改" /></spiffworkflow:properties>'
                       "<spiffworkflow:postScript>import os; os.system('id')</spiffworkflow:postScript>"),
                 "sign", id="a postScript on a user task"),
    pytest.param(_edit('value="pass:通过,return:退回修改" /></spiffworkflow:properties>',
                       'value="pass:通过,return:退回修改" /></spiffworkflow:properties>'
                       "<spiffworkflow:instructionsForEndUser>{{ ''.__class__ }}</spiffworkflow:instructionsForEndUser>"),
                 "review", id="an unknown spiffworkflow extension"),
    # Lanes are roles.
    pytest.param(_edit('<bpmn:lane id="egov_center" name="电子政务管理中心">', '<bpmn:lane id="webmaster" name="网站管理员">'),
                 "webmaster", id="a lane that is not a known role"),
    pytest.param(_edit("<bpmn:flowNodeRef>sign</bpmn:flowNodeRef>", ""), "sign", id="a user task outside any lane"),
    pytest.param(_edit("<bpmn:flowNodeRef>start</bpmn:flowNodeRef>", ""), "start", id="a start event outside any lane"),
    pytest.param(re.sub(rb"<bpmn:laneSet .*?</bpmn:laneSet>", b"", BASE, flags=re.S), "start", id="no lanes at all"),
    # Expressions outside the allow-list.
    pytest.param(_condition("__import__('os').system('id')"), "f_target_wechat", id="a condition importing os"),
    pytest.param(_condition("().__class__.__base__.__subclasses__()"), "f_target_wechat",
                 id="a condition walking to object subclasses"),
    pytest.param(_condition("open('/etc/passwd').read()"), "f_target_wechat", id="a condition opening a file"),
    pytest.param(_edit('value="content_id" />', "value=\"__import__('os').system('id')\" />"), "publish",
                 id="a hostile service task parameter"),
    # Service tasks, forms, properties and outcomes the engine does not know.
    pytest.param(_edit('id="publish_content"', 'id="run_shell"'), "publish", id="an unregistered handler"),
    pytest.param(_edit('value="content_revision"', 'value="no_such_form"'), "revise", id="an unknown form"),
    pytest.param(_edit('<spiffworkflow:property name="outcomes" value="pass:通过,return:退回修改" />',
                       '<spiffworkflow:property name="outcomes" value="pass:通过,return:退回修改" />'
                       '<spiffworkflow:property name="priority" value="high" />'), "review",
                 id="an unknown user task property"),
    pytest.param(_edit("pass:通过,return:退回修改", "pass-now:通过,return:退回修改"), "review",
                 id="an invalid outcome key"),
    pytest.param(_edit('value="starter"', 'value="zhangsan"'), "revise", id="an assignee other than starter"),
    # SpiffWorkflow's own XSD validation.
    pytest.param(_in_process('<bpmn:notAThing id="not_a_thing" />'), "not_a_thing",
                 id="an element the BPMN schema does not define"),
]


@pytest.mark.parametrize(("data", "element_id"), REFUSALS)
def test_deploy_refuses_with_one_sentence_and_stores_nothing(sqlite_rt, data, element_id):
    error = _refused(sqlite_rt, data)
    if element_id:
        _assert_names(error, element_id)


@pytest.mark.parametrize("data", [XXE_FILE, _as_utf16(XXE_FILE), XXE_PARAMETER],
                         ids=["a general entity", "a general entity in UTF-16", "a parameter entity"])
def test_an_xxe_diagram_is_refused_and_the_file_never_appears(sqlite_rt, data):
    secret = Path("/etc/passwd").read_text().splitlines()[0]
    error = _refused(sqlite_rt, data)
    for text in (error.message, error.message_en, str(error), repr(error.args)):
        assert secret not in text
    with pytest.raises(DeploymentRejected):
        parse_safely(data)
    with reading(sqlite_rt.session_factory) as session:
        for definition in session.scalars(select(ProcessDefinition)):
            assert secret not in definition.bpmn_xml
            assert secret not in repr(definition.task_info)


@pytest.mark.parametrize("data", [BILLION_LAUGHS, _as_utf16(BILLION_LAUGHS)], ids=["UTF-8", "UTF-16"])
def test_an_entity_bomb_is_refused_quickly(sqlite_rt, data):
    started = time.perf_counter()
    _refused(sqlite_rt, data)
    with pytest.raises(DeploymentRejected):
        parse_safely(data)
    assert time.perf_counter() - started < 2.0


def test_a_diagram_over_the_size_limit_is_refused_naming_the_limit(sqlite_rt):
    padding = "<!--" + "填充" * (MAX_BYTES // 6 + 1) + "-->"
    data = _edit("</bpmn:definitions>", padding + "</bpmn:definitions>")
    assert len(data) > MAX_BYTES
    error = _refused(sqlite_rt, data)
    assert str(MAX_BYTES) in error.message


def test_a_process_over_the_node_limit_is_refused_naming_the_limit(sqlite_rt):
    error = _refused(sqlite_rt, _long_chain(MAX_FLOW_NODES))
    assert str(MAX_FLOW_NODES) in error.message


BAD_TIMERS = [
    pytest.param(_boundary_timer("timeDuration", "P30X"), "sign_overdue", id="an unquoted P30X"),
    pytest.param(_boundary_timer("timeDuration", "'P30X'"), "sign_overdue", id="a quoted P30X"),
    pytest.param(_boundary_timer("timeDuration", "P30D"), "sign_overdue", id="an unquoted P30D"),
    pytest.param(_boundary_timer("timeDate", "'下周一'"), "sign_overdue", id="a date that is not ISO"),
    pytest.param(_boundary_timer("timeDate", "add_calendar_days(now, 'thirty')"), "sign_overdue",
                 id="a calendar call with a bad argument"),
    pytest.param(_boundary_timer("timeCycle", "'R3/P30X'"), "sign_overdue", id="a cycle with a bad duration"),
    pytest.param(_intermediate_timer("timeDuration", "'P30X'"), "cool_off", id="a quoted P30X on a wait"),
    pytest.param(_intermediate_timer("timeDuration", "P30D"), "cool_off", id="an unquoted P30D on a wait"),
]


@pytest.mark.parametrize(("data", "element_id"), BAD_TIMERS)
def test_a_timer_that_does_not_evaluate_is_refused(sqlite_rt, data, element_id):
    _refused(sqlite_rt, data)


@pytest.mark.parametrize(("data", "element_id"), BAD_TIMERS)
def test_a_refused_timer_names_its_event_not_its_timer_definition(sqlite_rt, data, element_id):
    _assert_names(_refused(sqlite_rt, data), element_id)


GOOD_TIMERS = [
    pytest.param(_boundary_timer("timeDate", "add_calendar_days(now, 30)"), id="30 calendar days as a date"),
    pytest.param(_boundary_timer("timeDuration", "'P30D'"), id="a quoted P30D on a reminder"),
    pytest.param(_boundary_timer("timeCycle", "'R3/P1D'"), id="a daily reminder three times"),
    pytest.param(_intermediate_timer("timeDuration", "'P30D'"), id="a quoted P30D on a wait"),
]


@pytest.mark.parametrize("data", GOOD_TIMERS)
def test_a_timer_that_evaluates_to_iso_text_is_accepted(sqlite_rt, data):
    before = _definition_count(sqlite_rt)
    result = deploy(sqlite_rt, data, deployed_by="tests")
    assert (result.key, result.version, result.created) == ("content_review", 2, True)
    assert _definition_count(sqlite_rt) == before + 1


# --- versions ----------------------------------------------------------------------------------

V2_SIGN_NAME = "签发（三审·栏目责任人）"
V2 = _edit('name="签发（三审）"', f'name="{V2_SIGN_NAME}"')


def _definition_version(rt, instance_id: int) -> int:
    with reading(rt.session_factory) as session:
        return session.get(ProcessInstance, instance_id).definition.version


def _ready_task(rt, instance_id: int, bpmn_id: str) -> HumanTask:
    with reading(rt.session_factory) as session:
        return session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                       HumanTask.bpmn_id == bpmn_id,
                                                       HumanTask.state == "ready")).one()


def test_deploying_the_same_bytes_twice_stores_no_new_version(rt):
    before = _definition_count(rt)
    first = deploy(rt, BASE, deployed_by="tests")
    second = deploy(rt, BASE, deployed_by="tests")
    assert (first.version, first.created) == (1, False)  # the fixture deployed it already
    assert second == first
    assert _definition_count(rt) == before


def test_a_changed_diagram_becomes_version_2_with_its_sha256(rt):
    result = deploy(rt, V2, deployed_by="admin", note="签发环节改名")
    assert (result.key, result.version, result.created) == ("content_review", 2, True)
    assert deploy(rt, V2, deployed_by="admin") == dataclasses.replace(result, created=False)
    with reading(rt.session_factory) as session:
        rows = {d.version: d for d in session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.key == "content_review"))}
    assert sorted(rows) == [1, 2]
    assert rows[2].sha256 == hashlib.sha256(V2).hexdigest()
    assert rows[2].bpmn_xml == V2.decode()
    assert rows[2].task_info["sign"]["name"] == V2_SIGN_NAME
    assert (rows[2].deployed_by, rows[2].note) == ("admin", "签发环节改名")
    assert rows[1].sha256 == hashlib.sha256(BASE).hexdigest()



def test_a_running_instance_keeps_version_1_after_version_2_is_deployed(rt, users):
    old = submit_content(rt, users["zhangsan"], title="旧版本稿件", body="正文", target_kind="wechat",
                         target_name="公众号")
    deploy(rt, V2, deployed_by="admin")
    new = submit_content(rt, users["zhangsan"], title="新版本稿件", body="正文", target_kind="wechat",
                         target_name="公众号")
    assert _definition_version(rt, old) == 1
    assert _definition_version(rt, new) == 2

    # Each instance goes on running its own version: the signer's task carries that version's name.
    for instance_id in (old, new):
        complete_task(rt, _ready_task(rt, instance_id, "review").id, users["lisi"], outcome="pass")
    assert _ready_task(rt, old, "sign").name == "签发（三审）"
    assert _ready_task(rt, new, "sign").name == V2_SIGN_NAME
    assert _definition_version(rt, old) == 1
