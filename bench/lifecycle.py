"""Lifecycle benchmark: durable engine throughput against bare SpiffWorkflow in memory.

Prints figures, asserts nothing (run by `make bench`). Measured in one run:
  1. durable: submit → review → sign → published, through the engine, persisted to SQLite;
  2. in memory: the same diagram on bare SpiffWorkflow, parsed once, serialized after each step;
  3. their ratio (target ≥ 0.5) and stored state bytes per instance;
  4. a 10-step and a 300-step instance through the engine (target: t300 ≤ 1.5 × 30 × t10).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import TaskState
from sqlalchemy import select

from db.migrate import upgrade
from db.models import HumanTask, ProcessInstance, User
from db.session import reading
from engine import (
    Actor,
    ManualClock,
    complete_task,
    deploy,
    deploy_directory,
    make_runtime,
    seed_demo,
    start_process,
    submit_content,
)
from engine.accounts import hash_password
from engine.expressions import SafeScriptEngine
from engine.functions import EXPRESSION_FUNCTIONS
from engine.parsing import build_parser, parse_safely
from engine.serialization import dump_workflow

ROOT = Path(__file__).resolve().parent.parent
CONTENT_REVIEW = ROOT / "processes" / "content_review.bpmn"


def fresh_runtime(directory: Path):
    url = f"sqlite:///{directory / 'bench.db'}"
    upgrade(url)
    rt = make_runtime(url, ManualClock())
    deploy_directory(rt, ROOT / "processes", deployed_by="bench")
    seed_demo(rt, password_hash=hash_password("bench"))
    with reading(rt.session_factory) as session:
        actors = {u.username: Actor(u.id) for u in session.scalars(select(User))}
    return rt, actors


def ready_task(rt, instance_id: int) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.state == "ready"))


def durable_run(rt, actors, count: int) -> tuple[float, list[int]]:
    started = time.perf_counter()
    ids = []
    for number in range(count):
        iid = submit_content(rt, actors["zhangsan"], title=f"基准稿件 {number}", body="正文",
                             target_kind="wechat", target_name="区教育发布")
        complete_task(rt, ready_task(rt, iid), actors["lisi"], outcome="pass", opinion="同意")
        complete_task(rt, ready_task(rt, iid), actors["wangwu"], outcome="pass", opinion="签发")
        ids.append(iid)
    return time.perf_counter() - started, ids


def memory_run(count: int) -> tuple[float, BpmnWorkflow]:
    spec, subprocess_specs = build_parser(parse_safely(CONTENT_REVIEW.read_bytes()), "content_review")
    engine = SafeScriptEngine(functions=EXPRESSION_FUNCTIONS, service_caller=lambda *a: '{"published": true}')
    started = time.perf_counter()
    workflow = None
    for number in range(count):
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
        workflow.get_tasks(state=TaskState.READY)[0].data.update({"content_id": number, "target_kind": "wechat"})
        workflow.do_engine_steps()
        dump_workflow(workflow)
        for _ in range(2):  # review, sign
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data["outcome"] = "pass"
            task.run()
            workflow.do_engine_steps()
            dump_workflow(workflow)
        assert workflow.is_completed()
    return time.perf_counter() - started, workflow


def chain_diagram(steps: int) -> bytes:
    tasks = "".join(f'<bpmn:userTask id="t{i}" name="步骤 {i}" />' for i in range(steps))
    refs = "".join(f"<bpmn:flowNodeRef>t{i}</bpmn:flowNodeRef>" for i in range(steps))
    chain = ["start", *(f"t{i}" for i in range(steps)), "end"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
                    for i, (a, b) in enumerate(zip(chain, chain[1:], strict=False)))
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
            f' id="d" targetNamespace="http://govflow.local/bench"><bpmn:process id="chain_{steps}" isExecutable="true">'
            f'<bpmn:laneSet id="ls"><bpmn:lane id="editor" name="编辑"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>{refs}'
            f'<bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet><bpmn:startEvent id="start" />'
            f'{tasks}<bpmn:endEvent id="end" />{flows}</bpmn:process></bpmn:definitions>').encode()


def long_instance(rt, actor, steps: int) -> float:
    started = time.perf_counter()
    iid = start_process(rt, f"chain_{steps}", actor, title=f"{steps} 步", business_key=f"bench:{steps}")
    for _ in range(steps):
        complete_task(rt, ready_task(rt, iid), actor, outcome="done")
    elapsed = time.perf_counter() - started
    with reading(rt.session_factory) as session:
        assert session.get(ProcessInstance, iid).status == "completed"
    return elapsed


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    durable, memory, long10, long300 = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        rt, actors = fresh_runtime(Path(tmp))
        for steps in (10, 300):
            deploy(rt, chain_diagram(steps), deployed_by="bench")
        durable_run(rt, actors, 20)  # warm-up: caches, SQLite pages
        memory_run(20)
        for _ in range(args.repeat):
            seconds, ids = durable_run(rt, actors, args.instances)
            durable.append(args.instances / seconds)
            seconds, workflow = memory_run(args.instances)
            memory.append(args.instances / seconds)
            long10.append(long_instance(rt, actors["zhangsan"], 10))
            long300.append(long_instance(rt, actors["zhangsan"], 300))
        with reading(rt.session_factory) as session:
            stored = statistics.mean(len(session.get(ProcessInstance, iid).state.encode()) for iid in ids)
        full = len(BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG)).serialize_json(workflow))

    durable_rate, memory_rate = statistics.median(durable), statistics.median(memory)
    ratio = durable_rate / memory_rate
    t10, t300 = statistics.median(long10), statistics.median(long300)
    growth = t300 / t10
    print(f"GovFlow lifecycle benchmark — {args.instances} instances × {args.repeat} runs (median)")
    print(f"  durable (engine + SQLite)      {durable_rate:8.1f} instances/s")
    print(f"  in memory (bare SpiffWorkflow) {memory_rate:8.1f} instances/s")
    print(f"  ratio durable / in memory      {ratio:8.2f}   target ≥ 0.50  {verdict(ratio >= 0.5)}")
    print(f"  stored state per instance      {stored:8.0f} bytes (stock serializer with spec: {full} bytes)")
    print(f"  10-step instance               {t10 * 1000:8.1f} ms")
    print(f"  300-step instance              {t300 * 1000:8.1f} ms")
    print(f"  300-step / 10-step             {growth:8.1f}   target ≤ 45 (1.5 × 30)  {verdict(growth <= 45)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
