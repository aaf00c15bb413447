"""The editor's "validate as you edit": the deploy validator, collecting every problem with the id of
the element it is about, so the editor can mark each one. One test per kind of rejection the editor
shows on an element, plus the checks added for the editor (unreachable elements).

Diagrams are small edits of processes/content_review.bpmn, so each differs from a passing one in
exactly the way the test names.
"""

from pathlib import Path

import pytest

from engine import DeploymentRejected, check_diagram
from engine.deploy import diagram_problems

PROCESSES = Path(__file__).resolve().parent.parent / "processes"
BASE = (PROCESSES / "content_review.bpmn").read_text(encoding="utf-8")


def edit(old: str, new: str, text: str = BASE) -> bytes:
    assert text.count(old) == 1, f"{old!r} is not unique"
    return text.replace(old, new).encode()


def add_to_process(fragment: str, lane: str = "signer", *node_ids: str, text: str = BASE) -> bytes:
    text = text.replace('<bpmn:sequenceFlow id="f_start_review"', fragment + '<bpmn:sequenceFlow id="f_start_review"', 1)
    if node_ids:
        anchor = {"signer": "<bpmn:flowNodeRef>sign</bpmn:flowNodeRef>",
                  "editor": "<bpmn:flowNodeRef>start</bpmn:flowNodeRef>"}[lane]
        text = text.replace(anchor, anchor + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in node_ids), 1)
    return text.encode()


def only_problem(rt, data: bytes) -> DeploymentRejected:
    """The editor's check finds exactly one problem, and deploy refuses with the same sentence."""
    problems = diagram_problems(rt, data)
    assert len(problems) == 1, [p.message for p in problems]
    with pytest.raises(DeploymentRejected) as refused:
        check_diagram(rt, data)
    assert refused.value.message == problems[0].message
    return problems[0]


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.name)
def test_every_diagram_of_the_library_has_no_problem(sqlite_rt, path):
    assert diagram_problems(sqlite_rt, path.read_bytes()) == []


def test_an_unknown_role_is_marked_on_its_lane(sqlite_rt):
    problem = only_problem(sqlite_rt, edit('<bpmn:lane id="egov_center"', '<bpmn:lane id="webmaster"')
                           .decode().replace("bpmnElement=\"egov_center\"", "bpmnElement=\"webmaster\"").encode())
    assert problem.element_id == "webmaster"
    assert "不是已知角色" in problem.message and "signer" in problem.message


def test_an_expression_that_is_not_allowed_is_marked_on_its_flow(sqlite_rt):
    data = edit("<bpmn:conditionExpression>target_kind == 'wechat'</bpmn:conditionExpression>",
                "<bpmn:conditionExpression>__import__('os').system('id')</bpmn:conditionExpression>")
    problem = only_problem(sqlite_rt, data)
    assert problem.element_id == "f_target_wechat"
    assert "表达式不被允许" in problem.message


@pytest.mark.parametrize("expression, why", [
    ("add_working_days(start, 'three')", "无法计算"),
    ("'P30X'", "不是合法的 ISO-8601"),
    ("add_work_days(start, 3)", "未登记的函数"),
])
def test_a_timer_that_does_not_evaluate_is_marked_on_its_event(sqlite_rt, expression, why):
    data = add_to_process(
        '<bpmn:boundaryEvent id="sign_overdue" attachedToRef="sign" cancelActivity="false">'
        '<bpmn:outgoing>f_overdue</bpmn:outgoing><bpmn:timerEventDefinition id="sign_overdue_def">'
        f'<bpmn:timeDate>{expression}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="overdue_end"><bpmn:incoming>f_overdue</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f_overdue" sourceRef="sign_overdue" targetRef="overdue_end" />',
        "signer", "sign_overdue", "overdue_end")
    problem = only_problem(sqlite_rt, data)
    assert problem.element_id == "sign_overdue"
    assert why in problem.message


def test_a_calendar_timer_of_three_working_days_passes(sqlite_rt):
    data = add_to_process(
        '<bpmn:boundaryEvent id="sign_overdue" attachedToRef="sign" cancelActivity="false">'
        '<bpmn:outgoing>f_overdue</bpmn:outgoing><bpmn:timerEventDefinition id="sign_overdue_def">'
        '<bpmn:timeDate>add_working_days(start, 3)</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="overdue_end"><bpmn:incoming>f_overdue</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f_overdue" sourceRef="sign_overdue" targetRef="overdue_end" />',
        "signer", "sign_overdue", "overdue_end")
    assert diagram_problems(sqlite_rt, data) == []


