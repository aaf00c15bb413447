"""The operations diagrams pass the administrator's validator, and an edit that breaks one is refused."""

import pytest

from engine import DeploymentRejected, check_diagram, deploy
from tests.conftest import PROCESSES

DIAGRAMS = ["content_review", "citizen_message", "public_opinion", "public_consultation"]


@pytest.mark.parametrize("key", DIAGRAMS)
def test_each_operations_diagram_passes_every_deploy_check(sqlite_rt, key):
    diagram = check_diagram(sqlite_rt, (PROCESSES / f"{key}.bpmn").read_bytes())
    assert diagram.key == key


@pytest.mark.parametrize(("key", "old", "new", "element"), [
    ("citizen_message", "add_half_working_day(start, policy['office_start_minutes'], policy['office_end_minutes'])",
     "add_half_working_day(start, 'nine', 1050)", "initial_review_late"),
    ("citizen_message", "message_type == 'error_report'", "__import__('os').system('id')", None),
    ("content_review", "add_hours(start, policy['repost_hours'])", "add_hours(start, policy['no_such_value'])",
     "repost_deadline"),
    ("public_consultation", 'serviceTaskOperator id="register_approval_form"', 'serviceTaskOperator id="shell"',
     "register_form"),
])
def test_a_broken_operations_diagram_is_refused_naming_the_element(sqlite_rt, key, old, new, element):
    text = (PROCESSES / f"{key}.bpmn").read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(DeploymentRejected) as refused:
        deploy(sqlite_rt, text.replace(old, new).encode(), deployed_by="tests")
    if element:
        assert element in refused.value.message or refused.value.element_id == element
