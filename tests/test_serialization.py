"""Stored state: no spec inside, only state this engine wrote is ever loaded."""

import json

import pytest
from sqlalchemy import select

from db.models import ProcessInstance
from db.session import reading
from engine import GovFlowError, InvalidInput, submit_content
from engine.instances import stored_workflow
from engine.serialization import load_workflow


def _submit(rt, users):
    return submit_content(rt, users["zhangsan"], title="标题", body="正文", target_kind="wechat", target_name="号")


def test_stored_state_holds_a_spec_reference_not_the_spec(sqlite_rt, sqlite_users):
    instance_id = _submit(sqlite_rt, sqlite_users)
    with reading(sqlite_rt.session_factory) as session:
        state = json.loads(session.get(ProcessInstance, instance_id).state)
    assert "spec" not in state and "subprocess_specs" not in state
    assert state["format"].startswith("govflow-")


def test_a_blob_in_another_format_is_refused_before_anything_is_interpreted(sqlite_rt, sqlite_users):
    """The upstream 1.1 migration calls eval(): a crafted blob must never reach it."""
    instance_id = _submit(sqlite_rt, sqlite_users)
    with reading(sqlite_rt.session_factory) as session:
        compiled = sqlite_rt.definitions.get(session, session.get(ProcessInstance, instance_id).definition_id)
        spec, subs = compiled.spec, compiled.subprocess_specs
    crafted = json.dumps({"serializer_version": "1.1", "spec": "__import__('os').system('id')"})
    with pytest.raises(GovFlowError, match="存储格式无法识别"):
        load_workflow(crafted, spec, subs)


@pytest.mark.parametrize("data", [{"typename": "BpmnWorkflow"}, {"a": {"typename": "x"}}, {"a": [{"typename": "x"}]}])
def test_submitted_data_with_a_typename_key_is_refused(sqlite_rt, sqlite_users, data):
    with pytest.raises(InvalidInput, match="typename"):
        from engine import start_process

        start_process(sqlite_rt, "content_review", sqlite_users["zhangsan"], title="t", business_key="k", data=data)
    with reading(sqlite_rt.session_factory) as session:
        assert session.scalar(select(ProcessInstance.id)) is None


def test_state_round_trips_through_a_fresh_spec_cache(sqlite_rt, sqlite_users):
    from engine.specs import DefinitionCache

    instance_id = _submit(sqlite_rt, sqlite_users)
    with reading(sqlite_rt.session_factory) as session:
        row = session.get(ProcessInstance, instance_id)
        compiled = DefinitionCache().get(session, row.definition_id)
        workflow = stored_workflow(session, row, compiled)
    ready = [t.task_spec.bpmn_id for t in workflow.get_tasks() if t.state == 16]  # TaskState.READY
    assert ready == ["review"]