def test_an_unreachable_task_is_marked_with_a_sentence_that_says_so(sqlite_rt):
    data = add_to_process('<bpmn:userTask id="orphan" name="孤立环节" />', "signer", "orphan")
    problem = only_problem(sqlite_rt, data)
    assert problem.element_id == "orphan"
    assert problem.message == "元素 orphan（孤立环节）无法从开始事件到达，请用连线把它接入流程或删除它。"


def test_everything_downstream_of_an_unreachable_element_is_marked_too(sqlite_rt):
    data = add_to_process('<bpmn:userTask id="orphan" name="孤立环节"><bpmn:outgoing>f_orphan</bpmn:outgoing></bpmn:userTask>'
                          '<bpmn:endEvent id="orphan_end"><bpmn:incoming>f_orphan</bpmn:incoming></bpmn:endEvent>'
                          '<bpmn:sequenceFlow id="f_orphan" sourceRef="orphan" targetRef="orphan_end" />',
                          "signer", "orphan", "orphan_end")
    assert sorted(p.element_id for p in diagram_problems(sqlite_rt, data)) == ["orphan", "orphan_end"]


def test_a_boundary_event_is_reached_with_its_task(sqlite_rt):
    data = add_to_process(
        '<bpmn:boundaryEvent id="sign_overdue" attachedToRef="sign" cancelActivity="false">'
        '<bpmn:outgoing>f_overdue</bpmn:outgoing><bpmn:timerEventDefinition id="d">'
        '<bpmn:timeDuration>\'P3D\'</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="overdue_end"><bpmn:incoming>f_overdue</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f_overdue" sourceRef="sign_overdue" targetRef="overdue_end" />',
        "signer", "sign_overdue", "overdue_end")
    assert diagram_problems(sqlite_rt, data) == []


def test_a_user_task_without_a_lane_is_marked_on_the_task(sqlite_rt):
    data = edit('<bpmn:flowNodeRef>review</bpmn:flowNodeRef>', '')
    problem = only_problem(sqlite_rt, data)
    assert problem.element_id == "review"
    assert "不在任何泳道中" in problem.message


def test_the_editor_gets_every_problem_at_once_each_on_its_element(sqlite_rt):
    """Deploy stops at the first problem; the editor's check lists all of them with their elements."""
    text = BASE.replace('<bpmn:lane id="egov_center"', '<bpmn:lane id="webmaster"')
    text = text.replace("<bpmn:conditionExpression>target_kind == 'wechat'</bpmn:conditionExpression>",
                        "<bpmn:conditionExpression>open('/etc/passwd')</bpmn:conditionExpression>")
    text = text.replace("<bpmn:flowNodeRef>revise</bpmn:flowNodeRef>", "")
    data = add_to_process('<bpmn:userTask id="orphan" name="孤立环节" />', "signer", "orphan", text=text)
    problems = diagram_problems(sqlite_rt, data)
    assert {p.element_id for p in problems} == {"webmaster", "f_target_wechat", "revise", "orphan"}
    assert all(p.message.endswith("。") for p in problems)
    with pytest.raises(DeploymentRejected) as refused:
        check_diagram(sqlite_rt, data)
    assert refused.value.message in [p.message for p in problems]


def test_a_file_that_is_not_safe_xml_is_one_problem_without_an_element(sqlite_rt):
    data = BASE.replace('<?xml version="1.0" encoding="UTF-8"?>',
                        '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
                        1).encode()
    problems = diagram_problems(sqlite_rt, data)
    assert len(problems) == 1 and problems[0].element_id is None
    assert "DOCTYPE" in problems[0].message


def test_an_unknown_form_is_marked_on_its_task(sqlite_rt):
    data = edit('<spiffworkflow:property name="form" value="content_revision" />',
                '<spiffworkflow:property name="form" value="no_such_form" />')
    problem = only_problem(sqlite_rt, data)
    assert problem.element_id == "revise"
