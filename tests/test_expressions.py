"""Safe expressions: the allow-list, the interpreter, and SpiffWorkflow running through them."""

import os
from datetime import date, timedelta

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.exceptions import ExpressionFailed, ExpressionRejected
from engine.expressions import SafeEnvironment, SafeScriptEngine, check_expression, evaluate_expression


def add_days(start, days):
    return start + timedelta(days=days)


FUNCTIONS = {"add_days": add_days}


@pytest.mark.parametrize(
    ("expression", "context", "expected"),
    [
        ("outcome == 'pass'", {"outcome": "pass"}, True),
        ("outcome == 'pass'", {"outcome": "fail"}, False),
        ("target_kind in ['portal', 'wechat']", {"target_kind": "wechat"}, True),
        ("target_kind not in ('portal', 'wechat')", {"target_kind": "weibo"}, True),
        ("not returned and count >= 3", {"returned": False, "count": 3}, True),
        ("not returned and count >= 3", {"returned": True, "count": 3}, False),
        ("a if cond else b", {"a": 1, "b": 2, "cond": True}, 1),
        ("a if cond else b", {"a": 1, "b": 2, "cond": False}, 2),
        ("data['x']", {"data": {"x": 42}}, 42),
        ("items[-1]", {"items": [1, 2, 3]}, 3),
        ("items[1:]", {"items": [1, 2, 3]}, [2, 3]),
        ("(count + 1) * 2 - 3 // 2 % 5", {"count": 4}, 9),
        ("1 < count <= 5", {"count": 5}, True),
        ("value is None", {"value": None}, True),
        ("{'k': [1, 2], 'n': -count}", {"count": 1}, {"k": [1, 2], "n": -1}),
        ("'ab' * 3", {}, "ababab"),
    ],
)
def test_allowed_expressions_evaluate_like_python(expression, context, expected):
    assert evaluate_expression(expression, context, {}) == expected


def test_a_registered_function_can_be_called():
    result = evaluate_expression("add_days(start, 5)", {"start": date(2024, 1, 1)}, FUNCTIONS)
    assert result == date(2024, 1, 6)


def test_and_or_and_if_else_short_circuit_before_an_undefined_name():
    assert evaluate_expression("False and missing", {}, {}) is False
    assert evaluate_expression("1 or missing", {}, {}) == 1
    assert evaluate_expression("'yes' if True else missing", {}, {}) == "yes"


def test_task_data_wins_over_data_objects_in_the_environment():
    environment = SafeEnvironment()
    assert environment.evaluate("x", {"x": "task"}, {"x": "data object", "y": 2}) == "task"
    assert environment.evaluate("y", {"x": "task"}, {"x": "data object", "y": 2}) == 2


