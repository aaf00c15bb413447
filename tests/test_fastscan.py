"""engine/fastscan.py answers SpiffWorkflow's state queries by a scan instead of a tree walk: the
same answers (the suite checks every scan against the walk, GOVFLOW_VERIFY_STATE), and parallel
branches, where the walk's order matters, still go through the walk."""

from pathlib import Path

from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.workflow import Workflow

from engine import complete_task, deploy, fastscan, start_process
from tests.helpers import instance, ready

FIXTURES = Path(__file__).parent / "fixtures"


def test_two_parallel_steps_are_both_in_the_inbox_and_the_join_waits_for_both(rt, users):
    deploy(rt, (FIXTURES / "parallel_checks.bpmn").read_bytes(), deployed_by="tests")
    iid = start_process(rt, "parallel_checks", users["zhangsan"], title="并行核对", business_key="parallel:1")
    open_tasks = ready(rt, iid)
    assert set(open_tasks) == {"check_text", "check_links"}
    complete_task(rt, open_tasks["check_links"].id, users["zhangsan"], outcome="done")
    assert set(ready(rt, iid)) == {"check_text"} and instance(rt, iid).status == "running"
    complete_task(rt, open_tasks["check_text"].id, users["zhangsan"], outcome="done")
    assert ready(rt, iid) == {} and instance(rt, iid).status == "completed"


def test_uninstall_gives_back_spiffworkflows_own_walks_and_install_takes_them_again():
    try:
        fastscan.uninstall()
        assert BpmnBaseWorkflow.get_tasks is Workflow.get_tasks
        assert BpmnBaseWorkflow.is_completed is Workflow.is_completed
    finally:
        fastscan.install()
    assert BpmnBaseWorkflow.get_tasks is not Workflow.get_tasks
