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


def test_loading_restores_every_demo_instance_exactly_as_spiffworkflow_itself_restores_it(sqlite_rt):
    """engine.serialization restores task trees itself (each task id parsed once per load, not three
    times); for every instance of the demo's work in flight — every process, timers waiting, gateways,
    multi-instance steps, call activities — the restored workflow must be the one SpiffWorkflow's own
    converter restores: same tasks, parents, children, states, data, internal data and timers."""
    from engine.demo import seed_demo_work
    from engine.instances import _SETTLED_TASKS
    from engine.serialization import _SERIALIZER, _tree_order, dump_workflow_whole

    assert seed_demo_work(sqlite_rt) > 20
    compared = 0
    with reading(sqlite_rt.session_factory) as session:
        for row in session.scalars(select(ProcessInstance)):
            compiled = sqlite_rt.definitions.get(session, row.definition_id)
            ours = stored_workflow(session, row, compiled)
            settled = dict(_SETTLED_TASKS.all(session, {"instance_id": row.id}))
            dct = json.loads(row.state, cls=_SERIALIZER.json_decoder_cls)
            dct.pop("format")
            decoder = _SERIALIZER.json_decoder_cls
            dct["tasks"] = _tree_order({**{k: json.loads(v, cls=decoder) for k, v in settled.items()},
                                        **dct["tasks"]}, dct["root"])
            dct["spec"], dct["subprocess_specs"] = compiled.spec, dict(compiled.subprocess_specs)
            theirs = _upstream_restore(dct)
            assert json.loads(dump_workflow_whole(ours)) == json.loads(dump_workflow_whole(theirs)), row.title
            assert [t.id for t in ours.get_tasks()] == [t.id for t in theirs.get_tasks()]
            compared += 1
    assert compared > 20


def _upstream_restore(dct):
    """SpiffWorkflow's own BpmnWorkflowConverter.from_dict on the same dictionary, with a registry of
    its own (a converter registers itself: on the engine's registry it would replace ours)."""
    from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    from engine.serialization import _build_serializer

    return BpmnWorkflowConverter(BpmnWorkflow, _build_serializer().registry).from_dict(dct)