HOSTILE = [
    "__import__('os').system('id')",
    "().__class__.__base__.__subclasses__()",
    "open('/etc/passwd').read()",
    "(lambda: 1)()",
    "[x for x in range(10)]",
    "getattr(x, 'y')",
    "_secret",
    "f'{x}'",
    "9**9**9",
    "exec('1')",
    "eval('1')",
    "'" + "a" * 598 + "'",  # 600 characters
    "(x := 1)",
    "b'bytes'",
    "add_days(*args)",
    "add_days(**kwargs)",
    "x[y + 1]",
    "1 << 100000",
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_expressions_are_refused_before_anything_runs(expression):
    touched = []

    class Spy(dict):
        def __contains__(self, key):
            touched.append(key)
            return super().__contains__(key)

        def __getitem__(self, key):
            touched.append(key)
            return super().__getitem__(key)

    with pytest.raises(ExpressionRejected):
        evaluate_expression(expression, Spy(x=1, y=2, args=[], kwargs={}), FUNCTIONS)
    assert touched == []


def test_the_600_character_expression_really_is_600_characters():
    assert len(HOSTILE[11]) == 600


def test_a_refusal_names_what_is_not_allowed():
    with pytest.raises(ExpressionRejected) as info:
        check_expression("().__class__", [])
    assert "属性访问（.__class__）" in info.value.message
    assert "attribute access (.__class__)" in info.value.message_en


def test_a_syntax_error_is_a_refusal_with_the_detail():
    with pytest.raises(ExpressionRejected) as info:
        check_expression("outcome ==", [])
    assert "不是合法的表达式" in info.value.message


def test_too_deep_nesting_is_refused():
    with pytest.raises(ExpressionRejected, match="嵌套过深"):
        check_expression("-" * 60 + "1", [])


def test_an_undefined_name_fails_with_the_name_in_the_message():
    with pytest.raises(ExpressionFailed) as info:
        evaluate_expression("outcome == 'pass'", {}, {})
    assert "“outcome”未定义" in info.value.message
    assert '"outcome" is not defined' in info.value.message_en


@pytest.mark.parametrize(
    ("expression", "context", "words"),
    [
        ("1/0", {}, "除以零"),
        ("data['missing']", {"data": {}}, "找不到键"),
        ("items[5]", {"items": []}, "超出了范围"),
        ("'a' + 1", {}, "无法计算"),
        ("'a' * 1000000", {}, "过长"),
        ("[1] * 10000 * 10000", {}, "过长"),
        ("'%999999999d' % 1", {}, "格式化"),
    ],
)
def test_an_allowed_expression_that_cannot_be_evaluated_fails_plainly(expression, context, words):
    with pytest.raises(ExpressionFailed, match=words):
        evaluate_expression(expression, context, {})


def test_scripts_never_run_in_the_environment():
    with pytest.raises(ExpressionRejected, match="脚本不被允许执行"):
        SafeEnvironment().execute("x = 1", {})


def test_a_service_call_without_a_caller_fails():
    with pytest.raises(ExpressionFailed):
        SafeEnvironment().call_service({}, operation_name="publish", operation_params={})


def test_a_service_call_reaches_the_caller_and_its_errors_propagate_unchanged():
    calls = []

    def caller(name, params, context):
        calls.append((name, params, context))
        return '{"ok": true}'

    assert SafeEnvironment(service_caller=caller).call_service({"a": 1}, operation_name="p", operation_params={}) == (
        '{"ok": true}'
    )
    assert calls == [("p", {}, {"a": 1})]

    def broken(name, params, context):
        raise RuntimeError("network down")

    engine = SafeScriptEngine(service_caller=broken)

    class FakeTask:
        data = {}

    with pytest.raises(RuntimeError, match="network down"):
        engine.call_service(FakeTask(), operation_name="p", operation_params={})


def test_the_engine_validates_against_its_registered_functions():
    engine = SafeScriptEngine(functions=FUNCTIONS)
    engine.validate("add_days(start, 1)")
    with pytest.raises(ExpressionRejected):
        engine.validate("remove_days(start, 1)")


def gateway_diagram(condition_yes: str, condition_no: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="defs" targetNamespace="http://govflow.test">
  <bpmn:process id="proc_id" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="gate">
      <bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f_yes</bpmn:outgoing>
      <bpmn:outgoing>f_no</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_yes"><bpmn:incoming>f_yes</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_no"><bpmn:incoming>f_no</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gate" />
    <bpmn:sequenceFlow id="f_yes" sourceRef="gate" targetRef="end_yes">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition_yes}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="gate" targetRef="end_no">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition_no}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>""".encode()


def start_workflow(xml: bytes, data: dict) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml), filename="t.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("proc_id"), script_engine=SafeScriptEngine())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    workflow.do_engine_steps()
    return workflow


def completed_ends(workflow: BpmnWorkflow) -> set[str]:
    return {
        task.task_spec.bpmn_id
        for task in workflow.get_tasks(state=TaskState.COMPLETED)
        if task.task_spec.bpmn_id in ("end_yes", "end_no")
    }


def test_a_gateway_condition_routes_through_the_safe_engine():
    xml = gateway_diagram("x == 1", "x != 1")
    assert completed_ends(start_workflow(xml, {"x": 1})) == {"end_yes"}
    assert completed_ends(start_workflow(xml, {"x": 2})) == {"end_no"}


def test_a_hostile_gateway_condition_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned_govflow"
    xml = gateway_diagram(f"__import__('os').system('touch {marker}')", "True")
    with pytest.raises(ExpressionRejected):
        start_workflow(xml, {})
    assert not os.path.exists(marker)
    assert not os.path.exists("/tmp/pwned_govflow")
